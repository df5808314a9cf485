"""The ledger of spend: reservations taken atomically, so parallel workers never cross a cap.

A request's worst-case estimate is *reserved* before it is sent, and replaced by the actual cost
once the response is in (*settled*). A run's spend is settled actuals plus open reservations, so
what is in flight counts too.

Every reservation names its *owner* (host, boot, pid and the process's start time). A process
killed between reserving and settling cannot settle; the next reservation on any ledger finds
such entries (owner gone on this host, or older than ``LEASE_SECONDS`` from another host) and
marks them ``orphaned``: they no longer count against any cap, and reports show them apart.

``FileLedger`` keeps a JSON file under a cross-process lock (xdist workers, several runs on one
machine); ``PostgresLedger`` shares one cap between machines.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock

from contracttape.cassettes import write_atomic
from contracttape.errors import ConfigError

FORMAT_VERSION = 2  # 2: entries have an owner
RESERVED, SETTLED, REFUSED, ORPHANED = "reserved", "settled", "refused", "orphaned"
STATES = frozenset({RESERVED, SETTLED, REFUSED, ORPHANED})
# A reservation held by another machine is released after this long: one HTTP request never
# takes an hour, so its process is gone (or the request is long over and was never settled).
LEASE_SECONDS = 3600


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
    owner: str = ""  # host:boot:pid:start of the process that reserved it ("" in format 1)

    @property
    def amount(self) -> float:
        """What this entry counts against a cap now (refused and orphaned entries: nothing)."""
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
        current_owner(),
    )


# -- owners -------------------------------------------------------------------------------------


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()[:8]
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), so a reused pid is not it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def current_owner() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{_boot_id()}:{pid}:{_start_time(pid)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_alive(entry: Entry, now: dt.datetime | None = None) -> bool:
    """Whether the process that reserved ``entry`` may still settle it."""
    host, boot, pid, start = ([*entry.owner.split(":"), "", "", "", ""])[:4]
    if host == socket.gethostname() and boot == _boot_id() and pid.isdigit():
        if not _pid_alive(int(pid)):
            return False
        return not start or _start_time(int(pid)) in ("", start)
    # another machine (or a format-1 entry with no owner): a lease
    try:
        at = dt.datetime.fromisoformat(entry.at)
    except ValueError:
        return False
    return ((now or dt.datetime.now(dt.UTC)) - at).total_seconds() < LEASE_SECONDS


def release_orphans(entries: list[Entry]) -> list[int]:
    """Mark reservations whose owner is gone as orphaned, in place; their positions."""
    released = []
    for position, entry in enumerate(entries):
        if entry.state == RESERVED and not owner_alive(entry):
            entries[position] = replace(entry, state=ORPHANED, basis=_ORPHAN_BASIS)
            released.append(position)
    return released


_ORPHAN_BASIS = "orphaned: the process that reserved it ended before settling; released"


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
    """The ledger as one JSON file, rewritten atomically under a cross-process lock.

    Each process keeps what it last read or wrote, with the file's identity (inode, size,
    mtime): while nobody else has written, the next operation does not parse and check the
    whole history again. Entries are written one per line with the C JSON encoder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_file = Path(str(path) + ".lock")
        self._known: tuple[tuple[int, int, int], list[Entry]] | None = None
        self._lines: dict[Entry, str] = {}  # each entry's line, written once per process

    @property
    def _lock(self) -> FileLock:
        self._lock_file.parent.mkdir(parents=True, exist_ok=True)  # created on first use only
        return FileLock(str(self._lock_file), timeout=60)

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            found = self.path.stat()
        except FileNotFoundError:
            return None
        return (found.st_ino, found.st_size, found.st_mtime_ns)

    def _read(self) -> list[Entry]:
        stamp = self._stamp()
        if stamp is None:
            return []
        if self._known is not None and self._known[0] == stamp:
            return list(self._known[1])  # unchanged since this process read or wrote it
        entries = self._parse()
        self._known = (stamp, list(entries))
        return entries

    def _parse(self) -> list[Entry]:
        afresh = "move it aside to start afresh"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise ConfigError(f"{self.path}: the ledger cannot be read ({exc}); {afresh}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("entries", []), list):
            raise ConfigError(f"{self.path}: not a contracttape ledger (an object with 'entries'); {afresh}")
        version = data.get("format", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ConfigError(f"{self.path}: written by a newer contracttape (format {version!r}); upgrade")
        return [_entry(self.path, position, e) for position, e in enumerate(data.get("entries", []))]

    def _write(self, entries: list[Entry]) -> None:
        # {"entries": [ one entry per line ], "format": 2}: readable, and the C encoder's speed
        known = self._lines
        self._lines = {e: known.get(e) or json.dumps(_as_dict(e), sort_keys=True) for e in entries}
        lines = ",\n".join(self._lines[e] for e in entries)
        text = '{\n"entries": [\n' + lines + ("\n" if lines else "") + f'],\n"format": {FORMAT_VERSION}\n}}\n'
        write_atomic(self.path, text, locked=True)
        stamp = self._stamp()
        self._known = (stamp, list(entries)) if stamp is not None else None

    @contextmanager
    def _locked(self) -> Iterator[list[Entry]]:
        with self._lock:
            entries = self._read()
            yield entries
            self._write(entries)

    def reserve(self, entry: Entry, cap: float | None, monthly_cap: float | None) -> Refusal | None:
        with self._locked() as entries:
            release_orphans(entries)
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


_FIELDS = {name: kind for name, kind in Entry.__annotations__.items()}


def _as_dict(entry: Entry) -> dict[str, Any]:
    """``asdict`` for a flat entry, without its deep copies (a ledger holds thousands)."""
    return {name: getattr(entry, name) for name in _FIELDS}


def _entry(path: Path, position: int, data: Any) -> Entry:
    where = f"{path}: entry {position + 1}"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} is not an object; move the ledger aside to start afresh")
    unknown = sorted(set(data) - set(_FIELDS))
    missing = sorted(n for n in _FIELDS if n not in data and n not in ("basis", "owner"))
    if unknown or missing:
        raise ConfigError(
            f"{where}: unknown field(s) {unknown} / missing {missing}; written by another version? "
            "Move the ledger aside to start afresh"
        )
    numbers_ok = isinstance(data["estimate"], int | float) and (
        data["actual"] is None or isinstance(data["actual"], int | float)
    )
    if (
        not numbers_ok
        or data["state"] not in STATES
        or not all(isinstance(data.get(n, ""), str) for n in _FIELDS if n not in ("estimate", "actual"))
    ):
        raise ConfigError(f"{where}: a field has the wrong type or state; move the ledger aside")
    return Entry(**data)
