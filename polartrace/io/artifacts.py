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
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from polartrace.frame.trace_frame import TraceFrame
from polartrace.io.jsonl import load_json
from polartrace.model.trace import Assessment, Trace
from polartrace.values.errors import TraceFormatError
from polartrace.values.nesting import check_nesting

__all__ = ["is_mlflow_files", "iter_trace_dirs", "read_mlflow_files"]

INFO_FILE: Final = "trace_info.yaml"
#: Size bounds (docs/io.md): a tag or metadata value file, a YAML file (trace info,
#: assessment), and the span artifact. MLflow writes far less than each.
VALUE_LIMIT: Final = 1 << 20
YAML_LIMIT: Final = 16 << 20
SPANS_LIMIT: Final = 1 << 30
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


def _checked(file: str | Path, store: Path, limit: int) -> str:
    """The real path of ``file`` if it is a regular file inside ``store``.

    A store is data from elsewhere: a tag file may be a link to ``/dev/zero`` (read
    until memory runs out), a FIFO (blocks forever) or a file outside the store
    (whose content would become a tag). Each is an error naming the file, as is
    a file larger than ``limit`` bytes.
    """
    name = os.fspath(file)
    real = os.path.realpath(name)
    if os.path.commonpath([real, os.fspath(store)]) != os.fspath(store):
        msg = f"refusing {real}: it is outside the store {store}"
        raise TraceFormatError(msg, source=name)
    try:
        info = os.stat(real)
    except OSError as exc:
        msg = f"cannot read file: {exc.strerror or exc}"
        raise TraceFormatError(msg, source=name) from exc
    _check_stat(info, name, limit)
    return real


def _check_stat(info: os.stat_result, name: str, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        msg = "not a regular file"
        raise TraceFormatError(msg, source=name)
    if info.st_size > limit:
        msg = f"file is larger than {limit:,} bytes, the bound for this kind of file"
        raise TraceFormatError(msg, source=name)


def _read_bytes(file: str | Path, store: Path, limit: int) -> bytes:
    """Read a regular file inside ``store`` of at most ``limit`` bytes."""
    name = os.fspath(file)
    real = _checked(name, store, limit)
    try:
        # No links, and no waiting for a writer should a FIFO replace the file.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        msg = f"cannot read file: {exc.strerror or exc}"
        raise TraceFormatError(msg, source=name) from exc
    with os.fdopen(fd, "rb") as handle:
        _check_stat(os.fstat(handle.fileno()), name, limit)
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew after the check
        msg = f"file is larger than {limit:,} bytes, the bound for this kind of file"
        raise TraceFormatError(msg, source=name)
    return data


def _refuse_aliases(loader: type, error: type[Exception]) -> type:
    """A loader class that refuses YAML aliases (``*name``).

    An alias reuses a node, so a few hundred bytes of aliases of aliases make a
    value with billions of leaves (a "billion laughs" bomb). MLflow writes none.
    """

    def construct_object(self: Any, node: Any, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            mark = node.start_mark
            msg = (
                "YAML aliases are not allowed (an alias of the value at line "
                f"{mark.line + 1}, column {mark.column + 1})"
            )
            raise error(msg)
        return loader.construct_object(self, node, deep)  # type: ignore[attr-defined]

    return type("NoAliasLoader", (loader,), {"construct_object": construct_object})


def _yaml(file: Path, store: Path) -> Any:
    try:
        import yaml
    except ImportError as exc:
        msg = "reading MLflow YAML needs PyYAML: pip install 'polartrace[mlflow-files]'"
        raise TraceFormatError(msg, source=str(file)) from exc
    text = _read_bytes(file, store, YAML_LIMIT)
    try:
        # libyaml's C loader when the wheel has it: ten times faster than pure Python.
        loader = _refuse_aliases(
            getattr(yaml, "CSafeLoader", yaml.SafeLoader), yaml.YAMLError
        )
        return _bounded(yaml.load(text.decode("utf-8"), Loader=loader), file)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        msg = f"invalid YAML: {exc}"
        raise TraceFormatError(msg, source=str(file)) from exc


def _bounded(value: Any, file: Path) -> Any:
    """Return ``value`` if it nests within the bound, else fail naming ``file``."""
    try:
        check_nesting(value)
    except TraceFormatError as exc:
        raise TraceFormatError(
            exc.message, source=str(file), location=exc.location
        ) from None
    return value


def _key_values(directory: Path, store: Path) -> dict[str, str]:
    """Tags or metadata: one file per key; keys with ``/`` are nested paths."""
    out = {}
    top = os.fspath(directory)
    # os.walk on strings: pathlib's rglob costs more than reading the small files.
    for folder, _, files in os.walk(top):
        prefix = os.path.relpath(folder, top).replace(os.sep, "/")
        for name in sorted(files):
            key = name if prefix == "." else f"{prefix}/{name}"
            file = os.path.join(folder, name)
            data = _read_bytes(file, store, VALUE_LIMIT)
            try:
                out[key] = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                msg = f"cannot read value: {exc}"
                raise TraceFormatError(msg, source=file) from exc
    return out


def _spans(
    trace_dir: Path, root: Path, store: Path, tags: dict[str, str], trace_id: str
) -> Any:
    candidates = [trace_dir / "artifacts" / SPANS_FILE]
    location = tags.get("mlflow.artifactLocation", "").removeprefix("file://")
    if location and "://" not in location:
        path = Path(location)
        candidates.append((path if path.is_absolute() else root / path) / SPANS_FILE)
    for file in candidates:
        if os.path.lexists(
            file
        ):  # a link to a device or a FIFO is refused, not skipped
            data = load_json(Path(_checked(file, store, SPANS_LIMIT)))
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


def _read_trace(trace_dir: Path, root: Path, store: Path) -> Trace:
    info_file = trace_dir / INFO_FILE
    info = _yaml(info_file, store)
    if not isinstance(info, dict):
        msg = "expected a mapping"
        raise TraceFormatError(msg, source=str(info_file))
    info.pop("assessments", None)  # the assessments/ folder is authoritative
    tags = _key_values(trace_dir / "tags", store)
    info["tags"] = tags
    info["trace_metadata"] = _key_values(trace_dir / "request_metadata", store)
    assessments = []
    for file in sorted((trace_dir / "assessments").glob("*.yaml")):
        data = _yaml(file, store)
        Assessment.from_dict(data, source=str(file))  # errors name the file
        assessments.append(data)
    # MLflow lists assessments in directory order; polartrace uses creation order.
    assessments.sort(
        key=lambda a: (str(a.get("create_time")), str(a.get("assessment_id")))
    )
    info["assessments"] = assessments
    trace_id = str(info.get("trace_id", trace_dir.name))
    spans = _spans(trace_dir, root, store, tags, trace_id)
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
            bad record, or the file that cannot be read: one that is not a regular
            file, lies outside ``source`` (through a link or an artifact location),
            is larger than its bound, or is YAML with aliases.
    """
    root = Path(source)
    if not root.is_dir():
        msg = "not a directory"
        raise TraceFormatError(msg, source=str(root))
    store = root.resolve()
    traces = [_read_trace(d, root, store) for d in iter_trace_dirs(root)]
    traces.sort(key=lambda t: (t.info.request_time, t.info.trace_id))
    return TraceFrame.from_traces(traces)
