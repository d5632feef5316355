"""``polartrace.openai.autolog()``: trace the OpenAI client, as ``mlflow.openai``.

This module is an alias of `polartrace.tracing.integrations.openai`, so that code
written for MLflow reads the same: ``mlflow.openai.autolog()`` becomes
``polartrace.openai.autolog()``.
Importing it does not import ``openai``; `autolog` does.
"""

from polartrace.tracing.integrations.openai import autolog

__all__ = ["autolog"]
