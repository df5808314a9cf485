"""What an interaction costs: a worst-case estimate before it is sent, the actual after.

Each service profile may carry a ``CostRule``. Estimates must never be below the actual cost
(the cap depends on it): token counts use the real tokenizer with a margin, chat adds the
largest possible output, LlamaParse counts the pages of the PDF being uploaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from contracttape.bodies import sse_events
from contracttape.budget.prices import PriceBook
from contracttape.model import RecordedRequest, RecordedResponse


@dataclass(frozen=True)
class Estimate:
    usd: float
    basis: str


@dataclass(frozen=True)
class Cost:
    usd: float
    units: dict[str, float] = field(default_factory=dict)
    basis: str = ""
    # LlamaParse bills at upload and reports later: the job a cost belongs to, and a later report.
    job_id: str | None = None
    reported_for_job: str | None = None
    reported_usd: float | None = None


class CostRule(Protocol):
    def estimate(self, request: RecordedRequest, prices: PriceBook) -> Estimate | None:
        """Worst case before sending; None when the rule cannot tell (the budget falls back)."""

    def actual(self, request: RecordedRequest, response: RecordedResponse, prices: PriceBook) -> Cost:
        """What the service charged for this interaction, from what it reported."""


FREE = Estimate(0.0, "free")


def stream_usage(body: bytes) -> dict[str, Any] | None:
    for event in reversed(sse_events(body)):
        if isinstance(event, dict) and isinstance(event.get("usage"), dict):
            usage: dict[str, Any] = event["usage"]
            return usage
    return None
