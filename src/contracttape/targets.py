"""Where record traffic goes: the live services' environment (keys from the environment or a
git-ignored ``.env``), as opposed to the sandbox's."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from contracttape.errors import ConfigError
from contracttape.services.profile import Catalogue


def required_variables(catalogue: Catalogue) -> tuple[str, ...]:
    return tuple(v.name for _service, v in catalogue.live_variables() if v.default is None)


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (shell quoting allowed; comments and blanks skipped)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not name.strip().isidentifier():
            raise ConfigError(f"{path}:{number}: expected KEY=VALUE")
        parts = shlex.split(value) if value.strip() else [""]
        values[name.strip()] = parts[0] if parts else ""
    return values


class LiveEnv(dict[str, str]):
    """The live variables that are set. Reading a required one that is not set is a
    ``ConfigError`` naming it, its service and where to set it: only the services a test
    really uses need keys."""

    def __init__(self, values: Mapping[str, str], missing: Mapping[str, str], root: Path) -> None:
        super().__init__(values)
        self.missing = dict(missing)  # variable -> its service
        self.root = root

    def __missing__(self, name: str) -> str:
        service = self.missing.get(name)
        if service is None:
            raise KeyError(name)
        raise ConfigError(
            f"recording against the live services needs {name} (for {service}) in the environment or "
            f"in {self.root / '.env'} (git-ignored); or record against the sandbox (the default target)"
        )


def live_env(
    root: Path, environ: Mapping[str, str] | None = None, catalogue: Catalogue | None = None
) -> LiveEnv:
    """Every profile's live variables: the environment wins over ``<root>/.env``, which wins over
    a variable's default. A required one that is missing is an error only when it is read."""
    if catalogue is None:
        from contracttape.services import default_catalogue

        catalogue = default_catalogue()
    variables = catalogue.live_variables()
    merged = {
        **{v.name: v.default for _service, v in variables if v.default is not None},
        **read_dotenv(root / ".env"),
        **dict(environ if environ is not None else os.environ),
    }
    missing = {v.name: service for service, v in variables if not merged.get(v.name)}
    present = {v.name: str(merged[v.name]) for _service, v in variables if v.name not in missing}
    return LiveEnv(present, missing, root)


def _built_in_required() -> tuple[str, ...]:
    from contracttape.services import default_catalogue

    return required_variables(default_catalogue())


LIVE_VARIABLES = _built_in_required()  # the built-in services' required variables
