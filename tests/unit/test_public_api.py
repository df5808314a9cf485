from __future__ import annotations
import __future__

import importlib
import pkgutil

import pytest

import contracttape


def test_all_is_exactly_the_public_names() -> None:
    # the names are imported on first use (importing contracttape stays cheap): dir() shows them
    public = {
        name
        for name in dir(contracttape)
        if name.isidentifier()
        and not name.startswith("_")
        and not isinstance(getattr(contracttape, name), __future__._Feature)
    }
    modules = {m.name for m in pkgutil.iter_modules(contracttape.__path__)}
    assert set(contracttape.__all__) - {"__version__"} == public - modules
    for name in contracttape.__all__:
        assert getattr(contracttape, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'TapeSessions'"):
        contracttape.TapeSessions  # noqa: B018


def test_importing_contracttape_imports_none_of_its_heavy_parts() -> None:
    """``import contracttape`` and the pytest plugin import no vcrpy, jsonschema, SDK or sandbox:
    those come when a run uses them (``make bench`` times the import)."""
    import sys

    from tests import warm_python

    code = (
        "import sys, pytest, contracttape, contracttape.plugin; "
        "heavy = ['vcr', 'jsonschema', 'openai', 'httpx2', 'psycopg', 'yaml', 'contracttape.sandbox', "
        "'contracttape.session', 'contracttape.contracts.book', 'contracttape.budget']; "
        "print([m for m in heavy if m in sys.modules])"
    )
    # a fresh interpreter: a warm run (tests/warm_python.py) has imported all of them already
    found = warm_python.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cold=True
    )
    assert found.stdout.strip() == "[]"


def test_every_module_imports_and_documents_itself() -> None:
    for info in pkgutil.iter_modules(contracttape.__path__):
        if info.name == "__main__":
            continue
        module = importlib.import_module(f"contracttape.{info.name}")
        assert module.__doc__, f"contracttape.{info.name} has no module docstring"


def test_every_data_file_is_packaged() -> None:
    """Non-Python files under src/contracttape must be listed as package data (or installs break)."""
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(contracttape.__file__).parent
    patterns = tomllib.loads((root.parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["contracttape"]
    data_files = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert data_files, "expected some data files (prices, schema)"
    unpackaged = [f for f in data_files if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)]
    assert unpackaged == []
