"""Where every client points, from one setting.

``DOCPIPE_TARGET`` is the service router: ``sandbox`` (default) takes base URLs and keys from the
running contracttape sandbox (``.contracttape/sandbox.env``, written by ``contracttape sandbox up``),
``live`` from the real services' defaults and the keys in the environment. Explicit variables
(``SUPABASE_URL``, ``OPENAI_BASE_URL``, ...) win over both, which is how the test suite hands over
the sandbox or, in replay, the logical origins of the cassettes: replay needs no setting at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from docpipe.errors import SettingsError

LIVE_DEFAULTS = {
    "OPENAI_BASE_URL": "https://api.openai.com/v1",
    "LLAMA_CLOUD_BASE_URL": "https://api.cloud.llamaindex.ai",
}
KEYS = ("SUPABASE_URL", "SUPABASE_ANON_KEY", "OPENAI_API_KEY", "LLAMA_CLOUD_API_KEY")


@dataclass(frozen=True)
class Prices:
    """USD. LlamaParse: 1,000 credits = $1.25, credits per page by tier; OpenAI embeddings per 1M tokens."""

    usd_per_credit: float = 1.25 / 1000
    credits_per_page: Mapping[str, int] = field(
        default_factory=lambda: {"fast": 1, "cost_effective": 3, "agentic": 10, "agentic_plus": 45}
    )
    embedding_per_1m: Mapping[str, float] = field(
        default_factory=lambda: {
            "text-embedding-3-small": 0.02,
            "text-embedding-3-large": 0.13,
            "text-embedding-ada-002": 0.10,
        }
    )


@dataclass(frozen=True)
class Settings:
    supabase_url: str
    supabase_anon_key: str
    openai_base_url: str
    openai_api_key: str
    llama_base_url: str
    llama_api_key: str
    # LlamaParse webhooks: when docpipe is reachable at public_url, jobs report there (signed
    # with webhook_secret); otherwise, and always as a safety net, the job is polled
    public_url: str | None = None
    webhook_secret: str | None = None
    tier: str = "cost_effective"
    embedding_model: str = "text-embedding-3-small"
    embed_batch: int = 16
    chunk_tokens: int = 200
    # budgets (USD) the pipeline enforces before spending, and alert fractions of each
    document_budget_usd: float = 0.50
    user_budget_usd: float = 5.00
    alert_fractions: tuple[float, ...] = (0.5, 0.8, 1.0)
    alert_webhook_url: str | None = None
    # resilience: attempts per call, the first backoff (doubles, capped), client-side rate
    attempts: int = 4
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 20.0
    requests_per_second: float = 20.0
    poll_seconds: float = 1.0
    parse_timeout_seconds: float = 600.0
    prices: Prices = field(default_factory=Prices)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, root: Path | None = None) -> Settings:
        given = dict(os.environ if env is None else env)
        target = given.get("DOCPIPE_TARGET", "sandbox")
        if target == "sandbox":
            base = _sandbox_env((root or Path.cwd()) / ".contracttape" / "sandbox.env")
        elif target == "live":
            base = dict(LIVE_DEFAULTS)
        else:
            raise SettingsError(f"DOCPIPE_TARGET must be 'sandbox' or 'live', not {target!r}")
        merged = {**base, **given}
        missing = [k for k in KEYS if not merged.get(k)]
        if missing:
            where = (
                "start the sandbox (make sandbox) or set them"
                if target == "sandbox"
                else "set them in the environment or .env"
            )
            raise SettingsError(f"docpipe needs {', '.join(missing)} (DOCPIPE_TARGET={target}): {where}")
        return cls(
            supabase_url=merged["SUPABASE_URL"].rstrip("/"),
            supabase_anon_key=merged["SUPABASE_ANON_KEY"],
            openai_base_url=merged.get("OPENAI_BASE_URL", LIVE_DEFAULTS["OPENAI_BASE_URL"]).rstrip("/"),
            openai_api_key=merged["OPENAI_API_KEY"],
            llama_base_url=merged.get("LLAMA_CLOUD_BASE_URL", LIVE_DEFAULTS["LLAMA_CLOUD_BASE_URL"]).rstrip(
                "/"
            ),
            llama_api_key=merged["LLAMA_CLOUD_API_KEY"],
            public_url=(merged.get("DOCPIPE_PUBLIC_URL") or "").rstrip("/") or None,
            webhook_secret=merged.get("LLAMA_CLOUD_WEBHOOK_SECRET") or None,
            alert_webhook_url=merged.get("DOCPIPE_ALERT_WEBHOOK") or None,
            document_budget_usd=_number(merged, "DOCPIPE_DOCUMENT_BUDGET_USD", 0.50),
            user_budget_usd=_number(merged, "DOCPIPE_USER_BUDGET_USD", 5.00),
            poll_seconds=_number(merged, "DOCPIPE_POLL_SECONDS", 1.0),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of US dollars, not {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, got {raw!r}")
    return value


def _sandbox_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            found[name.strip()] = value.strip().strip("'\"")
    return found
