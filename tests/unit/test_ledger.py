"""Reservations under contention: parallel processes and concurrent runs never cross a cap."""

from __future__ import annotations

import dataclasses
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from contracttape.budget import ledger as ledger_module
from contracttape.budget import open_ledger
from contracttape.budget.ledger import REFUSED, SETTLED, FileLedger, Ledger, new_entry
from contracttape.errors import ConfigError
from tests import separate_processes


def spend(location: str, run: str, seed: int, cap: float | None, monthly: float | None) -> None:
    rng = random.Random(seed)
    ledger = open_ledger(location, Path("/"))
    for i in range(15):
        estimate = rng.uniform(0.001, 0.02)
        entry = new_entry(run, f"t::{seed}-{i}", "svc", "POST /x", "POST /x", estimate, "test")
        if ledger.reserve(entry, cap, monthly) is None:
            ledger.settle(entry.id, estimate * rng.uniform(0.5, 1.0))


def run_workers(location: str, jobs: list[tuple[str, int, float | None, float | None]]) -> None:
    ctx = separate_processes.context()
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
    lines = [json.loads(line) for line in path.read_text().splitlines()]  # a journal: one change per line
    assert lines[0] == {"contracttape_ledger": 3}
    assert [next(iter(k for k in line if k != "entry")) for line in lines[1:]] == ["add"] * 6 + ["set"]
    assert lines[-1]["set"] == 1


# -- the journal ------------------------------------------------------------------------------------


def _entry(n: int, estimate: float = 0.01) -> object:
    return new_entry("run", f"t::{n}", "svc", "POST /x", "POST /x", estimate, "test")


def test_an_operation_appends_only_its_own_lines(tmp_path: Path) -> None:
    """The cost of a reservation does not grow with the history: what is written per operation
    is one line, whatever the ledger already holds (and the file is never rewritten)."""
    path = tmp_path / "ledger.json"
    ledger = FileLedger(path)
    growth = []
    for n in range(300):
        entry = _entry(n)
        before = path.stat().st_size if path.exists() else 0
        inode = path.stat().st_ino if path.exists() else None
        ledger.reserve(entry, None, None)  # type: ignore[arg-type]
        ledger.settle(entry.id, 0.005)  # type: ignore[attr-defined]
        growth.append(path.stat().st_size - before)
        assert inode in (None, path.stat().st_ino)
    assert max(growth[1:]) < 2 * min(growth[1:]) + 64  # bounded, not growing with n
    assert len(FileLedger(path).entries()) == 300
    assert all(e.state == SETTLED for e in FileLedger(path).entries())


