"""Files written whole or not at all: a temporary file in the same folder, then a rename.

Every file contracttape writes (cassettes, contracts, the ledger's first form, run records,
reports, the parsed-cassette store) goes through ``write_atomic``; a writer killed mid-write
leaves a temporary that the next writer holding the file's lock (or a sweep) removes.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import threading
import time
from pathlib import Path


def _umask() -> int:
    """The process umask, read without changing it where the kernel tells (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()
STALE_TMP_SECONDS = 600


def remove_stale_temporaries(path: Path, older_than: float = 0.0) -> int:
    """Delete the leftovers of writes to ``path`` that died before their rename (``kill -9``).

    With ``older_than=0`` every leftover goes: only call it holding the file's lock."""
    removed = 0
    now = time.time()
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime >= older_than:
                leftover.unlink()
                removed += 1
    return removed


def sweep_temporaries(root: Path) -> int:
    """Old write leftovers anywhere under ``root`` (a cassette or contract tree)."""
    removed = 0
    if root.is_dir():
        for leftover in root.rglob(".*.tmp"):
            with contextlib.suppress(OSError):
                if time.time() - leftover.stat().st_mtime >= STALE_TMP_SECONDS:
                    leftover.unlink()
                    removed += 1
    return removed


def write_atomic(path: Path, text: str, *, locked: bool = False) -> None:
    """Write via a temporary file in the same directory and rename: never a half-written file.

    The file gets the mode the umask gives (not mkstemp's 0600). ``locked`` says the caller
    holds the file's lock, so any other temporary of it is a dead writer's and is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if locked:
        remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
