"""Automatic tracing of third-party clients.

Each integration is a module with an ``autolog(disable=False)`` function that patches
the client library so that its calls become spans, as MLflow's ``autolog`` does:

- `polartrace.tracing.integrations.openai` (also `polartrace.openai`): the official
  ``openai`` client's chat completions, sync and async, streaming included.

The client libraries are optional: an integration imports its library only when
``autolog`` is called.
"""

__all__: list[str] = []