class Syncs:
    """``os.fdatasync`` counted: which files were put on the disk, in order (the ledger's tests
    and the budget's share it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fails: bool = False) -> None:
        self.files: list[str] = []
        self.fails = fails
        monkeypatch.setattr(ledger_module.os, "fdatasync", self)

    def __call__(self, fd: int) -> None:
        self.files.append(os.readlink(f"/proc/self/fd/{fd}"))
        if self.fails:
            raise OSError(5, "Input/output error")


@pytest.mark.parametrize(
    "operations", [["reserve"], ["reserve", "settle"], ["reserve", "settle", "adjust"] * 3]
)
def test_lines_reach_the_disk_when_synced_not_on_each_operation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operations: list[str]
) -> None:
    """Each operation is written (every process reads it at once) without its own fdatasync; one
    ``sync`` puts all of them on the disk, and a sync with nothing new written does nothing."""
    path = tmp_path / "ledger.json"
    ledger = FileLedger(path)
    ledger.reserve(_entry(0), None, None)  # type: ignore[arg-type]  # the file exists (atomic write)
    ledger.sync()
    syncs = Syncs(monkeypatch)
    entry = _entry(1)
    for operation in operations:
        if operation == "reserve":
            ledger.reserve(entry, None, None)  # type: ignore[arg-type]
        else:
            getattr(ledger, operation)(entry.id, 0.004, "usage")  # type: ignore[attr-defined]
    assert syncs.files == []
    assert FileLedger(path).entries()[-1].id == entry.id  # another reader sees it already
    ledger.sync()
    assert syncs.files == [str(path)]
    ledger.sync()
    assert syncs.files == [str(path)]  # nothing new: no second fdatasync
    ledger.settle(entry.id, 0.003)  # type: ignore[attr-defined]
    ledger.sync()
    assert syncs.files == [str(path)] * 2


def test_a_sync_that_fails_is_one_message_and_a_moved_ledger_has_nothing_to_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.json"
    ledger = FileLedger(path)
    for n in range(2):
        ledger.reserve(_entry(n), None, None)  # type: ignore[arg-type]
    Syncs(monkeypatch, fails=True)
    with pytest.raises(ConfigError, match=r"ledger\.json: the ledger could not be written to the disk"):
        ledger.sync()
    ledger.settle(ledger.entries()[-1].id, 0.001)
    path.rename(tmp_path / "aside.json")
    ledger.sync()  # nothing to put on the disk, no error


class _NoWholePass(list):  # type: ignore[type-arg]
    """A history that fails any walk or copy of the whole of it."""

    def __iter__(self) -> Iterator[object]:
        raise AssertionError("an operation walked the whole history")


def test_an_operation_never_walks_or_copies_the_history(tmp_path: Path) -> None:
    """Reserving and settling look at the entries they change (and the open reservations), never
    at the whole history: the thousandth run of a month costs what the first did."""
    ledger = FileLedger(tmp_path / "ledger.json")
    for n in range(50):
        entry = _entry(n)
        ledger.reserve(entry, 10.0, None)  # type: ignore[arg-type]
        ledger.settle(entry.id, 0.005)  # type: ignore[attr-defined]
    assert ledger._known is not None
    ledger._known.entries = _NoWholePass(ledger._known.entries)
    entry = _entry(50)
    assert ledger.reserve(entry, 10.0, None) is None  # type: ignore[arg-type]
    ledger.settle(entry.id, 0.005)  # type: ignore[attr-defined]
    ledger.adjust(entry.id, 0.004, "reported")  # type: ignore[attr-defined]
    assert [e.actual for e in FileLedger(ledger.path).entries()[-2:]] == [0.005, 0.004]


def test_an_operation_that_fails_half_way_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    ledger = FileLedger(path)
    first = _entry(0)
    ledger.reserve(first, None, None)  # type: ignore[arg-type]
    on_disk, in_memory = path.read_bytes(), ledger.entries()
    seen: list[tuple[int, str, float | None]] = []

    def interrupted() -> None:
        with ledger._locked() as entries:
            entries.append(_entry(1))  # type: ignore[arg-type]
            entries[0] = dataclasses.replace(entries[0], state=SETTLED, actual=0.5)
            seen.append((len(entries), entries[-1].test, entries[0].actual))
            raise RuntimeError("the process is interrupted mid-operation")

    with pytest.raises(RuntimeError):
        interrupted()
    assert seen == [(2, "t::1", 0.5)]  # the operation saw its own changes
    assert path.read_bytes() == on_disk
    assert ledger.entries() == in_memory == FileLedger(path).entries()

    def removes() -> None:
        with ledger._locked() as entries:
            del entries[0]

    def inserts() -> None:
        with ledger._locked() as entries:
            entries.insert(0, _entry(2))  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="never removed"):
        removes()
    with pytest.raises(TypeError, match="at its end"):
        inserts()
    assert path.read_bytes() == on_disk


def test_a_format_2_ledger_is_read_and_becomes_a_journal_on_the_first_change(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    old = _entry(0)
    document = {"format": 2, "entries": [{**old.__dict__, "state": "settled", "actual": 0.004}]}  # type: ignore[attr-defined]
    path.write_text(json.dumps(document))
    ledger = FileLedger(path)
    assert [e.actual for e in ledger.entries()] == [0.004]
    assert path.read_text().startswith('{"format"')  # reading changes nothing
    assert ledger.reserve(_entry(1, 0.02), 0.03, None) is None  # type: ignore[arg-type]
    assert path.read_text().startswith('{"contracttape_ledger": 3}')
    assert [e.amount for e in FileLedger(path).entries()] == [0.004, 0.02]


def test_a_torn_last_line_is_ignored_and_cut_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    FileLedger(path).reserve(_entry(0), None, None)  # type: ignore[arg-type]
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"add": {"id": "half-writ')  # a writer killed mid-append
    reader = FileLedger(path)
    assert len(reader.entries()) == 1
    reader.reserve(_entry(1), None, None)  # type: ignore[arg-type]
    assert b"half-writ" not in path.read_bytes()
    assert len(FileLedger(path).entries()) == 2
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_a_writer_that_keeps_its_file_open_cuts_a_torn_line_others_left(tmp_path: Path) -> None:
    """A ledger object keeps its journal open between operations: a line torn meanwhile by
    another writer (killed mid-append), longer or shorter than the next line, is still cut off,
    and a journal replaced meanwhile (moved aside, written anew) is written where it now is."""
    path = tmp_path / "ledger.json"
    writer = FileLedger(path)
    for n, torn in enumerate([b'{"add": {"id": "half-writ', b"{", b'{"set": 0, "entry": ' + b"x" * 900]):
        writer.reserve(_entry(2 * n), None, None)  # type: ignore[arg-type]
        with path.open("ab") as other:
            other.write(torn)
        writer.reserve(_entry(2 * n + 1), None, None)  # type: ignore[arg-type]
        lines = path.read_bytes().splitlines()
        assert all(json.loads(line) for line in lines), lines[-2:]
        assert len(FileLedger(path).entries()) == 2 * n + 2
    path.rename(tmp_path / "aside.json")
    FileLedger(path).reserve(_entry(100), None, None)  # type: ignore[arg-type]  # a new journal
    writer.reserve(_entry(101), None, None)  # type: ignore[arg-type]
    assert [e.test for e in FileLedger(path).entries()] == ["t::100", "t::101"]
    assert len(FileLedger(tmp_path / "aside.json").entries()) == 6


def test_a_forked_child_writes_through_its_own_descriptor(tmp_path: Path) -> None:
    """A ledger object inherited by a forked child: the child opens the journal for itself, and
    parent and child both append whole lines to the one file."""
    path = tmp_path / "ledger.json"
    ledger = FileLedger(path)
    for n in range(2):
        ledger.reserve(_entry(n), None, None)  # type: ignore[arg-type]  # the parent's descriptor open
    pid = os.fork()
    if pid == 0:  # the child: exit without pytest's teardown, whatever happens
        code = 1
        try:
            for n in range(10, 13):
                ledger.reserve(_entry(n), None, None)  # type: ignore[arg-type]
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    ledger.reserve(_entry(20), None, None)  # type: ignore[arg-type]
    assert [e.test for e in FileLedger(path).entries()] == [f"t::{n}" for n in (0, 1, 10, 11, 12, 20)]
    assert all(json.loads(line) for line in path.read_bytes().splitlines())


@pytest.mark.parametrize(
    ("tail", "says"),
    [
        ("not json\n", "line 3 cannot be read"),
        ('["add"]\n', "line 3: not a ledger line"),
        ('{"set": 7, "entry": {}}\n', "line 3: not a ledger line (add or set)"),
        ('{"add": {"id": "x"}}\n', "entry 2: unknown field(s) [] / missing"),
    ],
)
def test_a_damaged_journal_line_is_one_message_naming_it(tmp_path: Path, tail: str, says: str) -> None:
    path = tmp_path / "ledger.json"
    FileLedger(path).reserve(_entry(0), None, None)  # type: ignore[arg-type]
    with path.open("a") as handle:
        handle.write(tail)
    with pytest.raises(ConfigError) as raised:
        FileLedger(path).entries()
    assert says in str(raised.value)
    assert str(path) in str(raised.value)


def test_a_newer_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text('{"contracttape_ledger": 9}\n')
    with pytest.raises(ConfigError, match="newer contracttape"):
        FileLedger(path).entries()


class _Text(str):
    pass


_VALID = {
    "id": "e1",
    "run": "r",
    "month": "2026-11",
    "test": "t::x",
    "service": "openai",
    "endpoint": "POST /v1/x",
    "request": "POST /v1/x",
    "estimate": 0.5,
    "actual": None,
    "state": "reserved",
    "at": "2026-11-29T00:00:00+00:00",
    "basis": "tokens",
    "owner": "h:b:1:2",
}
_ODD_VALUES = st.one_of(
    st.sampled_from(["", "settled", "refused", "nope", _Text("reserved"), _Text("x")]),
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=True),
    st.lists(st.none(), max_size=1),
    st.dictionaries(st.just("k"), st.none(), max_size=1),
)


@settings(max_examples=400, deadline=None)
@given(
    changes=st.dictionaries(st.sampled_from([*_VALID, "surprise"]), _ODD_VALUES, max_size=3),
    dropped=st.sets(st.sampled_from(list(_VALID)), max_size=2),
)
@example(changes={"state": []}, dropped=set())  # once a traceback (unhashable), now the message
@example(changes={"estimate": True, "id": _Text("e")}, dropped={"basis", "owner"})
def test_the_quick_entry_check_accepts_and_refuses_what_the_full_one_does(
    changes: dict[str, object], dropped: set[str]
) -> None:
    """A first read checks every entry of the history, so the common case has a quick check:
    it must answer exactly as the full check (same entry, or the same message)."""
    data = {k: v for k, v in {**_VALID, **changes}.items() if k not in dropped}
    outcomes = []
    for check in (ledger_module._entry, ledger_module._checked_entry):
        try:
            outcomes.append(check(Path("l.json"), 0, dict(data)))
        except ConfigError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]
    if not changes and dropped <= {"basis", "owner"}:
        assert not isinstance(outcomes[0], str)  # a plain entry is read


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def _loaded(function: Any, raw: bytes) -> tuple[str, Any]:
    try:
        return "value", json.dumps(function(raw), sort_keys=True)  # NaN != NaN: compare the text
    except ValueError as exc:
        return "error", str(exc)


@settings(max_examples=300, deadline=None)
@given(
    value=_JSON,
    around=st.sampled_from(["", " ", "\t", "\ufeff", " \n"]),
    cut=st.integers(0, 6),
    noise=st.binary(max_size=3),
)
@example(value={"add": {"id": "x"}}, around="", cut=0, noise=b"\xff")  # not UTF-8
@example(value=[1, "]"], around="", cut=0, noise=b",")  # another value after the first
@example(value={"a": 1}, around="\ufeff", cut=0, noise=b"")  # a BOM json.loads accepts in bytes
def test_a_ledger_line_is_read_as_json_loads_reads_it(
    value: Any, around: str, cut: int, noise: bytes
) -> None:
    """The first read's quick parse of a line (``_json_line``) gives ``json.loads``'s value, or
    its error, for lines as written and for damaged ones: cut short, padded, with bytes added."""
    line = (around + json.dumps(value, ensure_ascii=False) + around.strip("\ufeff")).encode()
    for raw in (line, line[: len(line) - cut], line + noise, noise + line):
        assert _loaded(ledger_module._json_line, raw) == _loaded(json.loads, raw)
