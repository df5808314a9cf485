from __future__ import annotations
import __future__

import importlib
import pkgutil

import contracttape


def test_all_is_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(contracttape).items()
        if name.isidentifier() and not name.startswith("_") and not isinstance(value, __future__._Feature)
    }
    modules = {m.name for m in pkgutil.iter_modules(contracttape.__path__)}
    assert set(contracttape.__all__) - {"__version__"} == public - modules
    for name in contracttape.__all__:
        assert getattr(contracttape, name) is not None


def test_every_module_imports_and_documents_itself() -> None:
    for info in pkgutil.iter_modules(contracttape.__path__):
        if info.name == "__main__":
            continue
        module = importlib.import_module(f"contracttape.{info.name}")
        assert module.__doc__, f"contracttape.{info.name} has no module docstring"
