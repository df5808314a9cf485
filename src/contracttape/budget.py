"""The budget: every request priced before it is sent, and refused if it could cross the cap.

``Budget.reserve`` runs before a request leaves the process (record and drift modes only). It
estimates the worst case with the service's ``CostRule`` (or the last recorded cost of the same
request, or a conservative default), and reserves it in the ``Ledger``; if it does not fit what
is left, ``BudgetExceeded`` is raised and the request is never sent. ``Budget.settle`` replaces
the reservation with what the service reported. Once one request is refused, the run records
nothing more.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from contracttape.costs import Cost, CostRule, Estimate
from contracttape.endpoints import Catalogue
from contracttape.errors import BudgetExceeded
from contracttape.ledger import Entry, Ledger, new_entry
from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.pricing import PriceBook


@dataclass(frozen=True)
class Priced:
    """A request's worst-case estimate, and what priced it."""

    service: str
    endpoint: str
    rule: CostRule | None  # None: a free service, or a host no profile knows
    known_service: bool
    estimate: Estimate


def estimate_request(
    catalogue: Catalogue, prices: PriceBook, request: RecordedRequest, recorded_cost: float | None = None
) -> Priced:
    endpoint = catalogue.endpoint(request, 200)
    profile = catalogue.profile(endpoint.service) if endpoint else None
    service = endpoint.service if endpoint else "unknown"
    where = f"{endpoint.method} {endpoint.template}" if endpoint else request.describe()
    if profile is not None and profile.costs is None:
        return Priced(service, where, None, True, Estimate(0.0, f"{service} is free"))
    rule = profile.costs if profile else None
    found = rule.estimate(request, prices) if rule else None
    if found is None and recorded_cost is not None:
        found = Estimate(recorded_cost, "the last recorded cost of this request")
    if found is None:
        found = Estimate(prices.default_estimate, "no rule and no recording: the conservative default")
    return Priced(service, where, rule, profile is not None, found)


@dataclass(frozen=True)
class Reservation:
    entry: Entry
    priced: Priced


class Budget:
    def __init__(
        self,
        *,
        ledger: Ledger,
        run_id: str,
        prices: PriceBook,
        catalogue: Catalogue,
        cap: float | None = None,
        monthly_cap: float | None = None,
    ) -> None:
        self.ledger, self.run_id, self.prices, self.catalogue = ledger, run_id, prices, catalogue
        self.cap, self.monthly_cap = cap, monthly_cap
        self._jobs: dict[str, str] = {}  # LlamaParse job id -> the ledger entry of its upload
        self._lock = threading.Lock()

    def reserve(
        self, test_id: str, request: RecordedRequest, recorded_cost: float | None = None
    ) -> Reservation:
        priced = estimate_request(self.catalogue, self.prices, request, recorded_cost)
        estimate = priced.estimate
        entry = new_entry(
            self.run_id,
            test_id,
            priced.service,
            priced.endpoint,
            request.describe(),
            estimate.usd,
            estimate.basis,
        )
        refusal = self.ledger.reserve(entry, self.cap, self.monthly_cap)
        if refusal is not None:
            raise BudgetExceeded(
                self._refusal_message(test_id, request, estimate, refusal.remaining, refusal.scope)
            )
        return Reservation(entry, priced)

    def _refusal_message(
        self, test_id: str, request: RecordedRequest, estimate: Estimate, remaining: float, scope: str
    ) -> str:
        if scope == "exhausted":
            why = "an earlier request in this run was already refused, so this run records nothing more"
        else:
            cap = self.cap if scope == "run" else self.monthly_cap
            label = "this run's" if scope == "run" else "this month's"
            why = f"it does not fit in {label} cap of ${cap:.4f}: ${max(remaining, 0):.6f} left"
        return (
            f"{test_id}: refused before sending {request.describe()}: "
            f"worst-case estimate ${estimate.usd:.6f} ({estimate.basis}); {why}. "
            "Nothing was sent and the cassette was left as it was. Raise the cap (--budget-usd / BUDGET=) "
            "or record fewer tests; `contracttape record --plan` shows what a run costs."
        )

    def settle(self, reservation: Reservation, request: RecordedRequest, response: RecordedResponse) -> Cost:
        if reservation.priced.rule is not None:
            cost = reservation.priced.rule.actual(request, response, self.prices)
        elif reservation.priced.known_service:
            cost = Cost(0.0, basis="free service")
        else:  # no profile for this host: what it really cost is unknown, keep the worst case
            cost = Cost(reservation.entry.estimate, basis="unknown service: the estimate is kept")
        self.ledger.settle(reservation.entry.id, cost.usd, cost.basis)
        with self._lock:
            if cost.job_id:
                self._jobs[cost.job_id] = reservation.entry.id
            upload = self._jobs.pop(cost.reported_for_job, None) if cost.reported_for_job else None
        if upload is not None and cost.reported_usd is not None:
            self.ledger.adjust(upload, cost.reported_usd, "reported by the job (job_metadata)")
        return cost
