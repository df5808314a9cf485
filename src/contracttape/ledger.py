"""The ledger of spend: reservations taken atomically, so parallel workers never cross a cap.

A request's worst-case estimate is *reserved* before it is sent, and replaced by the actual cost
once the response is in (*settled*). A run's spend is settled actuals plus open reservations, so
what is in flight counts too. ``FileLedger`` keeps a JSON file under a cross-process lock (xdist
workers, several runs on one machine); ``PostgresLedger`` shares one cap between machines.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock

from contracttape.cassettes import write_atomic
from contracttape.errors import ConfigError

FORMAT_VERSION = 1
RESERVED, SETTLED, REFUSED = "reserved", "settled", "refused"


@dataclass(frozen=True)
class Entry:
    id: str
    run: str
    month: str  # "2026-11": for monthly caps
    test: str
    service: str
    endpoint: str
    request: str
    estimate: float
    actual: float | None
    state: str
    at: str
    basis: str = ""

    @property
    def amount(self) -> float:
        """What this entry counts against a cap now."""
        if self.state == SETTLED:
            return self.actual or 0.0
        return self.estimate if self.state == RESERVED else 0.0


@dataclass(frozen=True)
class Refusal:
    entry: Entry
    remaining: float
    scope: str  # "run" | "month" | "exhausted"


def new_entry(
    run: str, test: str, service: str, endpoint: str, request: str, estimate: float, basis: str
) -> Entry:
    now = dt.datetime.now(dt.UTC)
    return Entry(
        uuid.uuid4().hex,
        run,
        now.strftime("%Y-%m"),
        test,
        service,
        endpoint,
        request,
        estimate,
        None,
        RESERVED,
        now.replace(microsecond=0).isoformat(),
        basis,
    )


def decide(
    entries: list[Entry], entry: Entry, cap: float | None, monthly_cap: float | None
) -> Refusal | None:
    """Whether ``entry`` fits: the run's cap, the month's cap, and no earlier refusal in the run."""
    run = [e for e in entries if e.run == entry.run]
    if any(e.state == REFUSED for e in run):
        return Refusal(entry, 0.0, "exhausted")
    if cap is not None:
        remaining = cap - sum(e.amount for e in run)
        if entry.estimate > remaining + 1e-12:
            return Refusal(entry, remaining, "run")
    if monthly_cap is not None:
        remaining = monthly_cap - sum(e.amount for e in entries if e.month == entry.month)
        if entry.estimate > remaining + 1e-12:
            return Refusal(entry, remaining, "month")
    return None


class Ledger(Protocol):
    def reserve(self, entry: Entry, cap: float | None, monthly_cap: float | None) -> Refusal | None: ...
    def settle(self, entry_id: str, actual: float, basis: str = "") -> None: ...
    def adjust(self, entry_id: str, actual: float, basis: str) -> None: ...
    def entries(self, run: str | None = None) -> list[Entry]: ...


class FileLedger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_file = Path(str(path) + ".lock")

    @property
    def _lock(self) -> FileLock:
        self._lock_file.parent.mkdir(parents=True, exist_ok=True)  # created on first use only
        return FileLock(str(self._lock_file), timeout=60)

    def _read(self) -> list[Entry]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(
                f"{self.path}: the ledger is not valid JSON ({exc}); move it aside to start afresh"
            ) from exc
        if data.get("format", 0) > FORMAT_VERSION:
            raise ConfigError(
                f"{self.path}: written by a newer contracttape (format {data['format']}); upgrade"
            )
        return [Entry(**e) for e in data.get("entries", [])]

    def _write(self, entries: list[Entry]) -> None:
        data = {"format": FORMAT_VERSION, "entries": [asdict(e) for e in entries]}
        write_atomic(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n")

    @contextmanager
    def _locked(self) -> Iterator[list[Entry]]:
        with self._lock:
            entries = self._read()
            yield entries
            self._write(entries)

    def reserve(self, entry: Entry, cap: float | None, monthly_cap: float | None) -> Refusal | None:
        with self._locked() as entries:
            refusal = decide(entries, entry, cap, monthly_cap)
            entries.append(replace(entry, state=REFUSED, estimate=entry.estimate) if refusal else entry)
            return refusal

    def _update(self, entry_id: str, **changes: Any) -> None:
        with self._locked() as entries:
            for position, entry in enumerate(entries):
                if entry.id == entry_id:
                    entries[position] = replace(entry, **changes)

    def settle(self, entry_id: str, actual: float, basis: str = "") -> None:
        changes: dict[str, Any] = {"actual": actual, "state": SETTLED}
        if basis:
            changes["basis"] = basis
        self._update(entry_id, **changes)

    def adjust(self, entry_id: str, actual: float, basis: str) -> None:
        self._update(entry_id, actual=actual, basis=basis)

    def entries(self, run: str | None = None) -> list[Entry]:
        with self._lock:
            entries = self._read()
        return [e for e in entries if run is None or e.run == run]


def open_ledger(location: str, root: Path) -> Ledger:
    """A ledger from ``--ledger``: a postgresql:// URL, or a file path (relative to the rootdir)."""
    if location.startswith(("postgresql://", "postgres://")):
        from contracttape.ledger_pg import PostgresLedger

        return PostgresLedger(location)
    return FileLedger((root / location).resolve())
