"""The file ledger decides a reservation from running totals (``budget.tally.Tally``) instead of
adding up its whole history. Its answers must be the history's: for any sequence of reservations,
settlements and adjustments, by two ledger objects sharing one file (as two processes do), with
orphaned reservations among them, every decision equals ``ledger.decide`` over all the entries."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from contracttape.budget.ledger import FileLedger, current_owner, decide, new_entry, release_orphans
from contracttape.budget.tally import Tally

RUNS = ["run-a", "run-b", "run-c"]
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("reserve"),
            st.integers(0, 1),  # which ledger object
            st.sampled_from(RUNS),
            st.sampled_from(["2026-10", "2026-11"]),
            st.floats(0.0, 0.3),
            st.sampled_from([None, 0.2, 0.5, 1.0]),
            st.sampled_from([None, 0.8, 2.0]),
            st.booleans(),  # reserved by a process that is gone (an orphan for the next one)
        ),
        st.tuples(st.just("settle"), st.integers(0, 1), st.integers(0, 50), st.floats(0.0, 0.3)),
        st.tuples(st.just("adjust"), st.integers(0, 1), st.integers(0, 50), st.floats(0.0, 0.3)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OPERATIONS)
@example(  # an orphan released by the next reservation frees its share of the cap
    [
        ("reserve", 0, "run-a", "2026-11", 0.4, None, None, True),
        ("reserve", 1, "run-a", "2026-11", 0.4, 0.5, None, False),
    ]
)
def test_every_decision_is_the_one_the_whole_history_gives(
    tmp_path_factory: object, operations: list[tuple]
) -> None:  # type: ignore[type-arg]
    path = Path(tmp_path_factory.mktemp("ledger")) / "ledger.json"  # type: ignore[attr-defined]
    ledgers = [FileLedger(path), FileLedger(path)]
    host, boot, _pid, _start = current_owner().split(":")
    gone = f"{host}:{boot}:999999999:0"  # this machine, no such process: its reservations are orphans
    for operation in operations:
        kind, which = operation[0], ledgers[operation[1]]
        if kind == "reserve":
            _, _, run, month, estimate, cap, monthly, orphan = operation
            entry = dataclasses.replace(
                new_entry(run, "t::x", "openai", "chat", "POST /x", estimate, ""), month=month
            )
            if orphan:
                entry = dataclasses.replace(entry, owner=gone)
            history = which.entries()  # what the file holds now, before this reservation
            release_orphans(history)
            expected = decide(history, entry, cap, monthly)
            refusal = which.reserve(entry, cap, monthly)
            assert (refusal is None) == (expected is None)
            if refusal is not None and expected is not None:
                assert refusal.scope == expected.scope
                assert math.isclose(refusal.remaining, expected.remaining, abs_tol=1e-12)
        else:
            _, _, nth, actual = operation
            entries = which.entries()
            if entries:
                target = entries[nth % len(entries)]
                (which.settle if kind == "settle" else which.adjust)(target.id, actual, "basis")
    for one in ledgers:  # each object's totals are those of the file
        one.entries()
        assert one._known is not None or not path.exists()
        if one._known is not None:
            assert one._known.entries == FileLedger(path).entries()  # its entries are the file's
            fresh = Tally.of(one._known.entries)
            kept = one._known.tally
            assert kept.reserved == fresh.reserved
            assert {k: v for k, v in kept.refused_by_run.items() if v} == {
                k: v for k, v in fresh.refused_by_run.items() if v
            }
            for totals, recount in (
                (kept.spent_by_run, fresh.spent_by_run),
                (kept.spent_by_month, fresh.spent_by_month),
            ):
                for key in set(totals) | set(recount):
                    assert math.isclose(totals.get(key, 0.0), recount.get(key, 0.0), abs_tol=1e-12)
