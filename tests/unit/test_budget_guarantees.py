"""The cap, attacked: every way found to spend past it is refused before anything is sent.

- the estimate is computed on what is sent, not on the redacted form that is stored;
- an endpoint of a billing service that its cost rule does not price is refused under a cap,
  and, without a cap, settled from the usage its answer reports;
- a run killed between reserving and settling leaks nothing (its reservations are orphaned);
- a cap that is negative, NaN or infinite is a usage error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import signal
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from contracttape import RecordMode, TapeSession
from contracttape.budget.guard import Budget
from contracttape.budget.ledger import ORPHANED, RESERVED, SETTLED, FileLedger, new_entry, owner_alive
from contracttape.budget.prices import PriceBook
from contracttape.cli import main
from contracttape.config import parse_usd
from contracttape.errors import BudgetExceeded
from contracttape.normalize import Normaliser
from contracttape.services import default_catalogue
from tests import separate_processes
from tests.integration.loopback_app import LoopbackServer, LoopbackState

OPENAI = "https://api.openai.com"


@pytest.fixture(scope="module")
def openai_stand_in() -> Iterator[tuple[str, LoopbackState]]:
    """The loopback app, recorded as if it were api.openai.com (so OpenAI's cost rule applies)."""
    state = LoopbackState()
    with LoopbackServer(state) as server:
        yield server.url, state


def budget(tmp_path: Path, cap: float | None = None, monthly: float | None = None) -> Budget:
    return Budget(
        ledger=FileLedger(tmp_path / "ledger.json"),
        run_id="run",
        prices=PriceBook.load(),
        catalogue=default_catalogue(),
        cap=cap,
        monthly_cap=monthly,
    )


def session(tmp_path: Path, url: str, spend: Budget) -> TapeSession:
    return TapeSession(
        tmp_path / "cassette.yaml",
        mode=RecordMode.REWRITE,
        test_id="t::attack",
        normaliser=Normaliser(origins={url: OPENAI}),
        budget=spend,
        contracts=None,
    )


def long_prompt(words: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return " ".join("".join(rng.choice("abcdefghij0123456789") for _ in range(6)) for _ in range(words))


# -- the estimate prices what is sent ------------------------------------------------------------


@pytest.mark.parametrize(
    "plant",
    [
        pytest.param(lambda text: "sk-" + "Zx9" + text.replace(" ", "-"), id="key-shaped-prompt"),
        pytest.param(lambda text: json.dumps({"password": text}), id="json-secret-in-prompt"),
        pytest.param(lambda text: "Authorization: Bearer " + text.replace(" ", "."), id="bearer-prompt"),
        pytest.param(lambda text: "password=" + text.replace(" ", "_"), id="pair-prompt"),
    ],
)
def test_a_prompt_that_redacts_small_is_priced_as_sent(
    tmp_path: Path, openai_stand_in: tuple[str, LoopbackState], plant: object
) -> None:
    url, state = openai_stand_in
    prompt = plant(long_prompt(6000))  # type: ignore[operator]
    spend = budget(tmp_path, cap=0.01)
    before = sum(state.attempts.values())
    body = {"model": "gpt-4o", "max_tokens": 1, "messages": [{"role": "user", "content": prompt}]}
    with (
        session(tmp_path, url, spend) as tape,
        httpx.Client(base_url=url) as client,
        pytest.raises(BudgetExceeded, match="worst-case estimate"),
    ):
        client.post("/v1/chat/completions", json=body)
    assert sum(state.attempts.values()) == before, "the request reached the server"
    assert tape.refusals
    (entry,) = spend.ledger.entries()
    assert entry.estimate > 0.01  # priced on ~6,000 words of prompt, not on a placeholder


# -- endpoints the cost rule does not price -------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/completions"])
def test_an_unpriced_endpoint_is_refused_under_a_cap(
    tmp_path: Path, openai_stand_in: tuple[str, LoopbackState], path: str
) -> None:
    url, state = openai_stand_in
    before = state.attempts["unpriced"]
    with (
        session(tmp_path, url, budget(tmp_path, cap=5.0)),
        httpx.Client(base_url=url) as client,
        pytest.raises(BudgetExceeded) as info,
    ):
        client.post(path, json={"model": "gpt-4o", "input": "hi"})
    assert state.attempts["unpriced"] == before
    message = str(info.value)
    assert f"POST {path} has no price" in message
    assert "no worst case can be reserved under the cap" in message
    assert "Price it (a price file entry, or a Route and cost" in message


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/completions"])
def test_an_unpriced_endpoint_without_a_cap_is_settled_from_reported_usage(
    tmp_path: Path, openai_stand_in: tuple[str, LoopbackState], path: str
) -> None:
    url, _state = openai_stand_in
    spend = budget(tmp_path)
    with session(tmp_path, url, spend), httpx.Client(base_url=url) as client:
        client.post(path, json={"model": "gpt-4o", "input": "hi"})
    (entry,) = spend.ledger.entries()
    assert entry.state == SETTLED
    assert entry.actual == pytest.approx((400_000 * 2.50 + 100_000 * 10.00) / 1e6)  # gpt-4o prices
    assert "usage reported" in entry.basis


def test_reading_back_is_free_but_writing_is_not() -> None:
    rule = default_catalogue().profile("openai").costs  # type: ignore[union-attr]
    prices = PriceBook.load()
    from contracttape.model import RecordedRequest

    assert rule.estimate(RecordedRequest("GET", f"{OPENAI}/v1/responses/resp_1"), prices).usd == 0.0  # type: ignore[union-attr]
    assert rule.estimate(RecordedRequest("POST", f"{OPENAI}/v1/audio/speech"), prices) is None  # type: ignore[union-attr]


# -- a killed run ------------------------------------------------------------------------------


def _reserve_then_die(location: str, count: int) -> None:
    ledger = FileLedger(Path(location))
    for i in range(count):
        ledger.reserve(
            new_entry("killed-run", f"t::{i}", "openai", "POST /x", "POST /x", 0.0025, "e"), None, 1.0
        )
    os.kill(os.getpid(), signal.SIGKILL)


def _killed(target: Callable[[str, int], None], location: Path, count: int) -> FileLedger:
    """``target(location, count)`` run in a process that ends by kill -9; the ledger it left."""
    child = separate_processes.context().Process(target=target, args=(str(location), count))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    return FileLedger(location)


def test_a_killed_run_leaks_no_reservation(tmp_path: Path) -> None:
    location = tmp_path / "ledger.json"
    ledger = _killed(_reserve_then_die, location, 13)
    assert [e.state for e in ledger.entries()] == [RESERVED] * 13  # what kill -9 leaves
    # $0.0325 was reserved by the dead run; with a $0.02 monthly cap the new run still fits
    fresh = new_entry("next-run", "t::n", "openai", "POST /x", "POST /x", 0.015, "e")
    assert ledger.reserve(fresh, None, 0.02) is None
    states = [e.state for e in ledger.entries()]
    assert states == [ORPHANED] * 13 + [RESERVED]
    # the report shows them apart from spend
    result = CliRunner().invoke(main, ["budget", "report", "--ledger", str(location), "--json"])
    data = json.loads(result.output)
    assert data["orphaned"] == {"entries": 13, "estimate_usd": pytest.approx(0.0325)}
    assert data["total_usd"] == pytest.approx(0.015)  # the live reservation only


def _settle_then_die(location: str, count: int) -> None:
    ledger = FileLedger(Path(location))
    for i in range(count):
        entry = new_entry("killed-run", f"t::{i}", "openai", "POST /x", "POST /x", 0.0025, "e")
        ledger.reserve(entry, None, 1.0)
        ledger.settle(entry.id, 0.002, "usage")
    os.kill(os.getpid(), signal.SIGKILL)  # before any sync


def test_settlements_outlive_a_run_killed_before_its_sync(tmp_path: Path) -> None:
    """A settlement is written at once (only the fdatasync waits for the test's end): a run
    killed after spending leaves its spending counted against the month."""
    ledger = _killed(_settle_then_die, tmp_path / "ledger.json", 5)
    assert [(e.state, e.actual) for e in ledger.entries()] == [(SETTLED, 0.002)] * 5
    # $0.010 spent by the dead run: $0.0105 more does not fit a $0.02 month, $0.0095 does
    over = new_entry("next-run", "t::n", "openai", "POST /x", "POST /x", 0.0105, "e")
    assert ledger.reserve(over, None, 0.02) is not None
    fits = new_entry("third-run", "t::n", "openai", "POST /x", "POST /x", 0.0095, "e")
    assert ledger.reserve(fits, None, 0.02) is None


def test_a_recording_test_puts_its_spending_on_the_disk_when_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One fdatasync of the ledger per test, when its session ends, also when the test fails."""
    from tests.unit.test_ledger import Syncs

    path = tmp_path / "ledger.json"
    budget = Budget(
        ledger=FileLedger(path), run_id="r", prices=PriceBook.load(), catalogue=default_catalogue(), cap=1.0
    )
    budget.ledger.reserve(new_entry("r", "t::0", "s", "e", "r", 0.001, "b"), None, None)  # created
    synced = Syncs(monkeypatch).files
    for fails in (False, True):
        tape = TapeSession(tmp_path / f"c{fails}.yaml", mode=RecordMode.ALL, test_id="t::x", budget=budget)
        with pytest.raises(RuntimeError) if fails else contextlib.nullcontext(), tape:
            entry = new_entry("r", "t::x", "s", "e", "r", 0.001, "b")
            budget.ledger.reserve(entry, 1.0, None)
            budget.ledger.settle(entry.id, 0.0005)
            assert synced == [str(path)] * fails  # not on each settlement
            if fails:
                raise RuntimeError("the test failed")
        assert synced == [str(path)] * (1 + fails)


def test_a_report_before_the_next_run_already_shows_orphans(tmp_path: Path) -> None:
    location = tmp_path / "ledger.json"
    _killed(_reserve_then_die, location, 2)
    result = CliRunner().invoke(main, ["budget", "report", "--ledger", str(location)])
    assert result.exit_code == 0, result.output
    assert "total spend: $0.000000" in result.output
    assert "orphaned reservations, released" in result.output


def test_live_owners_keep_their_reservations_and_foreign_ones_have_a_lease() -> None:
    mine = new_entry("r", "t", "s", "e", "r", 0.1, "b")
    assert owner_alive(mine)
    now = dt.datetime.now(dt.UTC)
    foreign = replace(mine, owner="elsewhere:abcd:1:1")
    assert owner_alive(replace(foreign, at=(now - dt.timedelta(minutes=5)).isoformat()))
    assert not owner_alive(replace(foreign, at=(now - dt.timedelta(hours=2)).isoformat()))
    reused_pid = replace(mine, owner=mine.owner.rsplit(":", 1)[0] + ":1")  # same pid, other start time
    assert not owner_alive(reused_pid)


class _LedgerOfOnesOwn:
    """A ledger written before ``sync`` existed: reserve, settle, adjust and entries only."""

    def __init__(self, path: Path) -> None:
        self.inner = FileLedger(path)
        self.reserve, self.settle = self.inner.reserve, self.inner.settle
        self.adjust, self.entries = self.inner.adjust, self.inner.entries


def test_a_ledger_without_sync_still_records(tmp_path: Path) -> None:
    ledger = _LedgerOfOnesOwn(tmp_path / "ledger.json")
    budget = Budget(
        ledger=ledger, run_id="r", prices=PriceBook.load(), catalogue=default_catalogue(), cap=1.0
    )  # type: ignore[arg-type]
    with TapeSession(tmp_path / "c.yaml", mode=RecordMode.ALL, test_id="t::x", budget=budget):
        entry = new_entry("r", "t::x", "s", "e", "r", 0.001, "b")
        ledger.reserve(entry, 1.0, None)
        ledger.settle(entry.id, 0.0005)
    assert [e.state for e in ledger.entries()] == [SETTLED]


def test_a_process_knows_its_own_reservations_are_live_without_asking_the_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each reservation looks at the open ones; this process's own (many, when it reserves for
    concurrent requests) are live without a look at /proc; a dead process's are still released."""
    from contracttape.budget import ledger as ledger_module

    ledger = FileLedger(tmp_path / "ledger.json")
    dead = new_entry("r", "t::dead", "s", "e", "r", 0.001, "b")
    ledger.reserve(replace(dead, owner=f"{dead.owner.rsplit(':', 2)[0]}:999999999:1"), None, None)
    asked: list[int] = []
    real = ledger_module._pid_alive
    monkeypatch.setattr(ledger_module, "_pid_alive", lambda pid: asked.append(pid) or real(pid))
    for n in range(50):
        ledger.reserve(new_entry("r", f"t::{n}", "s", "e", "r", 0.001, "b"), None, None)
    assert asked == [999999999]  # the stranger's pid, once (then released); never this process's
    assert [e.state for e in ledger.entries()] == [ORPHANED] + [RESERVED] * 50


# -- caps that are not amounts ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["-1", "nan", "NaN", "inf", "-inf", "abc", "", "1e400", "-0.01"])
def test_unusable_caps_are_usage_errors(text: str) -> None:
    with pytest.raises(ValueError, match="not"):
        parse_usd(text)
    for option in ("--budget-usd", "--monthly-cap"):
        result = CliRunner().invoke(main, ["record", option, text])
        assert result.exit_code == 2
        assert f"Invalid value for '{option}'" in result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize(("text", "value"), [("0", 0.0), ("0.50", 0.5), ("12", 12.0)])
def test_usable_caps(text: str, value: float) -> None:
    assert parse_usd(text) == value
