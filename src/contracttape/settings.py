"""Project settings from ``[tool.contracttape]`` in pyproject.toml.

[tool.contracttape]
cassettes = "cassettes"          # cassette root
contracts = "contracts"          # contract root
services = ["pkg.module:PROFILE"]  # extra ServiceProfile objects (or lists of them)
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracttape.errors import ConfigError
from contracttape.services import default_catalogue
from contracttape.services.profile import Catalogue, ServiceProfile


@dataclass(frozen=True)
class Settings:
    root: Path
    cassettes: Path
    contracts: Path
    services: tuple[str, ...] = ()
    prices: Path | None = None
    ledger: str = ".contracttape/ledger.json"
    # what starts when recording against the sandbox target: a callable taking SandboxConfig
    # keywords and returning a context manager with env() and origins(). The framework loads it
    # by name, so it never imports the sandbox itself.
    sandbox: str = "contracttape.sandbox:start"
    # a field is required in a contract once every one of at least this many samples had it
    required_after: int = 3
    # what the sandbox is started with ([tool.contracttape.sandbox], paths made absolute):
    # migrations and seed (by default supabase/migrations and supabase/seed.sql when the project
    # has them), functions, limits and delays; the sandbox checks them
    sandbox_options: tuple[tuple[str, Any], ...] = ()
    # hosts ("host" or "host:port") whose traffic is the app under test, not a service: sent
    # through untouched, never recorded, priced, faulted or replayed (an in-process ASGI app)
    passthrough: tuple[str, ...] = ()

    def sandbox_factory(self) -> Callable[..., Any]:
        found = _import_object(self.sandbox, self.root, "sandbox")
        if not callable(found):
            raise ConfigError(f"[tool.contracttape] sandbox {self.sandbox!r} is not callable")
        return found  # type: ignore[no-any-return]

    def catalogue(self) -> Catalogue:
        catalogue = default_catalogue()
        for spec in self.services:
            for profile in _import_profiles(spec, self.root):
                catalogue.register(profile)
        return catalogue


def find_root(start: Path) -> Path:
    """The project a command run from ``start`` belongs to: the nearest folder holding a
    pyproject.toml (as pytest finds its rootdir), else ``start`` itself."""
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def load_settings(root: Path) -> Settings:
    pyproject = root / "pyproject.toml"
    table: dict[str, object] = {}
    if pyproject.exists():
        try:
            document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{pyproject}: invalid TOML ({exc})") from exc
        tool = document.get("tool", {})
        found = tool.get("contracttape", {}) if isinstance(tool, dict) else {}
        if not isinstance(found, dict):
            raise ConfigError(
                f"{pyproject}: [tool.contracttape] must be a table (cassettes = ..., contracts = ...), "
                f"not {type(found).__name__}"
            )
        table = found
    known = {
        "cassettes",
        "contracts",
        "services",
        "prices",
        "ledger",
        "sandbox",
        "required_after",
        "passthrough",
    }
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"{pyproject}: [tool.contracttape] has unknown key(s) {unknown}; known: {sorted(known)}"
        )
    for key in ("cassettes", "contracts", "prices", "ledger"):
        if key in table and (not isinstance(table[key], str) or not table[key]):
            raise ConfigError(
                f"{pyproject}: [tool.contracttape] {key} must be a non-empty string (a path), "
                f"not {table[key]!r}"
            )
    required_after = table.get("required_after", 3)
    if isinstance(required_after, bool) or not isinstance(required_after, int) or required_after < 1:
        raise ConfigError(
            f"{pyproject}: [tool.contracttape] required_after must be a whole number >= 1 "
            f"(samples a field must be in before a contract requires it), not {required_after!r}"
        )
    services = table.get("services", [])
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        raise ConfigError(
            f"{pyproject}: [tool.contracttape] services must be a list of 'module:attribute' strings"
        )
    passthrough = table.get("passthrough", [])
    if not isinstance(passthrough, list) or not all(
        isinstance(h, str) and h and "/" not in h for h in passthrough
    ):
        raise ConfigError(
            f"{pyproject}: [tool.contracttape] passthrough must be a list of hosts "
            f'("app.test" or "127.0.0.1:8000"), not {passthrough!r}'
        )
    sandbox, sandbox_options = _sandbox_table(table.get("sandbox"), root, pyproject)
    return Settings(
        root=root,
        cassettes=root / str(table.get("cassettes", "cassettes")),
        contracts=root / str(table.get("contracts", "contracts")),
        services=tuple(services),
        prices=root / str(table["prices"]) if table.get("prices") else None,
        ledger=str(table.get("ledger", ".contracttape/ledger.json")),
        sandbox=sandbox,
        required_after=required_after,
        sandbox_options=sandbox_options,
        passthrough=tuple(h.lower() for h in passthrough),
    )


def _sandbox_table(raw: object, root: Path, pyproject: Path) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """``sandbox = "module:start"`` (the older form), or a ``[tool.contracttape.sandbox]``
    table: ``start``, ``migrations``, ``seed``, ``functions`` and the sandbox's own options."""
    if raw is None or isinstance(raw, str):
        table: dict[str, Any] = {"start": raw} if raw else {}
    elif isinstance(raw, dict):
        table = dict(raw)
    else:
        raise ConfigError(
            f"{pyproject}: [tool.contracttape] sandbox must be a table or a 'module:start' string"
        )
    start = table.pop("start", "contracttape.sandbox:start")
    if not isinstance(start, str) or not start:
        raise ConfigError(
            f"{pyproject}: [tool.contracttape.sandbox] start must be a 'module:callable' string"
        )
    for key, default in (("migrations", "supabase/migrations"), ("seed", "supabase/seed.sql")):
        if key in table:
            if not isinstance(table[key], str) or not table[key]:
                raise ConfigError(f"{pyproject}: [tool.contracttape.sandbox] {key} must be a path (a string)")
            table[key] = str(root / table[key])
        elif (root / default).exists():
            table[key] = str(root / default)  # Supabase's own layout, found by itself
    return start, tuple(sorted(table.items()))


def _import_object(spec: str, root: Path, key: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"{root / 'pyproject.toml'}: [tool.contracttape] {key} entry {spec!r} cannot be imported ({exc})"
        ) from exc


def _import_profiles(spec: str, root: Path) -> list[ServiceProfile]:
    found = _import_object(spec, root, "services")
    profiles = list(found) if isinstance(found, list | tuple) else [found]
    if not all(isinstance(p, ServiceProfile) for p in profiles):
        raise ConfigError(f"{spec!r} is not a contracttape ServiceProfile (or a list of them)")
    return profiles
