"""Where record traffic goes: the live services' environment (keys from the environment or a
git-ignored ``.env``), as opposed to the sandbox's."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from contracttape.errors import ConfigError

LIVE_VARIABLES = (
    "OPENAI_API_KEY",
    "SUPABASE_URL",
    "SUPABASE_ANON_KEY",
    "SUPABASE_SERVICE_ROLE_KEY",
    "LLAMA_CLOUD_API_KEY",
)
LIVE_DEFAULTS = {
    "OPENAI_BASE_URL": "https://api.openai.com/v1",
    "LLAMA_CLOUD_BASE_URL": "https://api.cloud.llamaindex.ai",
}


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


def live_env(root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The live services' variables: the environment wins over ``<root>/.env``; all keys required."""
    merged = {
        **LIVE_DEFAULTS,
        **read_dotenv(root / ".env"),
        **dict(environ if environ is not None else os.environ),
    }
    missing = [name for name in LIVE_VARIABLES if not merged.get(name)]
    if missing:
        raise ConfigError(
            f"recording against the live services needs {', '.join(missing)} in the environment or in "
            f"{root / '.env'} (git-ignored); or record against the sandbox (the default target)"
        )
    return {name: merged[name] for name in (*LIVE_VARIABLES, *LIVE_DEFAULTS)}
