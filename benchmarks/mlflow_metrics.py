"""The metrics benchmark's query through MLflow's own trace-metrics API.

MLflow 3.x answers "how are we doing?" with ``SqlAlchemyStore.query_trace_metrics``
(``mlflow/store/tracking/sqlalchemy_store.py``; the REST server's
``/traces/metrics`` calls it): one metric of one view (traces, spans or
assessments) per call, with aggregations, a few fixed dimensions, ``trace.*``
equality filters and time buckets. Its trace-count metric can be split by
``trace_status`` and its latency metric by ``trace_name`` only, so a tag cannot be
a dimension: "count, error_rate, p95(latency) by tags.environment every hour" is,
for each environment, one ``trace_count`` call by status and one ``latency`` P95
call, both filtered on ``trace.tag.environment = '<env>'``, bucketed hourly
(``floor(timestamp_ms / 3600000) * 3600000``, as polartrace buckets). The error
rate is the ``ERROR`` count over the hour's total. SQLite has no percentile
function: MLflow registers a Python aggregate that sorts the values and
interpolates linearly at rank ``p * (n - 1)``, the interpolation polartrace uses.
Traces without a latency (in progress) are skipped by the P95, as polartrace skips
them; a group none of whose traces has the tag is not expressible (the generated
data tags every trace). MLflow's store has no pages for this call; ``max_results``
is raised past the row count.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import polars as pl

_HOUR_S = 3_600
_ALL = 10_000_000


def _epoch_ms(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).timestamp() * 1000)


class MlflowMetrics:
    """The benchmark query on MLflow's SQLite store, answered by MLflow."""

    def __init__(self, path: Path, experiment_id: str, environments: list[str]):
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{path}")
        self.store: Any = client._tracking_client.store
        self.experiment_id = experiment_id
        self.environments = environments
        con = sqlite3.connect(path)
        try:
            lo, hi = con.execute(
                "SELECT min(timestamp_ms), max(timestamp_ms) FROM trace_info"
            ).fetchone()
        finally:
            con.close()
        self.range = (int(lo), int(hi))

    def _call(self, metric: str, aggregation: Any, env: str, **kw: Any) -> list[Any]:
        from mlflow.entities.trace_metrics import MetricViewType

        return list(
            self.store.query_trace_metrics(
                experiment_ids=[self.experiment_id],
                view_type=MetricViewType.TRACES,
                metric_name=metric,
                aggregations=[aggregation],
                filters=[f"trace.tag.environment = '{env}'"],
                time_interval_seconds=_HOUR_S,
                start_time_ms=self.range[0],
                end_time_ms=self.range[1],
                max_results=_ALL,
                **kw,
            )
        )

    def query(self) -> pl.DataFrame:
        """``time`` (epoch ms), ``env``, ``count``, ``error_rate``, ``p95``; sorted."""
        from mlflow.entities.trace_metrics import AggregationType, MetricAggregation
        from mlflow.tracing.constant import TraceMetricDimensionKey, TraceMetricKey

        count = MetricAggregation(AggregationType.COUNT)
        p95 = MetricAggregation(AggregationType.PERCENTILE, 95.0)
        status = TraceMetricDimensionKey.TRACE_STATUS
        rows: dict[tuple[int, str], list[Any]] = {}
        for env in self.environments:
            for point in self._call(
                TraceMetricKey.TRACE_COUNT, count, env, dimensions=[status]
            ):
                key = (_epoch_ms(point.dimensions["time_bucket"]), env)
                row = rows.setdefault(key, [0, 0, None])
                n = int(point.values[str(count)])
                row[0] += n
                if point.dimensions[status] == "ERROR":
                    row[1] += n
            for point in self._call(TraceMetricKey.LATENCY, p95, env):
                key = (_epoch_ms(point.dimensions["time_bucket"]), env)
                rows[key][2] = float(point.values[str(p95)])
        return pl.DataFrame(
            [(t, env, n, errors / n, p) for (t, env), (n, errors, p) in rows.items()],
            schema={
                "time": pl.Int64,
                "env": pl.String,
                "count": pl.Int64,
                "error_rate": pl.Float64,
                "p95": pl.Float64,
            },
            orient="row",
        ).sort("time", "env")
