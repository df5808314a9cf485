"""The ledger's lock (``budget.process_lock.ProcessLock``): one holder at a time across processes,
threads and forks, and a clear error when it is never freed."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from contracttape.budget.process_lock import ProcessLock
from contracttape.errors import ConfigError
from tests import separate_processes


def _add_under_lock(lock_path: str, counter: str, times: int) -> None:
    lock = ProcessLock(Path(lock_path))
    for _ in range(times):
        with lock:  # read, pause, write: a second holder at once would lose an update
            value = int(Path(counter).read_text() or "0")
            time.sleep(0.0002)
            Path(counter).write_text(str(value + 1))


def test_processes_and_threads_never_hold_it_at_once(tmp_path: Path) -> None:
    counter = tmp_path / "n"
    counter.write_text("0")
    lock_path = str(tmp_path / "l.lock")
    processes = [
        separate_processes.context().Process(target=_add_under_lock, args=(lock_path, str(counter), 40))
        for _ in range(3)
    ]
    threads = [threading.Thread(target=_add_under_lock, args=(lock_path, str(counter), 40)) for _ in range(3)]
    shared = ProcessLock(Path(lock_path))  # one lock object shared by threads, too

    def with_shared() -> None:
        for _ in range(40):
            with shared:
                value = int(counter.read_text())
                time.sleep(0.0002)
                counter.write_text(str(value + 1))

    threads += [threading.Thread(target=with_shared) for _ in range(2)]
    for worker in (*processes, *threads):
        worker.start()
    for worker in (*processes, *threads):
        worker.join(60)
    assert all(p.exitcode == 0 for p in processes)
    assert int(counter.read_text()) == 40 * 8


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork exists on POSIX only")
def test_a_forked_child_waits_for_its_parents_hold(tmp_path: Path) -> None:
    lock = ProcessLock(tmp_path / "l.lock", timeout=0.3)
    read, write = os.pipe()
    with lock:  # held (file lock and thread lock) while forking
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            os.close(read)
            signal.alarm(10)  # a child stuck on a lock copied held dies, and reports nothing
            try:
                with lock:
                    os.write(write, b"entered")
            except ConfigError as error:
                os.write(write, b"waited" if "l.lock" in str(error) else b"unclear")
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        assert os.read(read, 20) == b"waited"
    pid = os.fork()  # released: a child now gets it
    if pid == 0:  # pragma: no cover
        with lock:
            os._exit(7)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7


def test_a_lock_never_freed_is_one_clear_error(tmp_path: Path) -> None:
    holder = separate_processes.context().Process(target=_hold, args=(str(tmp_path / "l.lock"),))
    holder.start()
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "held").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        with (
            pytest.raises(ConfigError, match=r"l\.lock: another process has held"),
            ProcessLock(tmp_path / "l.lock", timeout=0.2),
        ):
            pass
    finally:
        holder.terminate()
        holder.join(10)
    with ProcessLock(tmp_path / "l.lock", timeout=5):  # its holder gone, the lock is free
        pass


def _hold(lock_path: str) -> None:
    with ProcessLock(Path(lock_path)):
        (Path(lock_path).parent / "held").write_text("")
        time.sleep(60)
