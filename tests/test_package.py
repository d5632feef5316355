"""The public names of ``polartrace`` and what importing them loads.

The package exports its names lazily (PEP 562): ``import polartrace`` loads no
dataframe library, and a name loads only the modules it needs. Which modules end up
in ``sys.modules`` is checked in a fresh interpreter; no test here measures time
(``python -m benchmarks.import_time`` does).
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import polartrace

INIT = Path(polartrace.__file__)
HEAVY = (
    "polars",
    "pyarrow",
    "pandas",
    "numpy",
    "openai",
    "sqlalchemy",
    "yaml",
    "matplotlib",
)


def loaded_after(code: str) -> list[str]:
    """The heavy top-level modules a fresh interpreter holds after running ``code``."""
    probe = (
        f"{code}\nimport sys\nprint(*sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.split()


@pytest.mark.parametrize("name", polartrace.__all__, ids=polartrace.__all__)
def test_every_public_name_imports_from_the_package(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from polartrace import {name}", namespace)
    assert namespace[name] is getattr(polartrace, name)


def test_public_names_are_the_export_table() -> None:
    assert polartrace.__all__ == sorted(polartrace._EXPORTS)


def test_every_public_name_comes_from_its_module() -> None:
    for name, module in polartrace._EXPORTS.items():
        value = getattr(polartrace, name)
        home = importlib.import_module(module)
        assert value is home or value is getattr(home, name), name


def test_type_checking_block_imports_exactly_the_export_table() -> None:
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    seen: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        assert node.module is not None
        for alias in node.names:
            assert alias.asname == alias.name, alias.name  # an explicit re-export
            module = f"{node.module}.{alias.name}"
            seen[alias.name] = node.module if node.module != "polartrace" else module
    assert seen == polartrace._EXPORTS


def test_dir_lists_every_public_name() -> None:
    assert set(polartrace.__all__) <= set(dir(polartrace))


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(
        AttributeError,
        match=re.escape("module 'polartrace' has no attribute 'serch_traces'"),
    ):
        _ = polartrace.serch_traces  # type: ignore[attr-defined]


def test_submodules_still_import_from_the_package() -> None:
    namespace: dict[str, object] = {}
    exec("from polartrace import language, catalogue", namespace)
    assert namespace["catalogue"] is importlib.import_module("polartrace.catalogue")


def test_version_is_the_release() -> None:
    assert polartrace.__version__ == "0.1.0"


def test_import_polartrace_loads_no_heavy_module() -> None:
    assert loaded_after("import polartrace") == []


def test_the_command_line_module_loads_no_heavy_module() -> None:
    assert loaded_after("import polartrace.cli.main") == []


def test_the_command_line_help_loads_no_heavy_module() -> None:
    code = (
        "import contextlib, io\nimport polartrace.cli.main as m\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    m.main(['--help'])"
    )
    assert loaded_after(code) == []


def test_metrics_load_no_chart_library() -> None:
    code = (
        "import polartrace\n"
        "polartrace.metrics([], metrics=['count'], group_by='status', "
        "return_type='polars')"
    )
    assert loaded_after(code) == ["polars"]


def test_search_traces_loads_polars_only() -> None:
    assert loaded_after("from polartrace import search_traces") == ["polars"]


def test_reading_functions_load_polars_only() -> None:
    assert loaded_after("from polartrace import read_traces, write_jsonl") == ["polars"]


def test_tracing_loads_polars_only() -> None:
    assert loaded_after("import polartrace\n@polartrace.trace\ndef f(): pass") == [
        "polars"
    ]


def test_pandas_output_loads_pandas_and_pyarrow() -> None:
    code = (
        "import polartrace\n"
        "polartrace.search_traces(polartrace.TraceFrame.from_traces([]), None)"
    )
    assert {"pandas", "pyarrow"} <= set(loaded_after(code))
