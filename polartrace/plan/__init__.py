"""The search plan: what a search computes, as data that no stage executes.

`polartrace.plan.search.plan_search` turns a bound filter (`polartrace.bind`), the
bound ``order_by`` keys and a page (offset, limit) into a frozen `SearchPlan`:

* ``where``, a tree of ``And``/``Or``/``Not`` over five leaves: ``ColumnTest`` (a
  bound condition on a trace column: info field, tag, metadata), ``SpanMatch`` (some
  span satisfies all its conditions: a semi-join on spans), ``AssessmentMatch`` (some
  valid assessment of a kind and name exists, or passes a test; session-scoped ones
  included), ``TextMatch`` (some full-text unit passes a test) and ``PromptMatch``
  (the trace links one of these prompt versions);
* ``order``, the ``order_by`` keys followed by MLflow's tie-breaks (``timestamp_ms
  DESC``, ``request_id ASC``) that they do not name; ``offset`` and ``limit``.

Every engine implements one small protocol (`polartrace.engines.base.Engine`):
``count(plan) -> int`` and ``keys(plan) -> list[int]`` (the page's trace keys in
order). `PolarsEngine` runs a plan on an in-memory ``TraceFrame``, `LazyEngine` on a
scanned Parquet dataset, `ReferenceEngine` in plain Python over ``Trace`` objects,
ordering and paging on its own. The api (`polartrace.api.search`) binds, plans, asks
an engine for keys and builds the output (`polartrace.output`) from them; a new
executor (e.g. Spark) is one more class with these two methods. Page tokens
(`polartrace.plan.paging`) name the offset of the next page.
"""
