from __future__ import annotations

import os
import subprocess
import tempfile
import types
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from hypothesis import HealthCheck, settings

from tests.warm_python import COLD_POPEN, WarmPopen

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


def pytest_configure(config: pytest.Config) -> None:
    """With xdist, this session's workers are warm runs too (``tests/warm_python.py``): in the
    controller, which runs no test, execnet starts them with ``subprocess.Popen``. Each worker
    then skips importing pytest, contracttape and the SDKs (about 2 s of CPU), and the runs its
    tests start share its zygote."""
    if not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", None):
        subprocess.Popen = WarmPopen  # type: ignore[misc]


def pytest_unconfigure(config: pytest.Config) -> None:
    if subprocess.Popen is WarmPopen:
        subprocess.Popen = COLD_POPEN  # type: ignore[misc]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests (subprocess suites, real servers) first, in their usual order: with ``make
    test``'s ``--dist worksteal`` the long ones start early on every worker and the many short
    ones fill in at the end, instead of one worker running a long test while the other idles."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _warm_popen(
    self: pytest.Pytester,
    cmdargs: Any,
    stdout: Any = subprocess.PIPE,
    stderr: Any = subprocess.PIPE,
    stdin: Any = pytest.Pytester.CLOSE_STDIN,
    **kw: Any,
) -> subprocess.Popen[bytes]:
    """``Pytester.popen`` (what ``run`` and ``runpytest_subprocess`` start), as pytest writes it
    but with ``WarmPopen``: a Python run is a fork of a process that has imported everything."""
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH", "")]))
    closed = stdin is self.CLOSE_STDIN
    kw["stdin"] = subprocess.PIPE if closed or isinstance(stdin, bytes) else stdin
    popen = WarmPopen(cmdargs, stdout=stdout, stderr=stderr, env=env, **kw)
    if closed:
        assert popen.stdin is not None
        popen.stdin.close()
    elif isinstance(stdin, bytes):
        assert popen.stdin is not None
        popen.stdin.write(stdin)
    return popen


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """pytest's own, whose subprocess runs are warm (``tests/warm_python.py``)."""
    pytester.popen = types.MethodType(_warm_popen, pytester)  # type: ignore[method-assign]
    return pytester


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
