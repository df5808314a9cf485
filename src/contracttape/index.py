"""Recorded interactions indexed by request shape: O(1) lookup, recorded order for repeats."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from contracttape.matching import MATCHERS, Mismatch, RequestShape, explain
from contracttape.model import Interaction


@dataclass(frozen=True)
class Candidate:
    """A recorded request close to one that found no match, with the matchers that failed."""

    position: int
    interaction: Interaction
    mismatches: tuple[Mismatch, ...]


class InteractionIndex:
    """Serves each recorded interaction once, identical requests in the order recorded."""

    def __init__(self, interactions: Sequence[Interaction], allow_repeats: bool = False) -> None:
        self.interactions = tuple(interactions)
        self.allow_repeats = allow_repeats
        self._shapes = [RequestShape.of(i.request) for i in self.interactions]
        self._by_key: dict[str, list[int]] = defaultdict(list)
        for position, shape in enumerate(self._shapes):
            self._by_key[shape.key].append(position)
        self._next: dict[str, int] = defaultdict(int)
        self.played: set[int] = set()

    def __len__(self) -> int:
        return len(self.interactions)

    def available(self, shape: RequestShape) -> bool:
        positions = self._by_key.get(shape.key)
        if not positions:
            return False
        return self._next[shape.key] < len(positions) or self.allow_repeats

    def take(self, shape: RequestShape) -> tuple[int, Interaction] | None:
        """The next unplayed interaction for this request (or the last one, if repeats are allowed)."""
        positions = self._by_key.get(shape.key)
        if not positions:
            return None
        nth = self._next[shape.key]
        if nth >= len(positions):
            if not self.allow_repeats:
                return None
            nth = len(positions) - 1
        self._next[shape.key] = nth + 1
        position = positions[nth]
        self.played.add(position)
        return position, self.interactions[position]

    def times_recorded(self, shape: RequestShape) -> int:
        return len(self._by_key.get(shape.key, ()))

    def recorded_cost(self, shape: RequestShape) -> float | None:
        """The cost recorded for the last interaction with this request, if any."""
        costs = [self.interactions[p].cost_usd for p in self._by_key.get(shape.key, ())]
        known = [c for c in costs if c is not None]
        return known[-1] if known else None

    def unused(self) -> list[int]:
        return [p for p in range(len(self.interactions)) if p not in self.played]

    def closest(self, shape: RequestShape, limit: int = 3) -> list[Candidate]:
        """Recorded requests that fail the fewest matchers (linear, only on a miss)."""
        scored = []
        for position, recorded in enumerate(self._shapes):
            mismatches = explain(shape, recorded)
            if len(mismatches) < len(MATCHERS):
                scored.append((len(mismatches), position, mismatches))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [Candidate(p, self.interactions[p], tuple(m)) for _, p, m in scored[:limit]]
