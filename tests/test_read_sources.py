"""read_traces over directories, globs, lists and file objects, and its progress bar."""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest

from polartrace import Trace, TraceFormatError, read_traces, write_jsonl

MLFLOW = Path(__file__).parent / "fixtures" / "mlflow"
T6, T3, T2, T4, T5, T1 = (
    "tr-0a6b362239fde391d3101ee1287124b5",
    "tr-e559488f8d1bc9c759e1a7968eb3dcd8",
    "tr-7e2ff8e30e3b463a1d82b69bab55f58d",
    "tr-00000000000000000000000000000004",
    "tr-1d64d809921a1e8606d2b7518008bb33",
    "tr-48a3400cfc68eb1f6eef00340787b3ee",
)
DB_IDS = [
    "tr-8505c8dc1836f643d87ab33b3308a7b4",
    "tr-2d79e9e2ac271423e167ae32c12b6f1f",
    "tr-7fa915185995362c276ad44a0066c3f6",
    "tr-dcb4d189967f2fe63c51473f9ee11fa8",
]


def _ids(frame: object) -> list[str]:
    return [t.info.trace_id for t in frame]  # type: ignore[attr-defined]


def _json_list(traces: list[Trace], path: Path) -> None:
    text = json.dumps([t.to_dict() for t in traces])
    path.write_bytes(gzip.compress(text.encode()))


@pytest.fixture
def mixed_dir(tmp_path: Path, oracle_traces: list[Trace]) -> Path:
    """A directory of JSONL, gzip JSON and an MLflow database, and files to skip."""
    (tmp_path / "a").mkdir()
    write_jsonl(oracle_traces[:3], tmp_path / "a" / "first.jsonl")
    _json_list(oracle_traces[3:], tmp_path / "b.json.gz")
    (tmp_path / "sub").mkdir()
    # The database with its span artifacts, whose traces.json files are not traces.
    shutil.copy(MLFLOW / "mlflow.db", tmp_path / "sub" / "mlflow.db")
    shutil.copytree(MLFLOW / "artifacts", tmp_path / "sub" / "artifacts")
    (tmp_path / "notes.txt").write_text("not traces", encoding="utf-8")
    write_jsonl(oracle_traces, tmp_path / ".hidden.jsonl")
    return tmp_path


def test_a_directory_reads_every_trace_file_in_path_order(mixed_dir: Path) -> None:
    assert _ids(read_traces(mixed_dir)) == [T6, T3, T2, T4, T5, T1, *DB_IDS]


def test_a_glob_reads_its_matches_in_path_order(
    tmp_path: Path, oracle_traces: list[Trace]
) -> None:
    write_jsonl(oracle_traces[2:], tmp_path / "2.jsonl")
    write_jsonl(oracle_traces[:2], tmp_path / "1.jsonl")
    assert _ids(read_traces(str(tmp_path / "*.jsonl"))) == [T6, T3, T2, T4, T5, T1]


def test_a_glob_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    pattern = str(tmp_path / "exports" / "*.jsonl")
    with pytest.raises(TraceFormatError) as info:
        read_traces(pattern)
    assert info.value.message == "no file matches this pattern"
    assert info.value.source == pattern


def test_a_list_reads_its_paths_in_the_order_given(
    tmp_path: Path, oracle_traces: list[Trace]
) -> None:
    write_jsonl(oracle_traces[:1], tmp_path / "a.jsonl")
    write_jsonl(oracle_traces[1:2], tmp_path / "b.jsonl.gz")
    got = read_traces([tmp_path / "b.jsonl.gz", str(tmp_path / "a.jsonl")])
    assert _ids(got) == [T3, T6]


def test_an_empty_list_is_an_error() -> None:
    with pytest.raises(
        TraceFormatError, match=r"^no sources given: the list of paths is empty$"
    ):
        read_traces([])


def test_a_source_of_another_type_is_an_error() -> None:
    message = "source must be a path, a glob, a file object or a list of them, not int"
    with pytest.raises(TypeError, match="^" + re.escape(message) + "$"):
        read_traces(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda data: io.StringIO(data.decode()), id="text"),
        pytest.param(io.BytesIO, id="binary"),
        pytest.param(lambda data: io.BytesIO(gzip.compress(data)), id="gzip"),
    ],
)
def test_a_jsonl_file_object_is_read_by_its_content(
    oracle_traces: list[Trace], wrap: Callable[[bytes], IO[Any]]
) -> None:
    data = "".join(t.to_json() + "\n" for t in oracle_traces[:2]).encode()
    assert _ids(read_traces(wrap(data))) == [T6, T3]


