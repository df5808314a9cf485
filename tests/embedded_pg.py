"""An embedded PostgreSQL for a test (pgserver, a dev dependency), started and stopped in one place.

Its data is in a ``tempfile`` folder, never under pytest's ``tmp_path``: run as root, pgserver
runs PostgreSQL as another user, and every pytest session that starts (the subprocess suites
start many) takes that user's access to ``/tmp/pytest-of-root`` away again, which kills the
server mid-test."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def embedded_server() -> Iterator[Any]:
    import pgserver

    with tempfile.TemporaryDirectory(prefix="contracttape-test-pg-") as data:
        server = pgserver.get_server(data, cleanup_mode="stop")  # type: ignore[attr-defined]
        try:
            yield server
        finally:
            server.cleanup()
