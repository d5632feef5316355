"""The names of the trace formats ``read_traces`` reads.

A leaf module, so that the command line can offer the choices without importing the
readers (Polars, PyArrow) before it knows which command runs.
"""

from __future__ import annotations

from typing import Final

__all__ = ["FORMATS"]

FORMATS: Final = ("jsonl", "json", "otlp", "parquet", "mlflow-db", "mlflow-files")
