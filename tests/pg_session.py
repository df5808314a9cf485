"""One PostgreSQL for a whole test session (``make test`` loads this with ``-p tests.pg_session``).

The controller (or a plain run) starts an embedded server before any worker and exports its URL
as ``CONTRACTTAPE_PG_SERVER``: every sandbox of the session, in xdist workers and in the
subprocess suites they start, then creates a database of its own on it (``Database``) instead of
starting a PostgreSQL of its own, about 0.8 s each. A run that already has one keeps it."""

from __future__ import annotations

import os
from contextlib import ExitStack

import pytest

from contracttape.sandbox.supabase.db import SERVER_VARIABLE
from tests.embedded_pg import embedded_server

_started = ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or os.environ.get(SERVER_VARIABLE):
        return
    server = _started.enter_context(embedded_server())
    _started.callback(os.environ.pop, SERVER_VARIABLE, None)
    os.environ[SERVER_VARIABLE] = server.get_uri()


def pytest_unconfigure(config: pytest.Config) -> None:
    _started.close()
