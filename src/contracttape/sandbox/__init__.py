"""The sandbox: local stand-ins of OpenAI, LlamaParse and Supabase that speak the real wire
formats on real loopback sockets, so that record mode, drift and the framework's own tests run
anywhere with no keys and no internet. See docs/sandbox.md.
"""

from __future__ import annotations

from typing import Any

from contracttape.sandbox.config import SandboxConfig
from contracttape.sandbox.runner import AI_SERVICES, ALL_SERVICES, Sandbox


def start(**options: Any) -> Sandbox:
    """The target the framework starts when recording against the sandbox (the default of
    ``[tool.contracttape] sandbox``); ``options`` are ``SandboxConfig`` fields."""
    return Sandbox(SandboxConfig(**options))


__all__ = ["AI_SERVICES", "ALL_SERVICES", "Sandbox", "SandboxConfig", "start"]
