"""Running totals of a file ledger's entries, kept up to date as entries are added and changed, so
that a reservation's cap check costs the same on the thousandth run of the month as on the first
(``ledger.decide`` adds up the whole history; this is its incremental twin, checked against it
by tests/unit/test_ledger_tally.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contracttape.budget.ledger import Entry, Refusal


@dataclass
class Tally:
    spent_by_run: dict[str, float] = field(default_factory=dict)
    spent_by_month: dict[str, float] = field(default_factory=dict)
    refused_by_run: dict[str, int] = field(default_factory=dict)
    reserved: set[int] = field(default_factory=set)  # positions of open reservations

    @classmethod
    def of(cls, entries: list[Entry]) -> Tally:
        tally = cls()
        for position, entry in enumerate(entries):
            tally.change(position, None, entry)
        return tally

    def change(self, position: int, old: Entry | None, new: Entry) -> None:
        """The entry at ``position`` was ``old`` (``None``: just added) and is now ``new``."""
        if old is not None:
            self._count(position, old, -1)
        self._count(position, new, 1)

    def _count(self, position: int, entry: Entry, sign: int) -> None:
        from contracttape.budget.ledger import REFUSED, RESERVED

        amount = entry.amount
        if amount:
            self.spent_by_run[entry.run] = self.spent_by_run.get(entry.run, 0.0) + sign * amount
            self.spent_by_month[entry.month] = self.spent_by_month.get(entry.month, 0.0) + sign * amount
        if entry.state == REFUSED:
            self.refused_by_run[entry.run] = self.refused_by_run.get(entry.run, 0) + sign
        if entry.state == RESERVED:
            if sign > 0:
                self.reserved.add(position)
            else:
                self.reserved.discard(position)

    def decide(
        self,
        entry: Entry,
        cap: float | None,
        monthly_cap: float | None,
        uncounted: Iterable[tuple[Entry, Entry]] = (),
    ) -> Refusal | None:
        """``ledger.decide(entries, entry, cap, monthly_cap)`` from the totals, where the
        entries also had the ``uncounted`` changes (old, new) that the totals do not hold yet."""
        from contracttape.budget.ledger import judge

        pending = Tally()  # the uncounted changes, counted the one way entries are counted
        for old, new in uncounted:
            pending.change(-1, old, new)  # no position: only the sums matter here
        run, month = entry.run, entry.month
        return judge(
            entry,
            self.refused_by_run.get(run, 0) + pending.refused_by_run.get(run, 0) > 0,
            self.spent_by_run.get(run, 0.0) + pending.spent_by_run.get(run, 0.0),
            self.spent_by_month.get(month, 0.0) + pending.spent_by_month.get(month, 0.0),
            cap,
            monthly_cap,
        )
