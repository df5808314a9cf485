"""``make test``'s test order (``tests/conftest.py``): xdist's own work-stealing scheduler, given
the reordered collection, starts every worker on its share of the slow tests; the order is a
permutation that keeps the other tests' order; without workers, slow tests come first."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from xdist.scheduler import WorkStealingScheduling

from tests.conftest import worker_shares


class FakeNode:
    """What the scheduler needs of a worker: where it sends tests."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[int] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(indices)

    def send_steal(self, indices: list[int]) -> None:  # pragma: no cover - not in a first deal
        raise AssertionError("no stealing before a test has run")

    def shutdown(self) -> None:  # a worker with nothing to do (fewer tests than workers)
        self.shutting_down = True


class FakeConfig:
    """What the scheduler reads of pytest's configuration: ``-n N`` as xdist turns it into ``--tx``."""

    def __init__(self, workers: int) -> None:
        self.tx = [f"{workers}*popen"]

    def getvalue(self, name: str) -> Any:
        assert name == "tx"
        return self.tx


def first_deal(collection: list[str], workers: int) -> list[list[str]]:
    """The tests xdist's worksteal scheduler first sends each of ``workers`` workers."""
    scheduler = WorkStealingScheduling(FakeConfig(workers))  # type: ignore[arg-type]
    nodes = [FakeNode(f"gw{n}") for n in range(workers)]
    for node in nodes:
        scheduler.add_node(node)  # type: ignore[arg-type]
    for node in nodes:
        scheduler.add_node_collection(node, collection)  # type: ignore[arg-type]
    scheduler.schedule()
    return [[collection[i] for i in node.sent] for node in nodes]


@settings(max_examples=60, deadline=None)
@given(
    flags=st.lists(st.booleans(), min_size=1, max_size=120),
    workers=st.integers(min_value=2, max_value=5),
)
def test_each_worker_starts_on_its_share_of_the_slow_tests(flags: list[bool], workers: int) -> None:
    items = [f"{'slow' if slow else 'fast'}{n}" for n, slow in enumerate(flags)]
    ordered = worker_shares(items, lambda item: item.startswith("slow"), workers)
    assert sorted(ordered) == sorted(items)  # nothing lost, nothing twice
    deals = first_deal(ordered, workers)
    assert sum(len(d) for d in deals) == len(items)
    for deal in deals:
        kinds = [i.startswith("slow") for i in deal]
        assert kinds == sorted(kinds, reverse=True)  # its slow tests first
    counts = [sum(i.startswith("slow") for i in deal) for deal in deals]
    not_full = [c for c, deal in zip(counts, deals, strict=True) if c < len(deal)]
    assert all(c >= max(counts) - 1 for c in not_full)  # dealt evenly where there was room
    assert [i for i in ordered if i.startswith("fast")] == [i for i in items if i.startswith("fast")]


def test_without_workers_the_slow_tests_come_first() -> None:
    items: list[Any] = ["a", "S1", "b", "S2", "c"]
    assert worker_shares(items, lambda item: item.startswith("S"), 1) == ["S1", "S2", "a", "b", "c"]
