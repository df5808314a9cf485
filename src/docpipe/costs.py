"""What a document costs, the budgets the pipeline enforces, and alerts as spending grows.

Every paid step is estimated before it is sent (pages x credits for LlamaParse, tiktoken counts
for embeddings) and refused when the document's or the user's spend plus the estimate would pass
its budget; what was really spent (LlamaParse credits, OpenAI usage) is added afterwards. An alert
fires once for each configured fraction of a budget that the spend crosses: logged, and posted as
JSON to ``DOCPIPE_ALERT_WEBHOOK`` when set.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import httpx

from docpipe.errors import BudgetRefused
from docpipe.settings import Settings

log = logging.getLogger("docpipe.costs")


@dataclass(frozen=True)
class Alert:
    scope: str  # "document" or "user"
    subject: str  # the document id or the user id
    fraction: float
    spent_usd: float
    budget_usd: float

    def text(self) -> str:
        return (
            f"{self.scope} {self.subject} has spent ${self.spent_usd:.6f}, "
            f"{self.fraction:.0%} of its ${self.budget_usd:.2f} budget"
        )


@dataclass
class Costs:
    settings: Settings
    http: httpx.AsyncClient | None = None  # posts alerts; None: log only
    alerts: list[Alert] = field(default_factory=list)

    def parse_estimate(self, pages: int, tier: str) -> float:
        prices = self.settings.prices
        return (
            pages
            * prices.credits_per_page.get(tier, max(prices.credits_per_page.values()))
            * (prices.usd_per_credit)
        )

    def parse_cost(self, credits: float) -> float:
        return credits * self.settings.prices.usd_per_credit

    def embed_cost(self, tokens: int) -> float:
        per_1m = self.settings.prices.embedding_per_1m.get(self.settings.embedding_model, 0.13)
        return tokens * per_1m / 1_000_000

    def check(self, step: str, document_spent: float, user_spent: float, estimate: float) -> None:
        """Refuse, before anything is sent, a step that could pass either budget."""
        for scope, spent, budget in (
            ("document", document_spent, self.settings.document_budget_usd),
            ("user", user_spent, self.settings.user_budget_usd),
        ):
            if spent + estimate > budget + 1e-12:
                raise BudgetRefused(
                    step,
                    f"would cost up to ${estimate:.6f}; the {scope} has spent ${spent:.6f} of its "
                    f"${budget:.2f} budget. Nothing was sent. Raise DOCPIPE_{scope.upper()}_BUDGET_USD "
                    "or split the document.",
                )

    async def spent(
        self, document_id: str, user_id: str, doc: tuple[float, float], user: tuple[float, float]
    ) -> None:
        """Spend moved from ``before`` to ``after`` (pairs for the document and the user): alert
        on every fraction crossed."""
        for scope, subject, (before, after), budget in (
            ("document", document_id, doc, self.settings.document_budget_usd),
            ("user", user_id, user, self.settings.user_budget_usd),
        ):
            if budget <= 0:
                continue
            for fraction in self.settings.alert_fractions:
                line = fraction * budget
                if before < line <= after:
                    await self._alert(Alert(scope, subject, fraction, round(after, 9), budget))

    async def _alert(self, alert: Alert) -> None:
        self.alerts.append(alert)
        log.warning("cost alert: %s", alert.text())
        if self.http is not None and self.settings.alert_webhook_url:
            try:
                await self.http.post(self.settings.alert_webhook_url, json={"alert": asdict(alert)})
            except httpx.HTTPError as exc:  # an alert that cannot be posted is logged, never fatal
                log.error("cost alert could not be posted to %s: %s", self.settings.alert_webhook_url, exc)
