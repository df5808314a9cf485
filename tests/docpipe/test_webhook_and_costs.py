"""Webhook signature checks and cost alerts, table-driven."""

from __future__ import annotations

import asyncio
import time

import pytest

from docpipe.costs import Costs
from docpipe.errors import BudgetRefused
from docpipe.parse import JobEvents, signature, verify_delivery
from docpipe.settings import Settings

SECRET = "s3cret"
BODY = b'{"job_id": "j1", "status": "COMPLETED"}'
NOW = 1_800_000_000


def _signed(timestamp: int = NOW, secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    return {
        "X-LlamaCloud-Timestamp": str(timestamp),
        "X-LlamaCloud-Signature": signature(secret, str(timestamp), body),
    }


@pytest.mark.parametrize(
    ("secret", "headers", "body", "refused"),
    [
        (SECRET, _signed(), BODY, None),
        (SECRET, {k.lower(): v for k, v in _signed().items()}, BODY, None),  # header case is free
        (SECRET, _signed(secret="other"), BODY, "bad signature"),
        (SECRET, _signed(), BODY + b" ", "bad signature"),
        (SECRET, _signed(timestamp=NOW - 301), BODY, "stale delivery (301 s old)"),
        (SECRET, _signed(timestamp=NOW + 301), BODY, "stale delivery (301 s old)"),
        (SECRET, {"X-LlamaCloud-Signature": "sha256=00"}, BODY, "unsigned delivery"),
        (SECRET, {**_signed(), "X-LlamaCloud-Timestamp": "noon"}, BODY, "malformed timestamp"),
        (None, _signed(), BODY, "no webhook secret is configured (LLAMA_CLOUD_WEBHOOK_SECRET)"),
    ],
)
def test_deliveries(secret: str | None, headers: dict[str, str], body: bytes, refused: str | None) -> None:
    assert verify_delivery(secret, headers, body, now=NOW) == refused


async def test_a_delivery_from_another_thread_wakes_the_waiter() -> None:
    events = JobEvents()
    loop = asyncio.get_running_loop()
    waiting = asyncio.ensure_future(events.wait("j1", 30))
    await asyncio.sleep(0)
    started = time.monotonic()
    await loop.run_in_executor(None, events.arrived, {"job_id": "j1", "status": "COMPLETED"})
    assert await waiting is True
    assert time.monotonic() - started < 5
    assert await events.wait("j1", 30) is True  # already arrived: no wait
    assert await events.wait("j2", 0.01) is False


def _settings(**overrides: object) -> Settings:
    base = Settings("http://s", "anon", "http://o", "sk", "http://l", "llx")
    return Settings(**{**base.__dict__, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("steps", "fractions", "expected"),
    [
        ([0.4, 0.6], (0.5, 0.8, 1.0), [0.5]),
        ([0.4, 0.5, 0.9, 1.2], (0.5, 0.8, 1.0), [0.5, 0.8, 1.0]),
        ([0.9], (0.5, 0.8), [0.5, 0.8]),  # one jump crosses two lines: both alert, once each
        ([0.1, 0.2], (0.5,), []),
    ],
)
async def test_alerts_fire_once_per_fraction_crossed(
    steps: list[float], fractions: tuple[float, ...], expected: list[float]
) -> None:
    costs = Costs(_settings(document_budget_usd=1.0, user_budget_usd=100.0, alert_fractions=fractions))
    before = 0.0
    for after in steps:
        await costs.spent("d", "u", (before, after), (0.0, 0.0))
        before = after
    assert [a.fraction for a in costs.alerts] == expected
    assert {a.scope for a in costs.alerts} <= {"document"}


def test_budget_refusal_names_the_scope_and_what_to_do() -> None:
    costs = Costs(_settings(document_budget_usd=0.01, user_budget_usd=1.0))
    costs.check("parse", 0.0, 0.0, 0.01)  # exactly the budget: allowed
    with pytest.raises(BudgetRefused) as refused:
        costs.check("parse", 0.005, 0.0, 0.0075)
    assert "the document has spent $0.005000 of its $0.01 budget" in str(refused.value)
    assert "DOCPIPE_DOCUMENT_BUDGET_USD" in str(refused.value)
    with pytest.raises(BudgetRefused, match="the user has spent"):
        costs.check("embed", 0.0, 0.999, 0.01)
