"""Read MLflow's file store and trace artifact directories.

MLflow's file store (``mlruns/``, still readable in MLflow 3 with
``MLFLOW_ALLOW_FILE_STORE=true``) keeps each trace in a directory::

    <experiment id>/traces/<trace id>/
        trace_info.yaml          TraceInfo.to_dict() without tags and metadata
        tags/<key>               one file per tag, the value as text
        request_metadata/<key>   one file per metadata entry
        assessments/<id>.yaml    Assessment.to_dictionary()
        artifacts/traces.json    {"spans": [...]}: the span data (TRACE_DATA_FILE_NAME)

``source`` may be the store root, one experiment, its ``traces`` directory or a single
trace directory. Reading YAML needs PyYAML (the ``mlflow-files`` extra).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from polartrace.frame.trace_frame import TraceFrame
from polartrace.io.jsonl import load_json
from polartrace.model.trace import Assessment, Trace
from polartrace.values.errors import TraceFormatError

__all__ = ["is_mlflow_files", "iter_trace_dirs", "read_mlflow_files"]

INFO_FILE: Final = "trace_info.yaml"
SPANS_FILE: Final = "traces.json"
_PATTERNS: Final = (
    INFO_FILE,
    f"*/{INFO_FILE}",
    f"traces/*/{INFO_FILE}",
    f"*/traces/*/{INFO_FILE}",
)


def iter_trace_dirs(root: Path) -> Iterator[Path]:
    """Yield every trace directory under ``root``, skipping hidden ones (``.trash``)."""
    for pattern in _PATTERNS:
        for info in sorted(root.glob(pattern)):
            relative = info.relative_to(root).parts
            if not any(part.startswith(".") for part in relative):
                yield info.parent


def is_mlflow_files(path: Path) -> bool:
    """Whether ``path`` holds at least one MLflow trace directory."""
    return next(iter_trace_dirs(path), None) is not None


def _yaml(file: Path) -> Any:
    try:
        import yaml
    except ImportError as exc:
        msg = "reading MLflow YAML needs PyYAML: pip install 'pyyaml>=6'"
        raise TraceFormatError(msg, source=str(file)) from exc
    try:
        # libyaml's C loader when the wheel has it: ten times faster than pure Python.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(file.read_text(encoding="utf-8"), Loader=loader)
    except OSError as exc:
        msg = f"cannot read file: {exc.strerror or exc}"
        raise TraceFormatError(msg, source=str(file)) from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        msg = f"invalid YAML: {exc}"
        raise TraceFormatError(msg, source=str(file)) from exc


def _key_values(directory: Path) -> dict[str, str]:
    """Tags or metadata: one file per key; keys with ``/`` are nested paths."""
    out = {}
    top = os.fspath(directory)
    # os.walk on strings: pathlib's rglob costs more than reading the small files.
    for folder, _, files in os.walk(top):
        prefix = os.path.relpath(folder, top).replace(os.sep, "/")
        for name in sorted(files):
            key = name if prefix == "." else f"{prefix}/{name}"
            file = os.path.join(folder, name)
            try:
                with open(file, encoding="utf-8") as handle:
                    out[key] = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                msg = f"cannot read value: {exc}"
                raise TraceFormatError(msg, source=file) from exc
    return out


def _spans(trace_dir: Path, root: Path, tags: dict[str, str], trace_id: str) -> Any:
    candidates = [trace_dir / "artifacts" / SPANS_FILE]
    location = tags.get("mlflow.artifactLocation", "").removeprefix("file://")
    if location and "://" not in location:
        path = Path(location)
        candidates.append((path if path.is_absolute() else root / path) / SPANS_FILE)
    for file in candidates:
        if file.is_file():
            data = load_json(file)
            if not isinstance(data, dict) or not isinstance(
                data.get("spans", []), list
            ):
                msg = 'expected an object {"spans": [...]}'
                raise TraceFormatError(msg, source=str(file))
            return data.get("spans", [])
    warnings.warn(
        f"trace {trace_id}: no {SPANS_FILE} artifact found; loaded without spans",
        stacklevel=4,
    )
    return []


def _read_trace(trace_dir: Path, root: Path) -> Trace:
    info_file = trace_dir / INFO_FILE
    info = _yaml(info_file)
    if not isinstance(info, dict):
        msg = "expected a mapping"
        raise TraceFormatError(msg, source=str(info_file))
    info.pop("assessments", None)  # the assessments/ folder is authoritative
    tags = _key_values(trace_dir / "tags")
    info["tags"] = tags
    info["trace_metadata"] = _key_values(trace_dir / "request_metadata")
    assessments = []
    for file in sorted((trace_dir / "assessments").glob("*.yaml")):
        data = _yaml(file)
        Assessment.from_dict(data, source=str(file))  # errors name the file
        assessments.append(data)
    # MLflow lists assessments in directory order; polartrace uses creation order.
    assessments.sort(
        key=lambda a: (str(a.get("create_time")), str(a.get("assessment_id")))
    )
    info["assessments"] = assessments
    trace_id = str(info.get("trace_id", trace_dir.name))
    spans = _spans(trace_dir, root, tags, trace_id)
    return Trace.from_dict(
        {"info": info, "data": {"spans": spans}}, source=str(trace_dir)
    )


def read_mlflow_files(source: str | os.PathLike[str]) -> TraceFrame:
    """Read an MLflow file store or trace artifact directory into a frame.

    Args:
        source: The store root (``mlruns``), an experiment directory, its
            ``traces`` directory, or one trace directory.

    Returns:
        The traces ordered by request time, then trace id.

    Raises:
        TraceFormatError: Naming the trace directory (and the JSON path) of the first
            bad record, or the file that cannot be read.
    """
    root = Path(source)
    if not root.is_dir():
        msg = "not a directory"
        raise TraceFormatError(msg, source=str(root))
    traces = [_read_trace(d, root) for d in iter_trace_dirs(root)]
    traces.sort(key=lambda t: (t.info.request_time, t.info.trace_id))
    return TraceFrame.from_traces(traces)
