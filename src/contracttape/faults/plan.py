"""Which request gets which fault: one plan per test, counting matching calls per fault.

Declared faults are tried in order; the first one whose call count says "now" is served. Under
``--chaos`` a request to a known service that no declared fault took may get a random transient
fault, drawn from a generator seeded by the chaos seed and the test id, so a run is reproducible
test by test whatever the order or worker the tests run in.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracttape.errors import ConfigError
from contracttape.faults.spec import TRANSIENT, Fault
from contracttape.model import RecordedRequest
from contracttape.services.profile import Catalogue, Endpoint

DEFAULT_CHAOS_RATE = 0.1


@dataclass(frozen=True)
class Chaos:
    """``--chaos SEED[:RATE]``: each request to a known service fails with probability RATE."""

    seed: int
    rate: float = DEFAULT_CHAOS_RATE

    @classmethod
    def parse(cls, text: str) -> Chaos:
        seed_text, colon, rate_text = str(text).partition(":")
        try:
            seed = int(seed_text)
            rate = float(rate_text) if colon else DEFAULT_CHAOS_RATE
        except ValueError:
            raise ValueError(f"{text!r} is not SEED[:RATE] (e.g. 7 or 7:0.2)") from None
        if not 0 < rate <= 1:
            raise ValueError(f"{text!r}: the rate is a fraction of requests, 0 < RATE <= 1")
        return cls(seed, rate)

    def describe(self) -> str:
        return f"{self.seed}:{self.rate:g}"


@dataclass
class Decision:
    """A fault chosen for one request; ``outcome`` says what the client got."""

    fault: Fault
    request: str  # the request as cassettes show it
    endpoint: str | None
    call: int  # the nth call this fault matched
    source: str  # "declared" or "chaos"
    timed_out_after: float | None = None  # a slow answer the client's read timeout cut short
    outcome: str = ""

    @property
    def replaces(self) -> bool:
        return self.fault.replaces or self.timed_out_after is not None

    def as_dict(self) -> dict[str, object]:
        return {
            "fault": self.fault.describe(),
            "source": self.source,
            "request": self.request,
            "endpoint": self.endpoint,
            "call": self.call,
            "outcome": self.outcome,
        }

    def describe(self) -> str:
        where = self.endpoint or self.request
        return f"{self.fault.describe()} on {where} (call {self.call}, {self.source}): {self.outcome}"


@dataclass
class FaultPlan:
    catalogue: Catalogue
    test_id: str = ""
    chaos: Chaos | None = None
    faults: list[Any] = field(default_factory=list)  # as declared; checked ``Fault``s after init
    served: list[Decision] = field(default_factory=list)
    _counts: list[int] = field(default_factory=list)
    _rng: random.Random | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # the seconds of sleep skipped in replay (the session's virtual clock)
    slept: Callable[[], float] = field(default=lambda: 0.0)

    @property
    def waited(self) -> float:
        """Seconds the clients slept (in virtual time, in replay) since the test started."""
        return self.slept()

    def inject(self, kind: int | str, **where: object) -> Fault:
        """``add(Fault(kind, **where))``, returning the fault."""
        self.add(Fault(kind, **where))  # type: ignore[arg-type]
        added: Fault = self.faults[-1]
        return added

    def __post_init__(self) -> None:
        declared, self.faults = list(self.faults), []
        self.add(*declared)
        if self.chaos is not None:
            self._rng = random.Random(f"{self.chaos.seed}/{self.test_id}")

    def add(self, *faults: Fault | Mapping[str, Any]) -> None:
        """Declare faults: ``Fault``s or mappings of their fields, checked against the catalogue
        (a service or endpoint it does not know is a ``ConfigError`` naming the test, not a
        fault that silently never fires)."""
        for given in faults:
            fault = Fault.of(given, f"{self.test_id}: faults[{len(self.faults)}]")
            self._check(fault)
            with self._lock:
                self.faults.append(fault)
                self._counts.append(0)

    def _check(self, fault: Fault) -> None:
        where = f"{self.test_id}: fault {fault.describe()}"
        profiles = self.catalogue.profiles
        if fault.service is not None:
            profile = self.catalogue.profile(fault.service)
            if profile is None:
                known = ", ".join(p.name for p in profiles)
                raise ConfigError(f"{where}: no service named {fault.service!r}; known services: {known}")
            profiles = (profile,)
        if fault.endpoint is not None:
            routes = [r for p in profiles for r in p.routes]
            if not any(r.template == fault.endpoint and fault.method in (None, r.method) for r in routes):
                known = ", ".join(sorted({f"{r.method} {r.template}" for r in routes})) or "none"
                raise ConfigError(
                    f"{where}: no endpoint {fault.method or ''} {fault.endpoint} "
                    f"{'of ' + fault.service if fault.service else 'in the catalogue'}; known: {known}"
                )

    def decide(self, request: RecordedRequest) -> Decision | None:
        """The fault this request gets, if any (counts the call for every fault it matches)."""
        endpoint = self.catalogue.endpoint(request, 200)
        shown = endpoint.describe().removesuffix(" 2xx") if endpoint and not endpoint.generic else None
        with self._lock:
            chosen: Decision | None = None
            for position, fault in enumerate(self.faults):
                if not _matches(fault, request, endpoint):
                    continue
                self._counts[position] += 1
                call = self._counts[position]
                if chosen is None and _fires(fault, call):
                    chosen = Decision(fault, request.describe(), shown, call, "declared")
            if chosen is None and self._rng is not None and endpoint is not None:
                assert self.chaos is not None
                if self._rng.random() < self.chaos.rate:
                    kind = self._rng.choice(TRANSIENT)
                    fault = Fault(kind, retry_after=1 if kind == 429 else None).checked()
                    chosen = Decision(fault, request.describe(), shown or endpoint.describe(), 1, "chaos")
            if chosen is not None:
                self.served.append(chosen)
            return chosen

    def describe_served(self) -> Iterable[str]:
        return (decision.describe() for decision in self.served)


def _matches(fault: Fault, request: RecordedRequest, endpoint: Endpoint | None) -> bool:
    if fault.service is not None and (endpoint is None or endpoint.service != fault.service):
        return False
    if fault.endpoint is not None and (
        endpoint is None or endpoint.generic or endpoint.template != fault.endpoint
    ):
        return False
    if fault.method is not None and request.method.upper() != fault.method:
        return False
    return fault.url is None or re.search(fault.url, request.uri) is not None


def _fires(fault: Fault, call: int) -> bool:
    if fault.first is not None:
        return call <= fault.first
    if fault.every is not None:
        return call % fault.every == 0
    return True
