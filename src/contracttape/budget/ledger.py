"""The ledger of spend: reservations taken atomically, so parallel workers never cross a cap.

A request's worst-case estimate is *reserved* before it is sent, and replaced by the actual cost
once the response is in (*settled*). A run's spend is settled actuals plus open reservations, so
what is in flight counts too.

Every reservation names its *owner* (host, boot, pid and the process's start time). A process
killed between reserving and settling cannot settle; the next reservation on any ledger finds
such entries (owner gone on this host, or older than ``LEASE_SECONDS`` from another host) and
marks them ``orphaned``: they no longer count against any cap, and reports show them apart.

``FileLedger`` keeps an append-only journal under a cross-process lock (xdist workers, several runs on one
machine); ``PostgresLedger`` shares one cap between machines.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator, MutableSequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, overload

from contracttape.atomic import write_atomic
from contracttape.budget.process_lock import ProcessLock
from contracttape.budget.tally import Tally
from contracttape.errors import ConfigError

FORMAT_VERSION = 3  # 2: entries have an owner; 3: an append-only journal, one change per line
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


@functools.cache  # the same until the machine restarts, and this process with it
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


_OWNER: dict[int, str] = {}  # pid -> owner (a forked child is another owner)


def current_owner() -> str:
    pid = os.getpid()
    if pid not in _OWNER:
        _OWNER[pid] = f"{socket.gethostname()}:{_boot_id()}:{pid}:{_start_time(pid)}"
    return _OWNER[pid]


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
    if entry.owner == current_owner():
        return True  # this process (its open reservations, asked about on each reservation)
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


def release_orphans(
    entries: MutableSequence[Entry], open_positions: Iterable[int] | None = None
) -> list[int]:
    """Mark reservations whose owner is gone as orphaned, in place; their positions.
    ``open_positions``: where the open reservations are, if known (else every entry is looked at)."""
    released = []
    for position in sorted(open_positions) if open_positions is not None else range(len(entries)):
        entry = entries[position]
        if entry.state == RESERVED and not owner_alive(entry):
            entries[position] = replace(entry, state=ORPHANED, basis=_ORPHAN_BASIS)
            released.append(position)
    return released


_ORPHAN_BASIS = "orphaned: the process that reserved it ended before settling; released"


def decide(
    entries: list[Entry], entry: Entry, cap: float | None, monthly_cap: float | None
) -> Refusal | None:
    """Whether ``entry`` fits: the run's cap, the month's cap, and no earlier refusal in the run."""
    spent_in_run = spent_in_month = 0.0  # one pass: it runs on every reservation
    refused = False
    for e in entries:
        if e.run == entry.run:
            refused = refused or e.state == REFUSED
            spent_in_run += e.amount
        if e.month == entry.month:
            spent_in_month += e.amount
    return judge(entry, refused, spent_in_run, spent_in_month, cap, monthly_cap)


def judge(
    entry: Entry,
    refused: bool,
    spent_in_run: float,
    spent_in_month: float,
    cap: float | None,
    monthly_cap: float | None,
) -> Refusal | None:
    """The decision, from what the run and the month have spent (``refused``: the run already
    had a refusal, so it is exhausted)."""
    if refused:
        return Refusal(entry, 0.0, "exhausted")
    if cap is not None:
        remaining = cap - spent_in_run
        if entry.estimate > remaining + 1e-12:
            return Refusal(entry, remaining, "run")
    if monthly_cap is not None:
        remaining = monthly_cap - spent_in_month
        if entry.estimate > remaining + 1e-12:
            return Refusal(entry, remaining, "month")
    return None


class Ledger(Protocol):
    def reserve(self, entry: Entry, cap: float | None, monthly_cap: float | None) -> Refusal | None: ...
    def settle(self, entry_id: str, actual: float, basis: str = "") -> None: ...
    def adjust(self, entry_id: str, actual: float, basis: str) -> None: ...
    def entries(self, run: str | None = None) -> list[Entry]: ...
    def sync(self) -> None: ...


class _Changes(MutableSequence[Entry]):
    """The entries as one operation sees them: those read (never copied, never changed here),
    with the positions it sets and the entries it adds held aside until ``FileLedger._write``
    writes them and applies them. An operation that fails half-way therefore changes nothing,
    and changing one entry costs the same in a ledger of ten entries as in one of a million."""

    def __init__(self, read: list[Entry]) -> None:
        self.read = read
        self.changed: dict[int, Entry] = {}
        self.added: list[Entry] = []

    def __len__(self) -> int:
        return len(self.read) + len(self.added)

    def __bool__(self) -> bool:
        """Whether there is anything to write."""
        return bool(self.changed or self.added)

    def _at(self, position: int) -> int:
        found = position + len(self) if position < 0 else position
        if not 0 <= found < len(self):
            raise IndexError(f"ledger position {position} out of range")
        return found

    @overload
    def __getitem__(self, position: int) -> Entry: ...
    @overload
    def __getitem__(self, position: slice) -> list[Entry]: ...
    def __getitem__(self, position: int | slice) -> Entry | list[Entry]:
        if isinstance(position, slice):
            return [self[p] for p in range(len(self))[position]]
        found = self._at(position)
        if found >= len(self.read):
            return self.added[found - len(self.read)]
        return self.changed.get(found, self.read[found])

    @overload
    def __setitem__(self, position: int, entry: Entry) -> None: ...
    @overload
    def __setitem__(self, position: slice, entry: Iterable[Entry]) -> None: ...
    def __setitem__(self, position: int | slice, entry: Entry | Iterable[Entry]) -> None:
        if isinstance(position, slice) or not isinstance(entry, Entry):
            raise TypeError("a ledger's entries are changed one position at a time")
        found = self._at(position)
        if found >= len(self.read):
            self.added[found - len(self.read)] = entry
        else:
            self.changed[found] = entry

    def __delitem__(self, position: int | slice) -> None:
        raise TypeError("a ledger keeps every entry: an entry is changed, never removed")

    def insert(self, position: int, entry: Entry) -> None:
        if position < len(self):
            raise TypeError("a ledger grows at its end only")
        self.added.append(entry)


@dataclass
class _Known:
    """What this process last read or wrote of a journal: its file, how far, and the entries."""

    inode: int
    offset: int  # end of the last whole line
    entries: list[Entry]
    tally: Tally  # of ``entries``
    size: int  # the file's length as last seen or written (past ``offset``: a torn line; -1: unknown)


class FileLedger:
    """The ledger as an append-only journal under a cross-process lock.

    The file starts with a header line (``{"contracttape_ledger": 3}``); then each change is one
    JSON line: ``{"add": entry}`` for a new entry, ``{"set": position, "entry": entry}`` for a
    changed one (settled, adjusted, orphaned). An operation appends only its own lines (one
    ``write``), and each process reads only what others appended since it
    last looked, so the cost of an operation does not grow with the ledger's history.

    Every process sees a line as soon as it is written (the page cache is shared), which is all
    the cap needs, and a line survives its writer being killed. What waits is the disk: ``sync``
    (an ``fdatasync``) is called when a test's recording ends, not on every settlement, so a
    power cut can lose the lines of the test that was running, and nothing earlier.

    A writer killed mid-line leaves a torn last line: it is ignored when read, and cut off by
    the next writer (who holds the lock). A ledger of format 1 or 2 (one JSON document) is read
    as it is and rewritten as a journal, atomically, on the first change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_file = Path(str(path) + ".lock")
        self._known: _Known | None = None
        self._legacy = False  # the file on disk is a format-1/2 document: rewrite it on change
        self._lock = ProcessLock(self._lock_file, timeout=60)  # the file is created on first use
        self._unsynced = False  # lines written here that may not be on the disk yet
        self._fd: int | None = None  # this process's descriptor for appending (see ``_writer``)
        self._fd_for: tuple[int, int] | None = None  # (pid, inode) it was opened by and for

    def __del__(self) -> None:
        # nothing to report to: __init__ may have failed before the descriptor was set
        with suppress(Exception):
            self._close_writer()

    # -- reading --------------------------------------------------------------------------------

    def _read(self) -> list[Entry]:
        """The entries now on disk (called under the lock): this process's own list, which only
        ``_write`` changes (an operation works on a ``_Changes`` over it)."""
        try:
            found = self.path.stat()
        except FileNotFoundError:
            self._known, self._legacy = None, False
            return []
        known = self._known
        if (
            known is not None
            and not self._legacy
            and known.inode == found.st_ino
            and found.st_size >= known.offset
        ):
            if found.st_size > known.offset:  # another process appended: read just that
                with self.path.open("rb") as handle:
                    handle.seek(known.offset)
                    known.offset += self._apply(handle.read(), known.entries, None, known.tally)
            known.size = found.st_size
            return known.entries
        data = self._read_bytes()
        if not data.startswith(b'{"contracttape_ledger"'):
            entries, self._legacy = self._parse_document(data), True
            self._known = _Known(found.st_ino, len(data), entries, Tally.of(entries), len(data))
            return entries
        entries = []
        offset = self._apply(data, entries, first_line=1)
        self._known = _Known(found.st_ino, offset, entries, Tally.of(entries), len(data))
        self._legacy = False
        return entries

    def _read_bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{self.path}: the ledger cannot be read ({exc}); {_AFRESH}") from exc

    def _apply(
        self, data: bytes, entries: list[Entry], first_line: int | None, tally: Tally | None = None
    ) -> int:
        """Apply the whole lines of ``data`` (a torn last line is left), to ``entries`` and
        ``tally``; returns the bytes used."""
        whole = data[: data.rfind(b"\n") + 1]

        def where(number: int) -> str:  # only for a message: a first read meets every line
            return f"{self.path}: line {number}" if first_line else f"{self.path}"

        for number, raw in enumerate(whole.splitlines(), start=first_line or 0):
            try:
                line = _json_line(raw)
            except ValueError as exc:
                raise ConfigError(f"{where(number)} cannot be read ({exc}); {_AFRESH}") from exc
            if not isinstance(line, dict):
                raise ConfigError(f"{where(number)}: not a ledger line; {_AFRESH}")
            if "contracttape_ledger" in line:
                version = line["contracttape_ledger"]
                if not isinstance(version, int) or version > FORMAT_VERSION:
                    raise ConfigError(
                        f"{self.path}: written by a newer contracttape (format {version!r}); upgrade"
                    )
            elif "add" in line:
                entries.append(_entry(self.path, len(entries), line["add"]))
                if tally is not None:
                    tally.change(len(entries) - 1, None, entries[-1])
            elif isinstance(line.get("set"), int) and 0 <= line["set"] < len(entries):
                old = entries[line["set"]]
                entries[line["set"]] = _entry(self.path, line["set"], line.get("entry"))
                if tally is not None:
                    tally.change(line["set"], old, entries[line["set"]])
            else:
                raise ConfigError(f"{where(number)}: not a ledger line (add or set); {_AFRESH}")
        return len(whole)

    def _parse_document(self, data: bytes) -> list[Entry]:
        """A format-1/2 ledger: one JSON document ``{"entries": [...], "format": 2}``."""
        try:
            document = json.loads(data)
        except ValueError as exc:
            raise ConfigError(f"{self.path}: the ledger cannot be read ({exc}); {_AFRESH}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("entries", []), list):
            raise ConfigError(
                f"{self.path}: not a contracttape ledger (a journal, or an object with 'entries'); {_AFRESH}"
            )
        version = document.get("format", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ConfigError(f"{self.path}: written by a newer contracttape (format {version!r}); upgrade")
        return [_entry(self.path, position, e) for position, e in enumerate(document.get("entries", []))]

    # -- writing --------------------------------------------------------------------------------

    def _write(self, changes: _Changes) -> None:
        """Append the lines of ``changes`` (called under the lock), then apply them to the
        entries known. They are in the page cache that every process reads; ``sync`` puts them
        on the disk. What this costs is what changed, whatever the length of the ledger's
        history."""
        if not changes:
            return
        known = self._known
        if known is None or self._legacy:  # a new ledger, or an old document: write it whole
            after = list(changes)
            text = _HEADER + "".join(_line({"add": _as_dict(e)}) for e in after)
            write_atomic(self.path, text, locked=True)
            found = self.path.stat()
            length = len(text.encode())
            written = _Known(found.st_ino, length, after, Tally.of(after), length)
            self._known, self._legacy = written, False
            return
        lines = [_line({"set": p, "entry": _as_dict(e)}) for p, e in sorted(changes.changed.items())]
        lines += [_line({"add": _as_dict(entry)}) for entry in changes.added]
        payload = "".join(lines).encode()
        fd = self._writer(known.inode)
        try:
            if known.size != known.offset:
                os.ftruncate(fd, known.offset)  # a torn line left by a writer killed mid-append
            os.lseek(fd, known.offset, os.SEEK_SET)
            os.write(fd, payload)
        except BaseException:
            known.size = -1  # what reached the file is unknown: the next write cuts it off
            raise
        self._unsynced = True
        known.offset += len(payload)
        known.size = known.offset
        entries, tally = known.entries, known.tally
        for position, entry in changes.changed.items():
            tally.change(position, entries[position], entry)
            entries[position] = entry
        for entry in changes.added:
            entries.append(entry)
            tally.change(len(entries) - 1, None, entry)

    def _writer(self, inode: int) -> int:
        """A descriptor for appending to the journal, opened once per process and file (an
        open, a truncate and a close per operation cost more than the write itself)."""
        if self._fd is not None and self._fd_for == (os.getpid(), inode):
            return self._fd
        self._close_writer()
        self._fd = os.open(self.path, os.O_WRONLY)
        self._fd_for = (os.getpid(), inode)
        return self._fd

    def _close_writer(self) -> None:
        fd, self._fd, self._fd_for = self._fd, None, None
        if fd is not None:
            with suppress(OSError):
                os.close(fd)

    @contextmanager
    def _locked(self) -> Iterator[_Changes]:
        with self._lock:
            changes = _Changes(self._read())
            yield changes
            self._write(changes)

    def sync(self) -> None:
        """Put what this process wrote on the disk (one ``fdatasync`` for all of it): called
        when a test's recording ends. A ledger moved aside since then has nothing to sync."""
        if not self._unsynced:
            return
        self._unsynced = False  # before: a line another thread writes meanwhile is synced later
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fdatasync(fd)
        except OSError as exc:
            self._unsynced = True
            raise ConfigError(f"{self.path}: the ledger could not be written to the disk ({exc})") from exc
        finally:
            os.close(fd)

    def reserve(self, entry: Entry, cap: float | None, monthly_cap: float | None) -> Refusal | None:
        with self._locked() as entries:
            # the totals of what was read, and the orphans released here (not counted there yet)
            tally = self._known.tally if self._known is not None else Tally()
            was = {position: entries[position] for position in tally.reserved}
            released = [(was[p], entries[p]) for p in release_orphans(entries, tally.reserved)]
            refusal = tally.decide(entry, cap, monthly_cap, uncounted=released)
            entries.append(replace(entry, state=REFUSED, estimate=entry.estimate) if refusal else entry)
            return refusal

    def _update(self, entry_id: str, **changes: Any) -> None:
        with self._locked() as entries:
            position = self._position(entry_id, entries)
            if position is not None:
                entries[position] = replace(entries[position], **changes)

    def _position(self, entry_id: str, entries: _Changes) -> int | None:
        """Where an entry is: usually the last one this process reserved, else by search."""
        for position in range(len(entries) - 1, -1, -1):
            if entries[position].id == entry_id:
                return position
        return None

    def settle(self, entry_id: str, actual: float, basis: str = "") -> None:
        changes: dict[str, Any] = {"actual": actual, "state": SETTLED}
        if basis:
            changes["basis"] = basis
        self._update(entry_id, **changes)

    def adjust(self, entry_id: str, actual: float, basis: str) -> None:
        self._update(entry_id, actual=actual, basis=basis)

    def entries(self, run: str | None = None) -> list[Entry]:
        with self._lock:
            return [e for e in self._read() if run is None or e.run == run]


_FIELDS = {name: kind for name, kind in Entry.__annotations__.items()}
_AFRESH = "move it aside to start afresh"
_HEADER = json.dumps({"contracttape_ledger": FORMAT_VERSION}) + "\n"


# the C scanner json.loads ends in, without its wrappers (typeshed does not list the attribute)
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _json_line(raw: bytes) -> Any:
    """``json.loads(raw)``, a third of the time for a line as the ledger writes it (UTF-8, no
    surrounding space): a process's first read parses every line of the history. Anything
    else is left to ``json.loads`` itself, for its answer and its error."""
    try:
        text = raw.decode("utf-8")
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError):
        return json.loads(raw)
    return value if end == len(text) else json.loads(raw)


def _line(operation: dict[str, Any]) -> str:
    return json.dumps(operation, sort_keys=True, ensure_ascii=False) + "\n"


def _as_dict(entry: Entry) -> dict[str, Any]:
    """``asdict`` for a flat entry, without its deep copies (a ledger holds thousands)."""
    return {name: getattr(entry, name) for name in _FIELDS}


_OPTIONAL = frozenset({"basis", "owner"})
_KNOWN = frozenset(_FIELDS)
_REQUIRED = _KNOWN - _OPTIONAL
_TEXTS = tuple(name for name in _FIELDS if name not in ("estimate", "actual"))
_NUMBERS = (int, float)


def _entry(path: Path, position: int, data: Any) -> Entry:
    """An entry as read from the ledger, checked; a process's first read checks every entry of
    the history, so the common case (exact types, known fields) is answered by C-level set and
    type operations, and anything else goes through ``_checked_entry`` (which accepts the same and
    more: subclasses) for its answer and its message."""
    if (
        type(data) is dict
        and _REQUIRED <= data.keys() <= _KNOWN
        and type(data["estimate"]) in _NUMBERS
        and (data["actual"] is None or type(data["actual"]) in _NUMBERS)
        and type(data["state"]) is str
        and data["state"] in STATES
        and set(map(type, map(data.get, _TEXTS, itertools.repeat("")))) == {str}
    ):
        return Entry(**data)
    return _checked_entry(path, position, data)


def _checked_entry(path: Path, position: int, data: Any) -> Entry:
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
        or not isinstance(data["state"], str)
        or data["state"] not in STATES
        or not all(isinstance(data.get(n, ""), str) for n in _FIELDS if n not in ("estimate", "actual"))
    ):
        raise ConfigError(f"{where}: a field has the wrong type or state; move the ledger aside")
    return Entry(**data)
