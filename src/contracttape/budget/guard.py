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
from dataclasses import dataclass, replace

from contracttape.budget.costs import Cost, CostRule, Estimate
from contracttape.budget.ledger import REFUSED, Entry, Ledger, new_entry
from contracttape.budget.prices import PriceBook
from contracttape.errors import BudgetExceeded, PricingError
from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.services.profile import Catalogue


@dataclass(frozen=True)
class Priced:
    """A request's worst-case estimate, and what priced it."""

    service: str
    endpoint: str
    rule: CostRule | None  # None: a free service, or a host no profile knows
    known_service: bool
    estimate: Estimate
    # A service that bills, an endpoint its cost rule does not price: no worst case exists, so
    # under a cap it is refused; without one it is settled from the usage the answer reports.
    unpriced: bool = False


def estimate_request(
    catalogue: Catalogue,
    prices: PriceBook,
    request: RecordedRequest,
    recorded_cost: float | None = None,
    shown: str | None = None,
) -> Priced:
    """The worst case of ``request`` as sent; ``shown`` (its redacted form) names an endpoint
    no profile knows, since the name is written to the ledger."""
    endpoint = catalogue.endpoint(request, 200)
    profile = catalogue.profile(endpoint.service) if endpoint else None
    service = endpoint.service if endpoint else "unknown"
    where = f"{endpoint.method} {endpoint.template}" if endpoint else (shown or request.describe())
    if profile is not None and profile.costs is None:
        return Priced(service, where, None, True, Estimate(0.0, f"{service} is free"))
    rule = profile.costs if profile else None
    try:
        found = rule.estimate(request, prices) if rule else None
        why = f"{where} has no price"
    except PricingError as missing:  # e.g. a model the price file does not list
        found, why = None, str(missing)
    if found is None and rule is not None:
        return Priced(service, where, rule, True, Estimate(0.0, f"unpriced: {service} bills, {why}"), True)
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

    @property
    def capped(self) -> bool:
        return self.cap is not None or self.monthly_cap is not None

    def reserve(
        self,
        test_id: str,
        request: RecordedRequest,
        recorded_cost: float | None = None,
        *,
        shown: str | None = None,
    ) -> Reservation:
        """Price ``request`` (exactly as it will be sent) and reserve its worst case.

        ``shown`` is how the request appears in the ledger and in messages: the redacted form,
        since the ledger and the terminal are written too."""
        shown = shown or request.describe()
        priced = estimate_request(self.catalogue, self.prices, request, recorded_cost, shown)
        estimate = priced.estimate
        entry = new_entry(
            self.run_id, test_id, priced.service, priced.endpoint, shown, estimate.usd, estimate.basis
        )
        if priced.unpriced and self.capped:
            entry = replace(entry, basis="refused: unpriced endpoint under a cap")
            self.ledger.reserve(replace(entry, state=REFUSED), None, None)
            raise BudgetExceeded(
                f"{test_id}: refused before sending {shown}: {priced.service} bills for its API, but "
                f"no worst case can be reserved under the cap ({estimate.basis}). Nothing was sent. "
                "Price it (a price file entry, or a Route and cost in the service's profile: see "
                "README, 'Budget'), or record this test without a cap against the sandbox."
            )
        refusal = self.ledger.reserve(entry, self.cap, self.monthly_cap)
        if refusal is not None:
            raise BudgetExceeded(
                self._refusal_message(test_id, shown, estimate, refusal.remaining, refusal.scope)
            )
        return Reservation(entry, priced)

    def _refusal_message(
        self, test_id: str, shown: str, estimate: Estimate, remaining: float, scope: str
    ) -> str:
        if scope == "exhausted":
            why = "an earlier request in this run was already refused, so this run records nothing more"
        else:
            cap = self.cap if scope == "run" else self.monthly_cap
            label = "this run's" if scope == "run" else "this month's"
            why = f"it does not fit in {label} cap of ${cap:.4f}: ${max(remaining, 0):.6f} left"
        return (
            f"{test_id}: refused before sending {shown}: "
            f"worst-case estimate ${estimate.usd:.6f} ({estimate.basis}); {why}. "
            "Nothing was sent and the cassette was left as it was. Raise the cap (--budget-usd / BUDGET=) "
            "or record fewer tests; `contracttape record --plan` shows what a run costs."
        )

    def settle(self, reservation: Reservation, request: RecordedRequest, response: RecordedResponse) -> Cost:
        if reservation.priced.rule is not None:
            try:
                cost = reservation.priced.rule.actual(request, response, self.prices)
            except PricingError as missing:  # sent with no cap, unpriced: what it cost is unknown
                cost = Cost(0.0, basis=f"cost unknown: {missing}")
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

    def sync(self) -> None:
        """What the ledger holds of this process's spending, put on the disk: called when a
        test's recording ends (every process sees each settlement as soon as it is written).
        A ledger of one's own without ``sync`` is taken to be durable already."""
        sync = getattr(self.ledger, "sync", None)
        if sync is not None:
            sync()
