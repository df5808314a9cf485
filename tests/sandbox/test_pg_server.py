"""``CONTRACTTAPE_PG_SERVER``: each sandbox gets a database of its own on one server, dropped when it
stops; sandboxes starting at once on a new server all get their roles; a server that cannot be
reached is one message that names the variable and never the password; without it, an embedded
PostgreSQL as before."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from contracttape.errors import ConfigError
from contracttape.sandbox.supabase.db import SERVER_VARIABLE, Database
from tests.embedded_pg import embedded_server


@pytest.fixture
def fresh_server() -> Iterator[Any]:
    """A server no sandbox has used yet: no Supabase roles on it."""
    with embedded_server() as server:
        yield server


def databases(server_url: str) -> set[str]:
    with psycopg.connect(server_url, autocommit=True) as conn:
        rows = conn.execute("select datname from pg_database where datname like 'contracttape_sandbox_%'")
        return {row[0] for row in rows.fetchall()}


def test_each_sandbox_has_a_database_of_its_own_dropped_when_it_stops(
    fresh_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fresh_server.get_uri()
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv(SERVER_VARIABLE, url)
    first, second = Database(), Database()
    try:
        assert first._server is None  # no PostgreSQL of its own
        assert second._server is None
        assert len(databases(url)) == 2
        with first.admin() as cur:
            cur.execute("insert into storage.buckets (id, name) values ('only-here', 'only-here')")
        with second.admin() as cur:
            cur.execute("select count(*) as n from storage.buckets where id = 'only-here'")
            assert cur.fetchone() == {"n": 0}
        with second.session("authenticated", {"sub": "00000000-0000-4000-8000-000000000001"}) as cur:
            cur.execute("select current_user as who")
            assert cur.fetchone() == {"who": "authenticated"}
    finally:
        first.close()
        second.close()
    assert databases(url) == set()
    first.close()  # twice is fine


@pytest.mark.slow
def test_sandboxes_starting_at_once_on_a_new_server_all_get_their_roles(
    fresh_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv(SERVER_VARIABLE, fresh_server.get_uri())
    with ThreadPoolExecutor(6) as pool:
        started = list(pool.map(lambda _n: Database(), range(6)))
    try:
        for database in started:
            with database.admin() as cur:
                cur.execute(
                    "select rolname from pg_roles where rolname in ('anon', 'authenticated', 'service_role')"
                )
                assert len(cur.fetchall()) == 3
    finally:
        for database in started:
            database.close()


def test_a_server_that_cannot_be_reached_is_one_message_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv(SERVER_VARIABLE, f"postgresql://ada:s3cret-pw@/postgres?host={tmp_path}")
    with pytest.raises(ConfigError) as raised:
        Database()
    message = str(raised.value)
    assert SERVER_VARIABLE in message
    assert "unset it" in message
    assert f"{tmp_path}/postgres" in message  # where it points
    assert "s3cret-pw" not in message


def test_without_it_the_sandbox_embeds_a_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv(SERVER_VARIABLE, raising=False)
    database = Database()
    try:
        assert database._server is not None
        with database.admin() as cur:
            cur.execute("select count(*) as n from storage.buckets where id = 'documents'")
            assert cur.fetchone() == {"n": 1}
    finally:
        database.close()


def test_the_test_session_names_the_same_variable() -> None:
    from tests.conftest import PG_SERVER_VARIABLE

    assert PG_SERVER_VARIABLE == SERVER_VARIABLE
