"""One test's cassette in use: the record/replay engine, plain Python, no pytest needed.

    with TapeSession(path, mode=RecordMode.NONE, test_id="tests/x.py::test_y") as tape:
        ...  # httpx / httpx2 / requests traffic is served from, or recorded into, the cassette
    tape.check()  # raises the first problem: a miss, a blocked connection, unused traffic

Replay (``none``, or ``once`` with a cassette on disk) blocks the network and compresses time.
Recording modes send unmatched requests to the target and store them normalised
(``normalize.Normaliser``); the cassette is written on exit, atomically and under a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from contracttape import _offline, cassettes
from contracttape._vcr import cassette_context
from contracttape.bodies import coding_undone
from contracttape.budget.guard import Budget, Reservation
from contracttape.config import RecordMode
from contracttape.contracts.book import ContractBook, Violation
from contracttape.errors import (
    BudgetExceeded,
    ContractTapeError,
    ContractViolation,
    NetworkBlocked,
    NoMatchingInteraction,
    PricingError,
    UnusedInteractions,
)
from contracttape.faults import answers
from contracttape.faults.plan import Decision, FaultPlan
from contracttape.ids import IdMap, renamed
from contracttape.matching import InteractionIndex, RequestShape, key_rules, shape_keys
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from contracttape.normalize import Normaliser
from contracttape.provenance import provenance
from contracttape.run import built_in_distributions, default_normaliser


@dataclass(frozen=True)
class Prepared:
    request: RecordedRequest  # normalised: secrets redacted, volatile values pinned (stored, shown)
    shape: RequestShape
    original: RecordedRequest  # as the client made it
    normaliser: Normaliser

    @cached_property
    def sent(self) -> RecordedRequest:
        """What goes on the wire (origins renamed, body decoded): what is priced. Only a request
        that is sent needs it, so a replayed one never makes it."""
        return self.normaliser.as_sent(self.original)


class TapeSession:
    def __init__(
        self,
        path: Path,
        *,
        mode: RecordMode = RecordMode.NONE,
        test_id: str = "",
        normaliser: Normaliser | None = None,
        cache: cassettes.CassetteCache | None = None,
        target: str = "sandbox",
        allow_playback_repeats: bool = False,
        allow_unused: bool = False,
        compress_time: bool = True,
        contracts: ContractBook | None = None,
        budget: Budget | None = None,
        distributions: tuple[str, ...] | None = None,
        faults: FaultPlan | None = None,
        passthrough: Collection[str] = (),
    ) -> None:
        self.path = Path(path)
        self.passthrough = passthrough  # shared with the run: fixtures may add hosts later
        self.mode = mode
        self.test_id = test_id or str(path)
        self.normaliser = normaliser or default_normaliser()
        self.distributions = distributions if distributions is not None else built_in_distributions()
        self.target = target
        self.allow_unused = allow_unused
        self.compress_time = compress_time
        self.incidents = _offline.Incidents()
        self.contracts = contracts
        self.budget = budget
        self.faults = faults
        if faults is not None:
            faults.slept = lambda: self.incidents.slept_seconds
        # requests refused before sending: over budget, or no price to judge them by
        self.refusals: list[ContractTapeError] = []
        self.violations: list[Violation] = []
        self.misses: list[NoMatchingInteraction] = []
        self.recorded: list[Interaction] = []
        self.written = False
        self._lock = threading.Lock()
        self._stack: ExitStack | None = None
        cache = cache or cassettes.CassetteCache()
        loaded = cache.load(self.path) if mode is not RecordMode.REWRITE else None
        self.existed = self.path.exists()
        interactions = loaded.interactions if loaded else ()
        matched = self.normaliser.headers.matched
        keys = None
        if loaded is not None and loaded.foreign:
            # a plain vcrpy cassette stores requests as sent: match them in their normalised form
            # (responses are played exactly as recorded, as vcrpy would)
            interactions = tuple(replace(i, request=self.normaliser.request(i.request)) for i in interactions)
        else:
            if self.normaliser.unordered_params:
                # recorded before a parameter was known to be a set: matched in today's stored form
                interactions = tuple(self._params_sorted(i) for i in interactions)
            if loaded is not None:
                rules = key_rules(matched, self.normaliser.unordered_params)
                keys = cache.index_keys(
                    loaded, rules, lambda: shape_keys([i.request for i in interactions], matched)
                )
        # server-made ids -> stable placeholders, learned from this recording's answers
        self.ids = IdMap()
        with cassettes.collection_paused():
            self.index = InteractionIndex(
                interactions, allow_repeats=allow_playback_repeats, matched=matched, keys=keys
            )

    def _params_sorted(self, interaction: Interaction) -> Interaction:
        uri = self.normaliser.set_params_sorted(interaction.request.uri)
        if uri == interaction.request.uri:
            return interaction
        return replace(interaction, request=replace(interaction.request, uri=uri))

    # -- what kind of run this is ---------------------------------------------------------------

    @property
    def replaying(self) -> bool:
        """Replay only: nothing may be sent (mode none, or once with a cassette on disk)."""
        return self.mode is RecordMode.NONE or (self.mode is RecordMode.ONCE and self.existed)

    @property
    def plays_back(self) -> bool:
        """Whether recorded interactions answer requests at all in this mode."""
        return self.mode in (RecordMode.NONE, RecordMode.ONCE, RecordMode.NEW_EPISODES)

    # -- the engine's two questions, asked by the vcrpy bridge ----------------------------------

    def passes_through(self, uri: str) -> bool:
        """A request to the app under test (``Settings.passthrough``): not a service's traffic."""
        if not self.passthrough:
            return False
        netloc = urlsplit(uri).netloc.rsplit("@", 1)[-1].lower()
        return netloc in self.passthrough or netloc.split(":", 1)[0] in self.passthrough

    def prepare(self, request: RecordedRequest) -> Prepared:
        """A request normalised as it would be stored, and its shape (the index key), once."""
        stored, parsed = self.normaliser.request_and_json(request)
        normalised = self.ids.request(stored)
        if normalised is not stored:
            parsed = (False, None)  # ids renamed in it: what the stored bytes say is read again
        shape = RequestShape.of(normalised, self.normaliser.headers.matched, parsed)
        return Prepared(normalised, shape, request, self.normaliser)

    def can_play(self, shape: RequestShape) -> bool:
        if self.replaying:
            return True  # play() then answers or raises a diagnostic error
        if not self.plays_back:
            return False
        with self._lock:
            return self.index.available(shape)

    def play(self, prepared: Prepared) -> RecordedResponse:
        with self._lock:
            found = self.index.take(prepared.shape)
        if found is None:
            error = self._miss(prepared)
            with self._lock:
                self.misses.append(error)
            raise error
        self._check_contract(found[1])
        return found[1].response

    # -- faults: served instead of an answer, never consuming one, never sent --------------------

    def fault_for(self, prepared: Prepared) -> Decision | None:
        return self.faults.decide(prepared.request) if self.faults is not None else None

    def serve_fault(self, prepared: Prepared, decision: Decision) -> RecordedResponse | str:
        """The answer a fault serves, or the transport fault's kind for the bridge to raise."""
        if decision.timed_out_after is not None:
            time.sleep(decision.timed_out_after)  # virtual in replay: the client's own timeout
            decision.outcome = f"read timeout after {decision.timed_out_after:g}s"
            return "read_timeout"
        kind = decision.fault.kind
        if kind in answers.TRANSPORT:
            decision.outcome = str(kind).replace("_", " ")
            return str(kind)
        assert self.faults is not None, "a fault was decided without a fault plan"
        with self._lock:
            recorded = self.index.peek(prepared.shape) if self.plays_back else None
        answer = answers.answer(
            self.faults.catalogue, prepared.request, decision.fault, recorded.response if recorded else None
        )
        decision.outcome = f"answered {answer.status} ({len(answer.body)} bytes)"
        return answer

    def wait_slow(self, decision: Decision) -> None:
        """A slow answer: ``delay`` seconds late (virtual in replay, real when recording)."""
        assert decision.fault.delay is not None
        time.sleep(decision.fault.delay)
        decision.outcome = f"answered {decision.fault.delay:g}s late"

    def before_send(self, prepared: Prepared) -> Reservation | None:
        """Price a request about to be sent, and reserve it; raises ``BudgetExceeded``."""
        if self.budget is None:
            return None
        try:
            # price what will be sent, never the redacted form that will be stored
            return self.budget.reserve(
                self.test_id,
                prepared.sent,
                self.index.recorded_cost(prepared.shape),
                shown=prepared.request.describe(),
            )
        except (BudgetExceeded, PricingError) as refused:
            with self._lock:
                self.refusals.append(refused)
            raise

    def record(
        self, prepared: Prepared, response: RecordedResponse, reservation: Reservation | None = None
    ) -> None:
        """Store a sent request (normalised once, in ``prepare``) with its normalised response,
        after settling its cost on what was really sent and received."""
        received = coding_undone(response)  # once, for the cassette and the price alike
        answer, parsed = self.normaliser.response_and_json(received)
        self.ids.learn(answer, prepared.shape.key, parsed)
        stored = Interaction(prepared.request, self.ids.response(answer, parsed))
        if self.budget is not None and reservation is not None:
            cost = self.budget.settle(reservation, prepared.sent, received)
            extra = {"cost_basis": cost.basis, **({"cost_units": cost.units} if cost.units else {})}
            stored = replace(stored, cost_usd=round(cost.usd, 9), extra=tuple(sorted(extra.items())))
        with self._lock:
            self.recorded.append(stored)
        self._check_contract(stored)

    def _check_contract(self, interaction: Interaction) -> None:
        if self.contracts is None:
            return
        found = self.contracts.check(interaction)
        if found:
            with self._lock:
                self.violations.extend(found)

    # -- diagnostics ------------------------------------------------------------------------------

    def rerecord_hint(self) -> str:
        return f"To re-record just this test: contracttape record -- '{self.test_id}'"

    def _miss(self, prepared: Prepared) -> NoMatchingInteraction:
        shape, shown = prepared.shape, prepared.request.describe()
        lines = [f"{self.test_id}: no recorded response for {shown}", f"  cassette: {self.path}"]
        times = self.index.times_recorded(shape)
        if not self.existed:
            lines.append("  the cassette does not exist: this test has never been recorded")
        elif times:
            lines.append(
                f"  this exact request was recorded {times} time(s) and all were already replayed; "
                "the test now makes it more often than when it was recorded "
                "(or mark it @pytest.mark.contracttape(allow_playback_repeats=True))"
            )
        else:
            candidates = self.index.closest(shape)
            lines.append("  closest recorded requests:" if candidates else "  no recorded request is similar")
            for c in candidates:
                reasons = "; ".join(f"{m.matcher}: {m.detail}" for m in c.mismatches)
                lines.append(f"    #{c.position} {c.interaction.request.describe()}  [{reasons}]")
        lines.append(f"  {self.rerecord_hint()}")
        return NoMatchingInteraction("\n".join(lines))

    def problems(self) -> list[ContractTapeError]:
        found: list[ContractTapeError] = [*self.refusals[:1], *self.misses]
        for violation in self.violations[:3]:
            found.append(
                ContractViolation(
                    f"{self.test_id}: {violation}\n  cassette: {self.path}\n"
                    "  If the API really changed: re-record, then `contracttape contracts build` and review "
                    "the contract diff (or mark the test @pytest.mark.contracttape(validate_contracts=False))"
                )
            )
        if self.incidents.blocked:
            found.append(
                NetworkBlocked(
                    f"{self.test_id}: tried to reach the network during replay "
                    f"({'; '.join(self.incidents.blocked[:3])}), outside any recorded client. "
                    f"{self.rerecord_hint()}"
                )
            )
        chaos_served = self.faults is not None and any(d.source == "chaos" for d in self.faults.served)
        # under --chaos a fault may end a flow early: the test's own outcome is what counts
        if self.replaying and not self.allow_unused and not self.misses and not chaos_served:
            unused = self.index.unused()
            if unused:
                shown = ", ".join(f"#{p} {self.index.interactions[p].request.describe()}" for p in unused[:5])
                found.append(
                    UnusedInteractions(
                        f"{self.test_id}: {len(unused)} recorded interaction(s) in {self.path} were never "
                        f"requested: {shown}. The test changed since it was recorded. "
                        f"{self.rerecord_hint()} (or mark it "
                        "@pytest.mark.contracttape(allow_unused=True))"
                    )
                )
        return found

    def check(self) -> None:
        problems = self.problems()
        if problems:
            raise problems[0]

    # -- context ------------------------------------------------------------------------------------

    def __enter__(self) -> TapeSession:
        stack = ExitStack()
        stack.enter_context(_offline.deferred_trust())  # CA certificates read when TLS needs them
        if self.replaying:
            stack.enter_context(_offline.block_network(self.incidents, self.test_id))
            if self.compress_time:
                stack.enter_context(_offline.compress_time(self.incidents))
        stack.enter_context(cassette_context(self))
        self._stack = stack
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._stack is not None, "TapeSession exited without being entered"
        self._stack.close()
        self._stack = None
        try:
            if self.budget is not None:
                self.budget.sync()  # this test's spending on the disk: one fdatasync per test
        finally:
            self.written = self.save()

    def save(self) -> bool:
        """Write the cassette as this mode says; returns whether the file changed."""
        if self.replaying or not self.recorded or self.refusals:
            return False  # a test refused by the budget keeps its old cassette
        # ids named by where they appeared, whatever the order concurrent answers arrived in
        self.recorded = renamed(self.recorded, self.ids.settled())
        meta = provenance(
            test_id=self.test_id,
            target=self.target,
            record_mode=self.mode.value,
            distributions=self.distributions,
        )
        return cassettes.update(self.path, lambda current: self._merged(current, meta))

    def _merged(
        self, current: cassettes.CassetteFile | None, meta: Mapping[str, Any]
    ) -> tuple[list[Interaction], Mapping[str, Any]]:
        old = list(current.interactions) if current else []
        if self.mode is RecordMode.NEW_EPISODES:
            return old + self.recorded, meta
        if self.mode is RecordMode.ALL:
            matched = self.normaliser.headers.matched
            new_keys = {RequestShape.of(i.request, matched).key for i in self.recorded}
            kept = [i for i in old if RequestShape.of(i.request, matched).key not in new_keys]
            return self.recorded + kept, meta
        return list(self.recorded), meta  # once (new cassette), rewrite
