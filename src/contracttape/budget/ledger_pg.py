"""The ledger in PostgreSQL, so that several CI machines share one cap.

Reservations run in one transaction holding an advisory lock, so concurrent workers on any
machine see each other's reservations before deciding. Needs ``psycopg`` (``contracttape[postgres]``).
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from typing import Any

from contracttape.budget.ledger import REFUSED, SETTLED, Entry, Refusal, decide, release_orphans
from contracttape.errors import ConfigError
from contracttape.secret_rules import postgres_address

LOCK_KEY = 7_424_001  # pg_advisory_xact_lock key for contracttape's ledger
COLUMNS = [f.name for f in fields(Entry)]
INSERT = f"insert into contracttape_ledger ({', '.join(COLUMNS)}) values ({', '.join(['%s'] * len(COLUMNS))})"
SETTLE = (
    "update contracttape_ledger set actual = %s, state = %s, "
    "basis = coalesce(nullif(%s, ''), basis) where id = %s"
)

DDL = (
    """
create table if not exists contracttape_ledger (
    id text primary key, run text not null, month text not null, test text not null,
    service text not null, endpoint text not null, request text not null,
    estimate double precision not null, actual double precision, state text not null,
    at text not null, basis text not null default '', owner text not null default ''
)
""",
    "alter table contracttape_ledger add column if not exists owner text not null default ''",
)


class PostgresLedger:
    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise ConfigError(
                "a PostgreSQL ledger needs psycopg: pip install 'contracttape[postgres]'"
            ) from exc
        self._psycopg = psycopg
        self.url = url
        with self._connect() as conn:
            conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))  # concurrent first runs
            for statement in DDL:
                conn.execute(statement)

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self.url, autocommit=False, connect_timeout=10)
        except self._psycopg.Error as exc:
            where = postgres_address(self.url)  # never a password
            raise ConfigError(
                f"the PostgreSQL ledger at {where} cannot be reached ({type(exc).__name__}); "
                "start it, fix --ledger / [tool.contracttape] ledger, or use a file ledger"
            ) from exc

    def _all(self, cur: Any, where: str = "", args: tuple[Any, ...] = ()) -> list[Entry]:
        cur.execute(f"select {', '.join(COLUMNS)} from contracttape_ledger {where} order by at, id", args)
        return [Entry(*row) for row in cur.fetchall()]

    def reserve(self, entry: Entry, cap: float | None, monthly_cap: float | None) -> Refusal | None:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            existing = self._all(cur, "where run = %s or month = %s", (entry.run, entry.month))
            for position in release_orphans(existing):
                orphan = existing[position]
                cur.execute(
                    "update contracttape_ledger set state = %s, basis = %s where id = %s",
                    (orphan.state, orphan.basis, orphan.id),
                )
            refusal = decide(existing, entry, cap, monthly_cap)
            row = asdict(replace(entry, state=REFUSED) if refusal else entry)
            cur.execute(INSERT, [row[c] for c in COLUMNS])
            return refusal

    def settle(self, entry_id: str, actual: float, basis: str = "") -> None:
        with self._connect() as conn:
            conn.execute(SETTLE, (actual, SETTLED, basis, entry_id))

    def adjust(self, entry_id: str, actual: float, basis: str) -> None:
        with self._connect() as conn:
            conn.execute(
                "update contracttape_ledger set actual = %s, basis = %s where id = %s",
                (actual, basis, entry_id),
            )

    def entries(self, run: str | None = None) -> list[Entry]:
        with self._connect() as conn, conn.cursor() as cur:
            return self._all(cur, "where run = %s", (run,)) if run else self._all(cur)

    def sync(self) -> None:
        """Nothing to do: every operation is a transaction PostgreSQL has committed (durable)."""
