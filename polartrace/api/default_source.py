"""What ``search_traces(None, ...)`` and ``count(None, ...)`` search.

``None`` is "the traces I have been producing", as in MLflow, in this order:

1. the in-memory tracing store, when it holds traces (``polartrace.trace`` and
   ``start_span`` write there);
2. else the MLflow store ``MLFLOW_TRACKING_URI`` names: an SQLite file or
   ``sqlite:///`` URL or another SQLAlchemy URL (MLflow's SQL store), or a
   ``file:`` URI or directory (MLflow's file store, ``mlruns``);
3. else nothing: an error that says where it looked, rather than a silent 0.

A tracking server (``http(s)://``, ``databricks``) cannot be searched here: its
traces are read with MLflow and saved to a file first.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from polartrace.values.errors import SearchArgumentError

__all__ = ["TRACKING_URI_ENV", "tracking_source"]

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
_SERVER_SCHEMES = ("http", "https", "databricks", "databricks-uc", "uc")


def tracking_source(uri: str) -> str:
    """The path or database URL ``read_traces`` reads for a tracking URI.

    Raises:
        SearchArgumentError: For a tracking server, which only MLflow can query.

    Example:
        >>> tracking_source("sqlite:///mlflow.db")
        'sqlite:///mlflow.db'
        >>> tracking_source("file:///tmp/mlruns")
        '/tmp/mlruns'
    """
    # "databricks" alone (no "://") is a server too: compare the text before ":".
    scheme = uri.split(":", 1)[0].lower()
    if scheme in _SERVER_SCHEMES:
        msg = (
            f"{TRACKING_URI_ENV}={uri!r} is a tracking server, which polartrace cannot "
            "search; read its traces with mlflow.search_traces(return_type='list'), "
            "save them to a file and pass that path as traces="
        )
        raise SearchArgumentError(msg)
    if scheme == "file":
        parsed = urlparse(uri)
        return unquote(parsed.netloc + parsed.path) or "."
    return uri


def no_traces_error() -> SearchArgumentError:
    """The error for ``traces=None`` when there is nothing to search."""
    msg = (
        "traces=None found no traces: the in-memory tracing store is empty and "
        f"{TRACKING_URI_ENV} is not set; pass traces= (a TraceFrame, a list of "
        "Trace, a path or a database URL), set MLFLOW_TRACKING_URI to an MLflow "
        "store, or pass traces=polartrace.get_store() to search the store even "
        "when it is empty"
    )
    return SearchArgumentError(msg)


def tracking_uri() -> str | None:
    """The tracking URI from the environment, ``None`` when unset or blank."""
    uri = os.environ.get(TRACKING_URI_ENV, "").strip()
    return uri or None
