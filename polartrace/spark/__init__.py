"""polartrace on Apache Spark: the same filters, searches and metrics, distributed.

Install the extra (``pip install 'polartrace-query[spark]'``). A Spark DataFrame
with one row per trace (the shape of `polartrace.spark.layout`) is searched by
polartrace's own Polars engine on every partition, through ``mapInArrow``, so the
answers are the in-memory engine's::

    from polartrace import spark as pts

    df = pts.read_dataset(spark, "traces.parquet")  # polartrace convert's output
    pts.count(df, "status = 'ERROR' AND tags.environment = 'production'")
    pts.search_traces(df, "span.type = 'LLM'", order_by=["execution_time DESC"],
                      max_results=100, return_type="pandas")
    pts.metrics(df, metrics=["count", "p95(latency)"], group_by="status")

`read_dataset` reads polartrace's Parquet dataset, `read_archive` MLflow's
trace-archive shape, `to_spark` frames or traces in memory. docs/scaling.md says
when to use which engine. Importing this module imports pyspark; ``import
polartrace`` does not.
"""

from __future__ import annotations

from polartrace.spark.api import count, metrics, search_traces
from polartrace.spark.archive import read_archive
from polartrace.spark.dataset import read_dataset, to_spark

__all__ = [
    "count",
    "metrics",
    "read_archive",
    "read_dataset",
    "search_traces",
    "to_spark",
]
