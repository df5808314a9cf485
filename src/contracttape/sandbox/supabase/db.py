"""PostgreSQL for the Supabase sandbox; every request runs in one transaction as the caller's role
with the caller's JWT claims, so row-level security is PostgreSQL's own.

Which database, in this order: ``url`` (or ``DATABASE_URL``), used as it is; else a database of
the sandbox's own, created on the server ``CONTRACTTAPE_PG_SERVER`` names and dropped when the
sandbox stops (one server for many sandboxes: a test session, a CI job with a PostgreSQL
service); else an embedded server (pgserver, PostgreSQL 16 + pgvector) in a temporary folder.

Requests share a pool of connections, as PostgREST's own pool does: a new connection costs the
server a process and its catalogue caches, about 4 ms of CPU, for each request. A connection goes
back to the pool only after ``DISCARD ALL`` (what a request set for its session, such as a role or
a setting from an RPC function, never reaches the next request) and never holds a prepared
statement (so a table changed by another connection cannot break a cached plan)."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from contracttape.errors import ConfigError
from contracttape.secret_rules import postgres_address

ROLES = ("anon", "authenticated", "service_role")
SERVER_VARIABLE = "CONTRACTTAPE_PG_SERVER"
# at most this many connections at once: requests beyond it wait for one (up to POOL_TIMEOUT s)
POOL_SIZE = 20
POOL_TIMEOUT = 30.0


class Database:
    """The project's database: Supabase's platform schema (roles, default privileges, auth,
    storage), then the project's own ``migrations`` (SQL files, in name order, each applied once,
    as the Supabase CLI tracks them) and ``seed``; with no migrations, the document pipeline's
    schema (``pipeline.sql``)."""

    def __init__(
        self,
        url: str | None = None,
        data_dir: Path | None = None,
        migrations: Sequence[Path] = (),
        seed: Path | None = None,
    ) -> None:
        self._server: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._own: tuple[str, str] | None = None  # (server, database) created here, dropped on close
        self._pool: ConnectionPool[psycopg.Connection[DictRow]] | None = None
        url = url or os.environ.get("DATABASE_URL")
        server = os.environ.get(SERVER_VARIABLE)
        if url is None and data_dir is None and server:
            url = self._create_own(server)
        if url is None:
            import pgserver  # the embedded PostgreSQL (pip package)

            if data_dir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="contracttape-pg-")
                data_dir = Path(self._tmp.name)
            self._server = pgserver.get_server(str(data_dir), cleanup_mode="stop")  # type: ignore[attr-defined]
            url = self._server.get_uri()
        self.url = url
        try:
            self.migrate(tuple(migrations), seed)
            self._pool = ConnectionPool(
                url,
                connection_class=psycopg.Connection[DictRow],
                kwargs={"row_factory": dict_row, "prepare_threshold": None, "autocommit": True},
                min_size=1,
                max_size=POOL_SIZE,
                timeout=POOL_TIMEOUT,
                reset=_discard_all,
                name="contracttape-sandbox",
                open=True,
            )
        except BaseException:
            self.close()
            raise

    def migrate(self, migrations: tuple[Path, ...] = (), seed: Path | None = None) -> None:
        built_in = resources.files("contracttape.sandbox.supabase")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("select pg_advisory_lock(7424002)")
            try:
                conn.execute(built_in.joinpath("schema.sql").read_text(encoding="utf-8"))
                if not migrations:
                    conn.execute(built_in.joinpath("pipeline.sql").read_text(encoding="utf-8"))
                    return
                conn.execute(
                    "create schema if not exists supabase_migrations; create table if not exists "
                    "supabase_migrations.schema_migrations (version text primary key, name text)"
                )
                for path in (*sorted(migrations, key=lambda p: p.name), *([seed] if seed else [])):
                    version = "seed" if path == seed else path.name.split("_", 1)[0]
                    done = conn.execute(
                        "select 1 from supabase_migrations.schema_migrations where version = %s", (version,)
                    ).fetchone()
                    if done is None:
                        _apply(conn, path, version)
            finally:
                conn.execute("select pg_advisory_unlock(7424002)")

    @contextmanager
    def session(self, role: str, claims: dict[str, Any]) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        """A cursor inside one transaction, running as ``role`` with ``request.jwt.claims`` set."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with self._transaction() as cur:
            cur.execute(f"set local role {role}")  # role is one of three literals, never user text
            cur.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
            yield cur

    @contextmanager
    def admin(self) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        with self._transaction() as cur:
            yield cur

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        """A cursor inside one transaction on a pooled connection (committed, or rolled back on
        an exception)."""
        if self._pool is None:
            raise RuntimeError("the sandbox database is closed")
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    def _create_own(self, server: str) -> str:
        name = f"contracttape_sandbox_{uuid.uuid4().hex[:16]}"
        try:
            with psycopg.connect(server, autocommit=True, connect_timeout=10) as conn:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise ConfigError(
                f"{SERVER_VARIABLE}: cannot create a sandbox database on {postgres_address(server)} "
                f"({str(exc).strip()}); fix the URL or unset it to use an embedded PostgreSQL"
            ) from exc
        self._own = (server, name)
        return make_conninfo(server, dbname=name)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._own is not None:
            server, name = self._own
            self._own = None
            try:
                with psycopg.connect(server, autocommit=True, connect_timeout=10) as conn:
                    drop = sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
                    conn.execute(drop)
            except psycopg.Error:
                pass  # the server is gone, and the database with it (or a scratch database is left)
        if self._server is not None:
            self._server.cleanup()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _discard_all(conn: psycopg.Connection[DictRow]) -> None:
    """What a connection's last request set for its session goes before the next one gets it."""
    conn.execute("discard all")


def _apply(conn: psycopg.Connection[Any], path: Path, version: str) -> None:
    """One migration (or the seed) in one transaction, recorded as applied; a failure names the
    file and changes nothing."""
    try:
        text = path.read_text(encoding="utf-8")
        with conn.transaction():
            conn.execute(text)  # the project's own SQL, run as the database owner
            conn.execute(
                "insert into supabase_migrations.schema_migrations (version, name) values (%s, %s)",
                (version, path.name),
            )
    except (OSError, UnicodeDecodeError, psycopg.Error) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"{path}: the migration could not be applied ({reason}); fix it and record again"
        ) from None
