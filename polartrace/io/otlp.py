"""Read OpenTelemetry OTLP JSON exports into MLflow-shaped traces.

Input is ``ExportTraceServiceRequest`` JSON (``resourceSpans`` → ``scopeSpans`` →
``spans``), as one document (``.json``) or one request per line (``.jsonl``, the
collector's file exporter). Spans are grouped by ``traceId`` across the whole file;
ids may be hex (the OTLP/JSON spec) or base64 (protobuf's JSON mapping).

Each span becomes an MLflow span: attribute values are stored as JSON text, as MLflow
stores them, and the GenAI conventions are translated the way MLflow's OTLP endpoint
translates them (``mlflow/tracing/otel/translation``):

* span type from ``openinference.span.kind`` or ``gen_ai.operation.name``;
* inputs/outputs from ``input.value``/``output.value`` (decoded when the matching
  ``*.mime_type`` is ``application/json``) or ``gen_ai.input.messages``,
  ``gen_ai.output.messages``, ``gen_ai.tool.call.arguments``/``result``;
* token usage (``mlflow.chat.tokenUsage``), cost (``mlflow.llm.cost``), model
  (``mlflow.llm.model``) and provider (``mlflow.llm.provider``) from the GenAI and
  OpenInference attributes, by the table and precedence of `polartrace.values.llm`
  (`mlflow_attributes`): a span's ``span.tokens.*``, ``span.cost.*`` and
  ``span.model`` are what the same attributes give in an MLflow JSON trace, and a
  count that is not a valid one (text, a float, negative) is left out, not an
  error.

A trace's id is ``tr-`` and the hex OpenTelemetry trace id; its request time and
duration span its spans; its state is ``ERROR`` when the root span failed, ``OK``
when it did not and ``IN_PROGRESS`` without a root span; its name is the root's.
``session.id``/``gen_ai.conversation.id`` and ``user.id`` become the session and
user metadata, and the token usage and cost of the spans (counted once per subtree,
`polartrace.values.llm.trace_totals`) become ``mlflow.trace.tokenUsage`` and
``mlflow.trace.cost``, with the members some counted span has. Links are not kept.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from pathlib import Path
from typing import Any, Final

from polartrace.frame.trace_frame import TraceFrame
from polartrace.io.jsonl import check_utf8, load_json, open_text
from polartrace.model.trace import Trace
from polartrace.model.validate import fail
from polartrace.values.conventions import (
    COST_KEY,
    OTLP_STATUS_CODES,
    SESSION_KEY,
    SPAN_INPUTS,
    SPAN_OUTPUTS,
    SPAN_STATUS_CODES,
    SPAN_TYPE_KEY,
    TOKEN_USAGE_KEY,
    TRACE_NAME_TAG,
    TRACE_REQUEST_ID_KEY,
    USER_KEY,
    root_span,
    status_code_json,
    status_code_name,
    truncate_preview,
)
from polartrace.values.errors import TraceFormatError
from polartrace.values.json_values import decode_attribute
from polartrace.values.llm import mlflow_attributes, trace_totals
from polartrace.values.nesting import check_nesting, loads

__all__ = ["read_otlp", "read_otlp_traces", "traces_from_otlp"]

_OPENINFERENCE_KINDS: Final = {
    k: k
    for k in (
        "TOOL",
        "CHAIN",
        "LLM",
        "RETRIEVER",
        "EMBEDDING",
        "AGENT",
        "RERANKER",
        "UNKNOWN",
        "GUARDRAIL",
        "EVALUATOR",
    )
}
_GENAI_OPERATIONS: Final = {
    "chat": "CHAT_MODEL",
    "create_agent": "AGENT",
    "embeddings": "EMBEDDING",
    "execute_tool": "TOOL",
    "generate_content": "LLM",
    "invoke_agent": "AGENT",
    "text_completion": "LLM",
    "response": "LLM",
}
_INPUT_KEYS: Final = (
    "input.value",
    "gen_ai.input.messages",
    "gen_ai.tool.call.arguments",
)
_OUTPUT_KEYS: Final = (
    "output.value",
    "gen_ai.output.messages",
    "gen_ai.tool.call.result",
)
_INT_TEXT: Final = re.compile(r"-?[0-9]{1,20}")


def _id(value: Any, size: int, where: str) -> str:
    """An OTLP id (hex, or base64) as the base64 text MLflow's span JSON holds."""
    if not isinstance(value, str) or not value:
        fail(f"expected a {size}-byte id, got {value!r}", where)
    try:
        raw = (
            bytes.fromhex(value) if len(value) == 2 * size else base64.b64decode(value)
        )
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != size or not any(raw):
        fail(f"not a valid {size}-byte id: {value!r}", where)
    return base64.b64encode(raw).decode("ascii")