def test_a_json_list_file_object_is_read_by_its_content(
    oracle_traces: list[Trace],
) -> None:
    data = json.dumps([t.to_dict() for t in oracle_traces[4:]], indent=2)
    assert _ids(read_traces(io.StringIO(data))) == [T5, T1]


def test_an_open_database_file_is_read() -> None:
    # Read from a copy, the database cannot reach span artifacts kept beside it.
    message = (
        "trace tr-2d79e9e2ac271423e167ae32c12b6f1f: spans are in artifact storage "
        "polartrace cannot read"
    )
    with (
        (MLFLOW / "mlflow.db").open("rb") as handle,
        pytest.warns(UserWarning, match="^" + re.escape(message)),
    ):
        assert _ids(read_traces(handle)) == DB_IDS


def test_a_list_mixes_paths_and_file_objects(
    tmp_path: Path, oracle_traces: list[Trace]
) -> None:
    write_jsonl(oracle_traces[:1], tmp_path / "a.jsonl")
    stream = io.StringIO(oracle_traces[5].to_json() + "\n")
    assert _ids(read_traces([stream, tmp_path / "a.jsonl"])) == [T1, T6]


def test_a_file_object_of_unclear_content_is_an_error() -> None:
    with pytest.raises(TraceFormatError) as info:
        read_traces(io.StringIO("trace_id,state\n"))
    assert info.value.message == "cannot tell the format from the content; pass format="
    assert info.value.source == "<file object>"


def test_a_bad_record_in_a_directory_names_the_file_and_line(
    tmp_path: Path, oracle_traces: list[Trace]
) -> None:
    write_jsonl(oracle_traces[:2], tmp_path / "a.jsonl")
    bad = tmp_path / "b.jsonl"
    bad.write_text(oracle_traces[2].to_json() + "\n{not json\n", encoding="utf-8")
    with pytest.raises(TraceFormatError) as info:
        read_traces(tmp_path)
    assert info.value.source == str(bad)
    assert info.value.location == "line 2"
    assert info.value.message.startswith("invalid JSON at column 2")


def test_a_bad_record_in_an_open_file_names_it_and_the_line(
    tmp_path: Path, oracle_traces: list[Trace]
) -> None:
    path = tmp_path / "upload.jsonl"
    path.write_text(oracle_traces[0].to_json() + "\n{not json\n", encoding="utf-8")
    with path.open(encoding="utf-8") as handle, pytest.raises(TraceFormatError) as info:
        read_traces(handle)
    assert info.value.source == str(path)
    assert info.value.location == "line 2"


def test_a_trace_in_two_files_is_kept_twice_with_a_warning(
    tmp_path: Path, oracle_traces: list[Trace]
) -> None:
    write_jsonl(oracle_traces[:2], tmp_path / "a.jsonl")
    write_jsonl(oracle_traces[1:3], tmp_path / "b.jsonl")
    message = (
        f"trace id '{T3}' found more than once; every copy is kept (search counts "
        "each), as when one file holds a trace twice"
    )
    with pytest.warns(UserWarning, match="^" + re.escape(message) + "$"):
        frame = read_traces(tmp_path)
    assert _ids(frame) == [T6, T3, T3, T2]


def test_progress_true_draws_a_bar_on_stderr(
    mixed_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    read_traces(mixed_dir, progress=True)
    err = capsys.readouterr().err
    assert "reading traces" in err
    assert "3/3" in err


@pytest.mark.parametrize("progress", [None, False], ids=["default", "off"])
def test_no_bar_when_stderr_is_not_a_terminal(
    mixed_dir: Path, capsys: pytest.CaptureFixture[str], progress: bool | None
) -> None:
    read_traces(mixed_dir, progress=progress)
    assert capsys.readouterr().err == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_is_drawn_by_default_on_a_terminal(
    mixed_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    read_traces(mixed_dir)
    assert "reading traces" in terminal.getvalue()
