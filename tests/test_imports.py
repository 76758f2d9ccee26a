"""No import cycles between the modules of msrgan and zoo (scripts/check_imports.py)."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.one_backend  # reads source files only

ROOT = Path(__file__).resolve().parent.parent


def _checker():
    spec = importlib.util.spec_from_file_location("check_imports", ROOT / "scripts" / "check_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_package_has_no_import_cycle():
    check = _checker()
    assert check.cycles(check.import_graph(check.modules())) == []


def test_the_checker_finds_deferred_and_relative_cycles_and_spares_a_chain(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import f\n",
        "pkg/b.py": "def f():\n    from pkg import a  # deferred, still a dependency\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "from . import d\n",
        "pkg/sub/d.py": "from .c import x\n",
        "pkg/sub/e.py": "from pkg.sub import c\nimport numpy\n",  # depends on the cycle, is not in it
    })
    check = _checker()
    graph = check.import_graph(check.modules(tmp_path, packages=("pkg",)))
    assert graph["pkg.sub.e"] == {"pkg.sub.c"}
    assert check.cycles(graph) == [["pkg.a", "pkg.b"], ["pkg.sub.c", "pkg.sub.d"]]