def _object(value: Any, where: str) -> dict[str, Any]:
    """``value`` if it is a JSON object; a missing one (null) is empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail(f"expected an object, got {type(value).__name__}", where)
    return value


def _array(value: Any, where: str) -> list[Any]:
    """``value`` if it is a JSON array; a missing one (null) is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        fail(f"expected an array, got {type(value).__name__}", where)
    return value


def _integer(value: Any, where: str) -> int:
    """An int64 as protobuf's JSON writes it: a number or its decimal text."""
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        fail(f"expected an integer, got {value!r:.40}", where)
    if not -(2**63) <= value < 2**64:  # int64 and uint64 (fixed64 times)
        fail(f"integer {value} does not fit in 64 bits", where)
    return value


def _double(value: Any, where: str) -> float:
    """A double as protobuf's JSON writes it: a number, its text, or NaN/Infinity."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    msg = f"expected a number, got {value!r:.40}"
    raise TraceFormatError(msg, location=where)


def _scalar(inner: Any, kind: type, where: str) -> Any:
    if not isinstance(inner, kind):
        fail(f"expected a {kind.__name__}, got {inner!r:.40}", where)
    return inner


def _value(v: Any, where: str) -> Any:
    """Decode an OTLP ``AnyValue`` into a plain Python value."""
    if not isinstance(v, dict):
        fail("expected an AnyValue object", where)
    if not v:
        return None
    (kind, inner), *_ = v.items()
    match kind:
        case "stringValue" | "bytesValue":  # bytes stay base64 text, as in the JSON
            return _scalar(inner, str, f"{where}.{kind}")
        case "boolValue":
            return _scalar(inner, bool, f"{where}.{kind}")
        case "intValue":
            return _integer(inner, f"{where}.{kind}")
        case "doubleValue":
            return _double(inner, f"{where}.{kind}")
        case "arrayValue":
            values = _object(inner, f"{where}.{kind}").get("values")
            return [
                _value(x, f"{where}[{i}]")
                for i, x in enumerate(_array(values, f"{where}.{kind}.values"))
            ]
        case "kvlistValue":
            values = _object(inner, f"{where}.{kind}").get("values")
            return _attributes(values or [], where)
    msg = f"unknown AnyValue kind {kind!r}"
    raise TraceFormatError(msg, location=where)


def _attributes(items: Any, where: str) -> dict[str, Any]:
    if not isinstance(items, list):
        fail("expected a list of key/value objects", where)
    out = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            fail("expected {key, value}", f"{where}[{i}]")
        out[item["key"]] = _value(item.get("value", {}), f"{where}[{i}].value")
    return out


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return loads(value)
        except ValueError:  # not JSON, or nested too deeply: keep the text
            return value
    return value


def _translate(attrs: dict[str, Any], trace_id: str, where: str) -> dict[str, Any]:
    """MLflow's own attributes derived from the GenAI conventions."""
    out: dict[str, Any] = {TRACE_REQUEST_ID_KEY: trace_id}
    kind = attrs.get("openinference.span.kind")
    span_type = _OPENINFERENCE_KINDS.get(str(kind).upper()) if kind else None
    span_type = span_type or _GENAI_OPERATIONS.get(
        str(attrs.get("gen_ai.operation.name"))
    )
    if span_type and SPAN_TYPE_KEY not in attrs:
        out[SPAN_TYPE_KEY] = span_type
    for target, keys in (
        (SPAN_INPUTS, _INPUT_KEYS),
        (SPAN_OUTPUTS, _OUTPUT_KEYS),
    ):
        key = next((k for k in keys if k in attrs), None)
        if key is None or target in attrs:
            continue
        value = attrs[key]
        mime = attrs.get(key.replace(".value", ".mime_type"), "")
        if key.startswith("gen_ai.") or mime == "application/json":
            value = _decoded(value)
        out[target] = value
    # Model, provider, token usage and cost under MLflow's keys, by the precedence
    # of `polartrace.values.llm`: the span fields read them first, and they hold
    # what the fields would read from the other conventions without them.
    out.update(mlflow_attributes(attrs.get))
    return out


