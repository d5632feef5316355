"""The built wheel: its distribution name, version, dependencies and package data.

The wheel is built once from this checkout with the project's own build backend
(hatchling, a dev dependency; no network), then read as a zip file.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

import polartrace

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


@pytest.fixture(scope="module")
def metadata(wheel: zipfile.ZipFile) -> Message:
    (name,) = (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    return Parser().parsestr(wheel.read(name).decode("utf-8"))


def test_wheel_ships_the_grammar(wheel: zipfile.ZipFile) -> None:
    assert "polartrace/language/grammar.lark" in wheel.namelist()


def test_wheel_ships_the_type_marker(wheel: zipfile.ZipFile) -> None:
    assert "polartrace/py.typed" in wheel.namelist()


def test_wheel_holds_only_the_polartrace_package(wheel: zipfile.ZipFile) -> None:
    tops = {n.split("/")[0] for n in wheel.namelist() if ".dist-info/" not in n}
    assert tops == {"polartrace"}


def test_distribution_is_named_polartrace_query(metadata: Message) -> None:
    assert metadata["Name"] == "polartrace-query"


def test_distribution_version_is_the_package_version(metadata: Message) -> None:
    assert metadata["Version"] == polartrace.__version__


def test_pandas_is_a_core_dependency(metadata: Message) -> None:
    requires = metadata.get_all("Requires-Dist") or []
    assert "pandas>=2.2" in requires


def test_console_script_is_polartrace(wheel: zipfile.ZipFile) -> None:
    (name,) = (n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    text = wheel.read(name).decode("utf-8")
    assert "[console_scripts]\npolartrace = polartrace.cli.main:main" in text
