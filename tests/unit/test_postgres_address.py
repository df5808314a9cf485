"""A PostgreSQL server named in a message (the ledger's, the sandbox's shared server) shows where
it is, never a password: not in the user part, not as a ``password`` or ``sslpassword``
parameter, not in a ``key=value`` string (the ledger's message once showed all but the first)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracttape.secret_rules import postgres_address

CASES = [
    ("postgresql://ada:hunter2pw@127.0.0.1:1/db", "127.0.0.1:1/db"),
    ("postgresql://127.0.0.1:1/db?password=hunter2pw", "127.0.0.1:1/db"),
    ("postgresql://ada:x@db.example:5432/app?sslpassword=hunter2pw&sslmode=require", "db.example:5432/app"),
    ("host=db.example port=6543 dbname=app user=ada password=hunter2pw", "db.example:6543/app"),
    ("postgresql://postgres:@/postgres?host=/tmp/pg-sock", "/tmp/pg-sock/postgres"),
    ("postgresql://ada:hunter2pw@db.example", "db.example"),
    ("garbage password=hunter2pw", "the server it names"),
    ("", "the server it names"),
]


@pytest.mark.parametrize(("url", "shown"), CASES, ids=[shown for _url, shown in CASES])
def test_where_it_points_and_never_the_password(url: str, shown: str) -> None:
    assert postgres_address(url) == shown
    assert "hunter2pw" not in postgres_address(url)


@given(secret=st.text(st.sampled_from("abcXYZ0189"), min_size=6, max_size=20), where=st.integers(0, 3))
def test_any_password_anywhere_stays_out(secret: str, where: int) -> None:
    url = [
        f"postgresql://ada:{secret}@h.example:5/db",
        f"postgresql://h.example:5/db?password={secret}",
        f"postgresql://h.example:5/db?sslpassword={secret}",
        f"host=h.example port=5 dbname=db password={secret}",
    ][where]
    assert postgres_address(url) == "h.example:5/db"
