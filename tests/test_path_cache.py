"""Searches given a path reuse the loaded frame until its files change."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import polartrace
import polartrace.io
from polartrace import Trace, TraceFrame, write_jsonl
from polartrace.io import CACHE_SIZE, clear_cache

T6, T3, T2 = (
    "tr-0a6b362239fde391d3101ee1287124b5",
    "tr-e559488f8d1bc9c759e1a7968eb3dcd8",
    "tr-7e2ff8e30e3b463a1d82b69bab55f58d",
)


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The sources ``read_traces`` was called with, in order."""
    calls: list[Any] = []
    read = polartrace.io.read_traces

    def counting(source: Any, *args: Any, **kwargs: Any) -> TraceFrame:
        calls.append(source)
        return read(source, *args, **kwargs)

    monkeypatch.setattr(polartrace.io, "read_traces", counting)
    return calls


def _ids(path: Any) -> list[str]:
    found = polartrace.search_traces(path, return_type="list", order_by=["trace_id"])
    return [t.info.trace_id for t in found]


def test_a_second_search_of_a_path_does_not_read_it_again(
    tmp_path: Path, oracle_traces: list[Trace], reads: list[Any]
) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(oracle_traces[:2], path)
    assert _ids(path) == [T6, T3]
    assert polartrace.count(path, "status = 'OK'") == 2
    assert polartrace.count(str(path), None) == 2
    assert len(reads) == 1


def test_a_touched_file_is_read_again(
    tmp_path: Path, oracle_traces: list[Trace], reads: list[Any]
) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(oracle_traces[:2], path)
    polartrace.count(path, None)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    polartrace.count(path, None)
    assert len(reads) == 2


def test_a_rewritten_file_gives_its_new_traces(
    tmp_path: Path, oracle_traces: list[Trace], reads: list[Any]
) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(oracle_traces[:2], path)
    assert _ids(path) == [T6, T3]
    write_jsonl(oracle_traces[2:3], path)
    assert _ids(path) == [T2]
    assert len(reads) == 2


def test_a_different_path_is_read_separately(
    tmp_path: Path, oracle_traces: list[Trace], reads: list[Any]
) -> None:
    write_jsonl(oracle_traces[:1], tmp_path / "a.jsonl")
    write_jsonl(oracle_traces[1:2], tmp_path / "b.jsonl")
    assert _ids(tmp_path / "a.jsonl") == [T6]
    assert _ids(tmp_path / "b.jsonl") == [T3]
    assert _ids(tmp_path / "a.jsonl") == [T6]
    assert len(reads) == 2


def test_a_file_added_to_a_directory_is_read(
    tmp_path: Path, oracle_traces: list[Trace], reads: list[Any]
) -> None:
    write_jsonl(oracle_traces[:1], tmp_path / "a.jsonl")
    assert _ids(tmp_path) == [T6]
    assert _ids(tmp_path) == [T6]
    write_jsonl(oracle_traces[1:2], tmp_path / "b.jsonl")
    assert _ids(tmp_path) == [T6, T3]
    assert len(reads) == 2


def test_a_glob_is_cached_by_its_matches(
    tmp_path: Path, oracle_traces: list[Trace], reads: list[Any]
) -> None:
    write_jsonl(oracle_traces[:1], tmp_path / "a.jsonl")
    pattern = str(tmp_path / "*.jsonl")
    assert _ids(pattern) == [T6]
    assert _ids(pattern) == [T6]
    write_jsonl(oracle_traces[2:3], tmp_path / "c.jsonl")
    assert _ids(pattern) == [T6, T2]
    assert len(reads) == 2


def test_the_least_recently_used_frame_is_dropped(
    tmp_path: Path, oracle_traces: list[Trace], reads: list[Any]
) -> None:
    paths = [tmp_path / f"{i}.jsonl" for i in range(CACHE_SIZE + 1)]
    for path in paths:
        write_jsonl(oracle_traces[:1], path)
        polartrace.count(path, None)
    polartrace.count(paths[-1], None)  # still kept
    assert len(reads) == CACHE_SIZE + 1
    polartrace.count(paths[0], None)  # dropped when the last one came in
    assert reads[-1] == paths[0]
    assert len(reads) == CACHE_SIZE + 2


def test_clear_cache_drops_every_frame(
    tmp_path: Path, oracle_traces: list[Trace], reads: list[Any]
) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(oracle_traces[:1], path)
    polartrace.count(path, None)
    clear_cache()
    polartrace.count(path, None)
    assert len(reads) == 2


def test_a_list_of_paths_is_searched_and_cached(
    tmp_path: Path, oracle_traces: list[Trace], reads: list[Any]
) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(oracle_traces[1:2], first)
    write_jsonl(oracle_traces[2:3], second)
    assert _ids([first, str(second)]) == [T2, T3]
    assert polartrace.count((first, second), "status = 'OK'") == 1
    assert polartrace.count([first, str(second)], None) == 2
    assert len(reads) == 1  # a list and a tuple of the same files: one source
