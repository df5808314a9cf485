"""PostgreSQL for the Supabase sandbox: embedded (pgserver, PostgreSQL 16 + pgvector) unless
``DATABASE_URL`` names a server; every request runs in one transaction as the caller's role with
the caller's JWT claims, so row-level security is PostgreSQL's own."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

ROLES = ("anon", "authenticated", "service_role")


class Database:
    def __init__(self, url: str | None = None, data_dir: Path | None = None) -> None:
        self._server: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        url = url or os.environ.get("DATABASE_URL")
        if url is None:
            import pgserver  # the embedded PostgreSQL (pip package)

            if data_dir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="contracttape-pg-")
                data_dir = Path(self._tmp.name)
            self._server = pgserver.get_server(str(data_dir), cleanup_mode="stop")  # type: ignore[attr-defined]
            url = self._server.get_uri()
        self.url = url
        self.migrate()

    def migrate(self) -> None:
        sql = (
            resources.files("contracttape.sandbox.supabase")
            .joinpath("schema.sql")
            .read_text(encoding="utf-8")
        )
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("select pg_advisory_lock(7424002)")
            try:
                conn.execute(sql)
            finally:
                conn.execute("select pg_advisory_unlock(7424002)")

    @contextmanager
    def session(self, role: str, claims: dict[str, Any]) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        """A cursor inside one transaction, running as ``role`` with ``request.jwt.claims`` set."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with (
            psycopg.connect(self.url, row_factory=dict_row) as conn,
            conn.transaction(),
            conn.cursor() as cur,
        ):
            cur.execute(f"set local role {role}")  # role is one of three literals, never user text
            cur.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
            yield cur

    @contextmanager
    def admin(self) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        with (
            psycopg.connect(self.url, row_factory=dict_row) as conn,
            conn.transaction(),
            conn.cursor() as cur,
        ):
            yield cur

    def close(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
