"""`scan_traces`: search a Parquet dataset bigger than memory.

A `LazyTraceFrame` is a scanned dataset (`polartrace.engines.lazy.ScannedTraces`)
with ``count`` and ``search`` conveniences; `polartrace.search_traces`,
`polartrace.count`, `polartrace.search_spans` and `polartrace.search_assessments`
accept it as their ``traces`` and run the lazy engine on it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from polartrace.api.search import ReturnType, count, search_traces
from polartrace.engines.lazy import ScannedTraces

__all__ = ["LazyTraceFrame", "scan_traces"]


class LazyTraceFrame(ScannedTraces):
    """A polartrace Parquet dataset, searched without loading it into memory.

    Example:
        >>> import pathlib, tempfile
        >>> from polartrace import Trace, TraceInfo
        >>> from polartrace.io import write_parquet
        >>> t = Trace(TraceInfo(trace_id="tr-1", request_time=0, state="OK"))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = write_parquet([t], pathlib.Path(tmp) / "ds")
        ...     lazy = LazyTraceFrame(pathlib.Path(tmp) / "ds")
        ...     lazy.count("status = 'OK'"), lazy.count("span.name = 'x'")
        (1, 0)
    """

    def count(
        self,
        filter_string: str | None = None,
        *,
        locations: Sequence[str] | None = None,
        experiment_ids: Sequence[str] | None = None,
        run_id: str | None = None,
        model_id: str | None = None,
    ) -> int:
        """Count the matching traces, streaming the dataset; as `polartrace.count`.

        Raises:
            FilterError: For a rejected filter.
            SearchArgumentError: For a bad restriction argument.
        """
        return count(
            self,
            filter_string,
            locations=locations,
            experiment_ids=experiment_ids,
            run_id=run_id,
            model_id=model_id,
        )

    def search(
        self,
        filter_string: str | None = None,
        *,
        order_by: Sequence[str] | str | None = None,
        max_results: int | None = None,
        page_token: str | None = None,
        return_type: ReturnType = "pandas",
        include_spans: bool = True,
        locations: Sequence[str] | None = None,
        experiment_ids: Sequence[str] | None = None,
        run_id: str | None = None,
        model_id: str | None = None,
        extract_fields: Sequence[str] | None = None,
        columns: Sequence[str] | str | None = None,
    ) -> Any:
        """Search the dataset; arguments and results as `polartrace.search_traces`.

        Raises:
            FilterError: For a rejected filter.
            OrderByError: For a bad ``order_by`` entry.
            ColumnError: For a bad ``columns`` entry.
            PageTokenError: For a token this search did not produce.
            SearchArgumentError: For other bad arguments.
        """
        return search_traces(
            self,
            filter_string,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
            return_type=return_type,
            include_spans=include_spans,
            locations=locations,
            experiment_ids=experiment_ids,
            run_id=run_id,
            model_id=model_id,
            extract_fields=extract_fields,
            columns=columns,
        )


def scan_traces(source: str | os.PathLike[str]) -> LazyTraceFrame:
    """Open a polartrace Parquet dataset lazily, for data bigger than memory.

    Args:
        source: A dataset directory written by `write_parquet` / `DatasetWriter`.

    Returns:
        A `LazyTraceFrame`; its ``search`` and ``count`` stream the Parquet files.

    Raises:
        TraceFormatError: If ``source`` is not a polartrace Parquet dataset.
    """
    return LazyTraceFrame(source)
