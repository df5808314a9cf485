"""One PostgreSQL for a whole test session (``make test`` loads this with ``-p tests.pg_session``).

The controller (or a plain run) starts an embedded server before any worker and exports its URL
as ``CONTRACTTAPE_PG_SERVER``: every sandbox of the session, in xdist workers and in the
subprocess suites they start, then creates a database of its own on it (``Database``) instead of
starting a PostgreSQL of its own, about 0.8 s each. A run that already has one keeps it."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest

from contracttape.sandbox.supabase.db import SERVER_VARIABLE

_started: list[tuple[Any, tempfile.TemporaryDirectory[str]]] = []


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or os.environ.get(SERVER_VARIABLE):
        return
    import pgserver  # a dev dependency

    data = tempfile.TemporaryDirectory(prefix="contracttape-test-pg-")
    server = pgserver.get_server(data.name, cleanup_mode="stop")  # type: ignore[attr-defined]
    _started.append((server, data))
    os.environ[SERVER_VARIABLE] = server.get_uri()


def pytest_unconfigure(config: pytest.Config) -> None:
    while _started:
        server, data = _started.pop()
        os.environ.pop(SERVER_VARIABLE, None)
        server.cleanup()
        data.cleanup()
