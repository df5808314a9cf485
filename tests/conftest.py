from __future__ import annotations

import gc
import os
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from hypothesis import HealthCheck, settings

from tests import warm_python
from tests.warm_python import WarmPopen

pytest_plugins = ["pytester"]

# contracttape.sandbox.supabase.db.SERVER_VARIABLE, named here without importing the sandbox
# (a quarter of a second, in every run that loads this file: make replay, the subprocess suites)
PG_SERVER_VARIABLE = "CONTRACTTAPE_PG_SERVER"

# On a loaded machine (make test's workers beside the subprocess suites they start) generating
# examples can be slow; hypothesis's too_slow check then fails a test whose code is fine.
settings.register_profile("contracttape", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("contracttape")

# parsed cassettes go to a store of this test session, not the user's cache (contracttape.parsed_store)
os.environ.setdefault("CONTRACTTAPE_CACHE_DIR", tempfile.mkdtemp(prefix="contracttape-test-cache-"))


_COLD_POPEN = pytest.StashKey[type[subprocess.Popen[bytes]]]()  # what this session replaced


def pytest_configure(config: pytest.Config) -> None:
    """The Python processes this session starts are warm runs (``tests/warm_python.py``): xdist's
    workers, which execnet starts with ``subprocess.Popen`` (each then skips importing pytest,
    contracttape and the SDKs, about 2 s of CPU), ``pytester``'s runs and every other one. Inside
    a warm run (an xdist worker) ``subprocess.Popen`` is ``WarmPopen`` already."""
    if subprocess.Popen is not WarmPopen:
        config.stash[_COLD_POPEN] = subprocess.Popen
        subprocess.Popen = WarmPopen  # type: ignore[misc]
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        # xdist starts its workers once the session's PostgreSQL is up (tests/pg_session.py):
        # the zygote's imports (about 1.7 s) go on meanwhile, not after it
        warm_python.start_in_the_background()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _COLD_POPEN in config.stash:
        subprocess.Popen = config.stash[_COLD_POPEN]  # type: ignore[misc]


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection made (modules, items, fixture definitions) lives until the session ends:
    frozen out of the garbage collector, the full collections of a worker's ~600 tests stop
    scanning it (their time went from 3.9-4.3 s to 2.8-2.9 s of CPU a session, three workers)."""
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests (subprocess suites, real servers) first, so the long ones start early and the
    many short ones fill in at the end. Under xdist, ``worksteal`` first hands each of the N
    workers one contiguous share of the list (and later moves tests from the end of a share to
    an idle worker): so each share starts with its N-th of the slow tests (``worker_shares``).
    With them all at the front of the first share, one worker ran every slow test in turn and
    was still at it, alone, several seconds after the others had finished."""
    workers = getattr(config, "workerinput", {}).get("workercount", 1)
    items[:] = worker_shares(items, lambda item: item.get_closest_marker("slow") is not None, workers)


def worker_shares(items: list[Any], slow: Callable[[Any], bool], workers: int) -> list[Any]:
    """``items`` reordered into the ``workers`` contiguous shares ``worksteal`` deals (share i
    holds ``remaining // (workers - i)`` of them): the slow ones dealt round-robin to the start
    of the shares (to the next share with room, when one is full), the others after them in
    their order."""
    long = [item for item in items if slow(item)]
    short = [item for item in items if not slow(item)]
    if workers <= 1:
        return long + short
    sizes = []
    remaining = len(items)
    for share in range(workers):
        sizes.append(remaining // (workers - share))
        remaining -= sizes[-1]
    shares: list[list[Any]] = [[] for _ in sizes]
    lane = 0
    for item in long:
        while len(shares[lane]) >= sizes[lane]:  # the shares hold every item: one has room
            lane = (lane + 1) % workers
        shares[lane].append(item)
        lane = (lane + 1) % workers
    for share, size in zip(shares, sizes, strict=True):
        fill = size - len(share)
        share += short[:fill]
        short = short[fill:]
    return [item for share in shares for item in share]


@pytest.fixture(scope="session")
def loopback_url() -> Iterator[str]:
    """The loopback test service, really listening on 127.0.0.1."""
    from tests.integration.loopback_app import LoopbackServer  # starlette, uvicorn: only if used

    with LoopbackServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server's URL: the session's own (``tests/pg_session.py``, ``make test``), or
    an embedded one (pgserver: a dev dependency) per test session (per xdist worker)."""
    shared = os.environ.get(PG_SERVER_VARIABLE)
    if shared:
        yield shared
        return
    pytest.importorskip("pgserver")
    from tests.embedded_pg import embedded_server

    with embedded_server() as server:
        yield str(server.get_uri())


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A database of its own for one test (a ledger's monthly cap counts every run in it)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(postgres_server)._replace(path=f"/{name}"))  # a postgresql:// URL