def _span(d: Any, where: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Return (hex trace id, MLflow span dict, plain attributes) for one OTLP span."""
    if not isinstance(d, dict):
        fail("expected a span object", where)
    trace_b64 = _id(d.get("traceId"), 16, f"{where}.traceId")
    trace_hex = base64.b64decode(trace_b64).hex()
    parent = d.get("parentSpanId") or None
    attrs = _attributes(d.get("attributes", []), f"{where}.attributes")
    raw = {k: json.dumps(v, ensure_ascii=False) for k, v in attrs.items()}
    extra = _translate(attrs, f"tr-{trace_hex}", f"{where}.attributes")
    raw.update({k: json.dumps(v, ensure_ascii=False) for k, v in extra.items()})
    status = _object(d.get("status"), f"{where}.status")
    raw_code = status.get("code", 0)
    code = (
        OTLP_STATUS_CODES.get(raw_code, raw_code)
        if isinstance(raw_code, int)
        else raw_code
    )
    if isinstance(code, str):
        code = status_code_name(code)
    if code not in SPAN_STATUS_CODES:
        fail(f"unknown status code {raw_code!r}", f"{where}.status.code")
    if d.get("startTimeUnixNano") is None:
        fail("required key is missing or null", f"{where}.startTimeUnixNano")
    start = _integer(d["startTimeUnixNano"], f"{where}.startTimeUnixNano")
    end = (
        _integer(d["endTimeUnixNano"], f"{where}.endTimeUnixNano")
        if d.get("endTimeUnixNano")
        else None
    )
    events = []
    for i, e in enumerate(_array(d.get("events"), f"{where}.events")):
        at = f"{where}.events[{i}]"
        e = _object(e, at)
        events.append(
            {
                "name": _scalar(e.get("name"), str, f"{at}.name"),
                "time_unix_nano": _integer(e.get("timeUnixNano", 0), at),
                "attributes": _attributes(e.get("attributes", []), f"{at}.attributes"),
            }
        )
    span = {
        "trace_id": trace_b64,
        "span_id": _id(d.get("spanId"), 8, f"{where}.spanId"),
        "parent_span_id": None
        if parent is None
        else _id(parent, 8, f"{where}.parentSpanId"),
        "name": d.get("name", ""),
        "start_time_unix_nano": start,
        "end_time_unix_nano": end,
        "events": events,
        "status": {
            "code": status_code_json(code),
            "message": status.get("message", ""),
        },
        "attributes": raw,
        "links": [],
    }
    return trace_hex, span, attrs


def _collect(doc: Any, where: str, groups: dict[str, list[Any]]) -> None:
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans", []), list):
        fail('expected an object with "resourceSpans"', where or "document")
    check_nesting(doc, where.rstrip(", ") or None)
    for r, resource in enumerate(doc.get("resourceSpans", [])):
        at = f"{where}resourceSpans[{r}]"
        resource = _object(resource, at)
        scopes = (
            resource.get("scopeSpans")
            or resource.get("instrumentationLibrarySpans")
            or []
        )
        for s, scope in enumerate(_array(scopes, f"{at}.scopeSpans")):
            scope = _object(scope, f"{at}.scopeSpans[{s}]")
            spans = _array(scope.get("spans"), f"{at}.scopeSpans[{s}].spans")
            for i, d in enumerate(spans):
                path = f"{where}resourceSpans[{r}].scopeSpans[{s}].spans[{i}]"
                trace_hex, span, attrs = _span(d, path)
                groups.setdefault(trace_hex, []).append((span, attrs))


def _reader(attributes: dict[str, str]) -> Any:
    """The decoded value of a stored attribute by key, ``None`` when absent."""
    return lambda key: decode_attribute(attributes[key]) if key in attributes else None


def _parent_of(span: dict[str, Any]) -> str | None:
    parent: str | None = span["parent_span_id"]
    return parent


def _refuse_cycles(parents: dict[str, str | None]) -> None:
    """Fail if following parent ids from some span comes back to it.

    A parent id that names no span of the trace ends the walk (that span is a
    root of its own subtree); a cycle has no such end, and no tracer writes one.
    """
    done: set[str] = set()
    for start in parents:
        path: list[str] = []
        seen: set[str] = set()
        span_id: str | None = start
        while span_id is not None and span_id in parents and span_id not in done:
            if span_id in seen:
                loop = [*path[path.index(span_id) :], span_id]
                names = " -> ".join(base64.b64decode(i).hex() for i in loop)
                msg = f"parent span ids form a cycle: {names}"
                raise TraceFormatError(msg, location="parentSpanId")
            seen.add(span_id)
            path.append(span_id)
            span_id = parents[span_id]
        done.update(path)


def _trace(trace_hex: str, spans: list[tuple[dict[str, Any], dict[str, Any]]]) -> Trace:
    _refuse_cycles({s["span_id"]: s["parent_span_id"] for s, _ in spans})
    spans.sort(
        key=lambda p: (p[0]["parent_span_id"] is not None, p[0]["start_time_unix_nano"])
    )
    root = root_span((s for s, _ in spans), _parent_of)
    start = min(s["start_time_unix_nano"] for s, _ in spans)
    info: dict[str, Any] = {
        "trace_id": f"tr-{trace_hex}",
        "request_time": start // 1_000_000,
    }
    metadata: dict[str, str] = {}
    for key, names in (
        (SESSION_KEY, ("session.id", "gen_ai.conversation.id")),
        (USER_KEY, ("user.id",)),
    ):
        found = next((a[n] for _, a in spans for n in names if n in a), None)
        if found is not None:
            metadata[key] = str(found)
    readers = [
        (s["span_id"], s["parent_span_id"], _reader(s["attributes"])) for s, _ in spans
    ]
    for key, family in ((TOKEN_USAGE_KEY, "tokens"), (COST_KEY, "cost")):
        totals = trace_totals(family, readers)
        if totals is not None:
            metadata[key] = json.dumps(totals)
    if root is None:
        info["state"] = "IN_PROGRESS"
    else:
        info["state"] = (
            "ERROR" if root["status"]["code"] == status_code_json("ERROR") else "OK"
        )
        info["tags"] = {TRACE_NAME_TAG: root["name"]}
        for key, attr in (
            ("request_preview", SPAN_INPUTS),
            ("response_preview", SPAN_OUTPUTS),
        ):
            if attr in root["attributes"]:
                value = json.loads(root["attributes"][attr])
                text = value if isinstance(value, str) else root["attributes"][attr]
                info[key] = truncate_preview(text)
        ends = [s["end_time_unix_nano"] for s, _ in spans]
        if None not in ends:
            info["execution_duration_ms"] = (
                max(ends) // 1_000_000 - info["request_time"]
            )
    info["trace_metadata"] = metadata
    return Trace.from_dict({"info": info, "data": {"spans": [s for s, _ in spans]}})


def traces_from_otlp(documents: list[Any], *, source: str | None = None) -> list[Trace]:
    """Turn parsed OTLP JSON requests into traces, in order of first appearance."""
    groups: dict[str, list[Any]] = {}
    for index, doc in enumerate(documents):
        where = f"line {index + 1}, " if len(documents) > 1 else ""
        try:
            _collect(doc, where, groups)
        except TraceFormatError as exc:
            raise TraceFormatError(
                exc.message, source=source, location=exc.location
            ) from exc
    traces = []
    for trace_hex, spans in groups.items():
        try:
            traces.append(_trace(trace_hex, spans))
        except TraceFormatError as exc:
            where = f"trace {trace_hex}" + (f", {exc.location}" if exc.location else "")
            raise TraceFormatError(exc.message, source=source, location=where) from exc
    return traces


def read_otlp_traces(path: str | os.PathLike[str]) -> list[Trace]:
    """Read an OTLP JSON file (``.json``: one request; ``.jsonl``: one per line)."""
    path = Path(path)
    source = str(path)
    names = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    if names and names[-1] in (".jsonl", ".ndjson"):
        documents = []
        try:
            with open_text(path, errors="surrogateescape") as handle:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        documents.append(_line(line, source, number))
        except (OSError, UnicodeDecodeError, EOFError) as exc:
            msg = f"cannot read file: {exc}"
            raise TraceFormatError(msg, source=source) from exc
        return traces_from_otlp(documents, source=source) if documents else []
    return traces_from_otlp([load_json(path)], source=source)


def _line(line: str, source: str, number: int) -> Any:
    check_utf8(line, source, number)
    try:
        return loads(line)
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON at column {exc.colno}: {exc.msg}"
        raise TraceFormatError(msg, source=source, location=f"line {number}") from exc
    except TraceFormatError as exc:  # nested too deeply
        where = f"line {number}" + (f", {exc.location}" if exc.location else "")
        raise TraceFormatError(exc.message, source=source, location=where) from exc


def read_otlp(path: str | os.PathLike[str]) -> TraceFrame:
    """Read an OTLP JSON export into a frame (see `read_otlp_traces`).

    Example:
        >>> import json, pathlib, tempfile
        >>> span = {"traceId": "5b8efff798038103d269b633813fc60c",
        ...         "spanId": "eee19b7ec3c1b174", "name": "chat",
        ...         "startTimeUnixNano": "1700000000000000000",
        ...         "endTimeUnixNano": "1700000000500000000",
        ...         "attributes": [{"key": "gen_ai.operation.name",
        ...                         "value": {"stringValue": "chat"}}]}
        >>> doc = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     file = pathlib.Path(tmp) / "otlp.json"
        ...     _ = file.write_text(json.dumps(doc))
        ...     trace = read_otlp(file).trace(0)
        >>> trace.info.trace_id, trace.info.state.value, trace.data.spans[0].span_type
        ('tr-5b8efff798038103d269b633813fc60c', 'OK', 'CHAT_MODEL')
    """
    return TraceFrame.from_traces(read_otlp_traces(path))
