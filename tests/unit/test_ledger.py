"""Reservations under contention: parallel processes and concurrent runs never cross a cap."""

from __future__ import annotations

import multiprocessing
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracttape.budget import open_ledger
from contracttape.budget.ledger import REFUSED, SETTLED, FileLedger, Ledger, new_entry
from contracttape.errors import ConfigError


def spend(location: str, run: str, seed: int, cap: float | None, monthly: float | None) -> None:
    rng = random.Random(seed)
    ledger = open_ledger(location, Path("/"))
    for i in range(15):
        estimate = rng.uniform(0.001, 0.02)
        entry = new_entry(run, f"t::{seed}-{i}", "svc", "POST /x", "POST /x", estimate, "test")
        if ledger.reserve(entry, cap, monthly) is None:
            ledger.settle(entry.id, estimate * rng.uniform(0.5, 1.0))


def run_workers(location: str, jobs: list[tuple[str, int, float | None, float | None]]) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=spend, args=(location, *job)) for job in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * len(procs)


def check(ledger: Ledger, cap: float, in_reservation_order: bool = False) -> None:
    entries = ledger.entries()
    assert sum(e.amount for e in entries) <= cap + 1e-9
    assert any(e.state == REFUSED for e in entries), "the cap should have been reached"
    assert all(e.state in (SETTLED, REFUSED) for e in entries)
    if in_reservation_order:  # the file ledger appends in reservation order
        for name in {e.run for e in entries}:
            states = [e.state for e in entries if e.run == name]
            first = states.index(REFUSED) if REFUSED in states else len(states)
            assert set(states[first:]) <= {REFUSED}, f"{name} reserved again after a refusal"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    pgserver = pytest.importorskip("pgserver")  # a dev dependency: always there under `make test`
    with tempfile.TemporaryDirectory() as data:
        server = pgserver.get_server(data, cleanup_mode="stop")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


def test_four_workers_one_run_never_cross_the_cap(tmp_path: Path) -> None:
    location = str(tmp_path / "ledger.json")
    run_workers(location, [("run-1", seed, 0.1, None) for seed in range(4)])
    check(FileLedger(Path(location)), 0.1, in_reservation_order=True)


def test_concurrent_runs_share_a_monthly_cap(tmp_path: Path) -> None:
    location = str(tmp_path / "ledger.json")
    run_workers(location, [(f"run-{seed}", seed, None, 0.12) for seed in range(4)])
    check(FileLedger(Path(location)), 0.12)


def test_postgres_ledger_shared_by_concurrent_runs(postgres_url: str) -> None:
    run_workers(postgres_url, [(f"pg-run-{seed}", seed, 0.08, 0.2) for seed in range(4)])
    ledger = open_ledger(postgres_url, Path("/"))
    check(ledger, 0.2)
    for seed in range(4):
        assert sum(e.amount for e in ledger.entries(f"pg-run-{seed}")) <= 0.08 + 1e-9


def test_ledger_files_are_versioned(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text('{"format": 9, "entries": []}')
    with pytest.raises(ConfigError, match="newer contracttape"):
        FileLedger(path).entries()


def test_two_ledgers_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    """Each process keeps what it last read; a write by another one is never missed."""
    import json

    path = tmp_path / "ledger.json"
    first, second = FileLedger(path), FileLedger(path)
    entries = []
    for n in range(6):
        ledger = first if n % 2 == 0 else second
        entry = new_entry("run", f"t::{n}", "svc", "POST /x", "POST /x", 0.01, "test")
        assert ledger.reserve(entry, 0.05, None) is None or n == 5
        entries.append(entry)
    assert [e.state for e in first.entries()] == [e.state for e in second.entries()]
    assert [e.state for e in second.entries()][-1] == REFUSED  # the sixth would cross $0.05
    first.settle(entries[1].id, 0.002)  # a reservation the other instance made
    assert {e.id: e.state for e in second.entries()}[entries[1].id] == SETTLED
    data = json.loads(path.read_text())  # still one JSON document, format 2, one entry per line
    assert data["format"] == 2
    assert len(data["entries"]) == 6
    assert len(path.read_text().splitlines()) == 6 + 5  # {, "entries": [, ], "format", }
