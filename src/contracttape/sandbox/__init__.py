"""The sandbox: local stand-ins of OpenAI, LlamaParse and Supabase that speak the real wire
formats on real loopback sockets, so that record mode, drift and the framework's own tests run
anywhere with no keys and no internet. See docs/sandbox.md.
"""

from __future__ import annotations

import importlib
from dataclasses import fields
from pathlib import Path
from typing import Any

from contracttape.errors import ConfigError
from contracttape.sandbox.config import SandboxConfig
from contracttape.sandbox.runner import AI_SERVICES, ALL_SERVICES, Sandbox

WHERE = "[tool.contracttape.sandbox]"


def start(**options: Any) -> Sandbox:
    """The target the framework starts when recording against the sandbox (the default
    ``[tool.contracttape.sandbox] start``). ``options`` are ``SandboxConfig`` fields, from the
    project's ``[tool.contracttape.sandbox]`` table and the ``contracttape_sandbox_options``
    fixture: ``migrations`` may be a folder of ``.sql`` files, ``functions`` a
    ``"module:attribute"`` naming a mapping of edge functions."""
    return Sandbox(config_from(options))


def config_from(options: dict[str, Any]) -> SandboxConfig:
    """A ``SandboxConfig`` from settings-style values; a bad one is a ``ConfigError`` naming it."""
    values = dict(options)
    known = {f.name for f in fields(SandboxConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{WHERE}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    migrations = values.get("migrations")
    if isinstance(migrations, str | Path):
        folder = Path(migrations)
        if not folder.is_dir():
            raise ConfigError(f"{WHERE} migrations = {str(migrations)!r} is not a folder of .sql files")
        values["migrations"] = tuple(sorted(folder.glob("*.sql")))
    elif migrations is not None:
        values["migrations"] = tuple(Path(m) for m in migrations)
    if values.get("seed") is not None:
        seed = Path(values["seed"])
        if not seed.is_file():
            raise ConfigError(f"{WHERE} seed = {str(seed)!r} does not exist")
        values["seed"] = seed
    if isinstance(values.get("functions"), str):
        spec = values["functions"]
        module, _, attribute = spec.partition(":")
        try:
            values["functions"] = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(f"{WHERE} functions = {spec!r} cannot be imported ({exc})") from None
    try:
        return SandboxConfig(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{WHERE}: {exc}") from None


__all__ = ["AI_SERVICES", "ALL_SERVICES", "Sandbox", "SandboxConfig", "start"]
