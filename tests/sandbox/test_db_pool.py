"""The sandbox database's requests share pooled connections: a connection is reused (not one per
request), what a request sets for its session never reaches the next request, a table changed
elsewhere never breaks a reused connection, a failed request leaves nothing behind, more requests
at once than the pool holds all finish, and closing ends the pool's threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import psycopg
import pytest

from contracttape.sandbox.supabase.db import POOL_SIZE, Database

USER = {"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"}


@pytest.fixture(scope="module")
def db() -> Iterator[Database]:
    """One database for the module (creating and migrating one costs PostgreSQL about 80 ms):
    what each test leaves behind is what the pool must clean, and each test's tables are its own."""
    database = Database()
    try:
        yield database
    finally:
        database.close()


def as_admin(db: Database) -> AbstractContextManager[psycopg.Cursor[dict[str, Any]]]:
    return db.admin()


def as_user(db: Database) -> AbstractContextManager[psycopg.Cursor[dict[str, Any]]]:
    return db.session("authenticated", USER)


def backend(db: Database) -> int:
    with db.admin() as cur:
        cur.execute("select pg_backend_pid() as pid")
        row = cur.fetchone()
        assert row is not None
        return int(row["pid"])


def test_requests_reuse_connections(db: Database) -> None:
    pids = [backend(db) for _ in range(POOL_SIZE * 4)]
    # a few backends (the pool may grow while its first connection is being made), not one each
    assert len(set(pids)) <= POOL_SIZE


# (how a request dirties its session, as whom, and a query whose answer shows it). A custom setting
# once set in a session reads '' after it is reset, not NULL: "not set" either way, as on
# PostgREST's own pooled connections (the schema's auth.jwt() reads both as no claims).
DIRTY: list[tuple[str, Callable[[Database], Any], str]] = [
    ("set search_path to storage", as_admin, "select current_setting('search_path') as v"),
    ("set statement_timeout = 1", as_user, "select current_setting('statement_timeout') as v"),
    (
        "select set_config('request.jwt.claims', '{\"sub\": \"someone-else\"}', false)",
        as_admin,
        "select nullif(current_setting('request.jwt.claims', true), '') as v",
    ),
    (
        "select set_config('app.leak', 'yes', false)",
        as_user,
        "select nullif(current_setting('app.leak', true), '') as v",
    ),
    ("set role anon", as_admin, "select current_user as v"),
    ("set session authorization anon", as_admin, "select session_user as v"),
    ("create temp table leak (x int)", as_admin, "select to_regclass('pg_temp.leak')::text as v"),
    ("prepare leak as select 1", as_admin, "select count(*) as v from pg_prepared_statements"),
    ("listen leak", as_admin, "select array_agg(c) as v from pg_listening_channels() c"),
    (
        "select pg_advisory_lock(4242)",
        as_admin,
        "select count(*) as v from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()",
    ),
]


@pytest.mark.parametrize(("statement", "who", "probe"), DIRTY, ids=[d[0][:40] for d in DIRTY])
def test_what_a_request_sets_for_its_session_never_reaches_the_next(
    db: Database, statement: str, who: Callable[[Database], Any], probe: str
) -> None:
    def look() -> tuple[int, Any]:
        with db.admin() as cur:
            cur.execute(probe.replace(" as v", " as v, pg_backend_pid() as pid", 1))
            row = cur.fetchone()
            assert row is not None
            return int(row["pid"]), row["v"]

    clean = look()[1]
    with who(db) as cur:
        cur.execute(statement)
        cur.execute("select pg_backend_pid() as pid")
        row = cur.fetchone()
        assert row is not None
        dirtied = row["pid"]
    # The pool resets a returned connection on its worker thread, and meanwhile serves others:
    # ask until the dirtied connection itself has answered again (a pool of several connections
    # can serve many requests first).
    seen = [look() for _ in range(POOL_SIZE)]
    deadline = time.monotonic() + 30
    while dirtied not in {pid for pid, _ in seen}:
        assert time.monotonic() < deadline, "the dirtied connection never came back to the pool"
        seen.append(look())
    assert {value for _, value in seen} == {clean}


def test_a_table_changed_on_another_connection_never_breaks_a_reused_one(db: Database) -> None:
    with db.admin() as cur:
        cur.execute("create table public.changing (id int); insert into public.changing values (1)")
    for _ in range(12):  # psycopg prepares a query it runs five times, unless told not to
        with db.admin() as cur:
            cur.execute("select * from public.changing")
            assert cur.fetchall() == [{"id": 1}]
    with psycopg.connect(db.url, autocommit=True) as other:
        other.execute("alter table public.changing add column note text default 'new'")
    with db.admin() as cur:
        cur.execute("select * from public.changing")
        assert cur.fetchall() == [{"id": 1, "note": "new"}]


@pytest.mark.parametrize("failure", ["python", "sql"])
def test_a_failed_request_leaves_nothing_behind(db: Database, failure: str) -> None:
    table = f"public.kept_{failure}"  # literal names: one per case
    with db.admin() as cur:
        cur.execute(f"create table {table} (id int)")

    def failing_request() -> None:
        with db.admin() as cur:
            cur.execute(f"insert into {table} values (1)")
            if failure == "python":
                raise RuntimeError("the handler failed")
            cur.execute("select * from no_such_table")

    with pytest.raises((RuntimeError, psycopg.Error)):
        failing_request()
    for _ in range(POOL_SIZE):
        with db.admin() as cur:
            cur.execute(
                f"select count(*) as n, current_setting('transaction_isolation') as level from {table}"
            )
            assert cur.fetchone() == {"n": 0, "level": "read committed"}


def test_more_requests_at_once_than_the_pool_holds_all_finish(db: Database) -> None:
    def request(_n: int) -> int:
        with db.session("authenticated", USER) as cur:
            cur.execute("select pg_sleep(0.05), pg_backend_pid() as pid, current_user as who")
            row = cur.fetchone()
            assert row is not None
            assert row["who"] == "authenticated"
            return int(row["pid"])

    with ThreadPoolExecutor(POOL_SIZE * 2) as threads:
        pids = list(threads.map(request, range(POOL_SIZE * 3)))
    assert len(pids) == POOL_SIZE * 3
    assert len(set(pids)) <= POOL_SIZE


def test_closing_ends_the_pool_and_its_threads() -> None:
    before = set(threading.enumerate())
    database = Database()
    backend(database)
    database.close()
    assert set(threading.enumerate()) <= before
    with pytest.raises(RuntimeError, match="closed"), database.admin():
        pass
