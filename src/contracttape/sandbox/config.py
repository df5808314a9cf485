"""Sandbox settings: API revision, keys, delays and the limits that make it answer 429/402."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _key(prefix: str) -> str:
    return f"{prefix}sandbox-{secrets.token_hex(12)}"


@dataclass(frozen=True)
class SandboxConfig:
    """Everything configurable about one sandbox instance.

    Keys are random per instance: a live key can never be accepted by the sandbox, and a sandbox
    key is useless anywhere else.
    """

    revision: int = 1
    openai_api_key: str = field(default_factory=lambda: _key("sk-"))
    llama_api_key: str = field(default_factory=lambda: _key("llx-"))
    webhook_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    # OpenAI limits (None = unlimited): requests and tokens per minute, and a token quota.
    openai_rpm: int | None = None
    openai_tpm: int | None = None
    openai_quota_tokens: int | None = None
    # LlamaParse: seconds from upload to a finished job, credit balance, requests per minute.
    job_seconds: float = 0.3
    # instead of time, a job finishes after this many status reads (half of them PENDING): the
    # same polling records the same traffic, however loaded the machine is
    job_polls: int | None = None
    llama_credits: float | None = None
    llama_rpm: int | None = None
    webhook_attempts: int = 5
    webhook_backoff_seconds: float = 0.2
    # Supabase edge functions: name -> async handler(body, claims, project)
    functions: Mapping[str, Any] = field(default_factory=dict)
    # the project's own schema: SQL migrations (applied in name order) and a seed; none: the
    # document pipeline's built-in schema
    migrations: tuple[Path, ...] = ()
    seed: Path | None = None

    def __post_init__(self) -> None:
        if self.revision not in (1, 2):
            raise ValueError(f"sandbox revision must be 1 or 2, not {self.revision!r}")
