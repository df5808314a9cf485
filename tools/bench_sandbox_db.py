"""The Supabase sandbox's database: CPU per request, a connection of its own vs the pool.

A request of the sandbox runs one transaction as the caller's role (``SET LOCAL ROLE``, the JWT
claims, one RLS-checked query). This times REQUESTS of them on an embedded PostgreSQL, alternated
ROUNDS times: ``connect`` opens a connection per request (what the sandbox did before it pooled),
``pooled`` goes through ``Database.session`` (its pool, ``DISCARD ALL`` between requests). CPU is
this process's, and PostgreSQL's: every one of the server's processes, living or reaped.

  python tools/bench_sandbox_db.py [--requests 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.embedded_pg

from tests.embedded_pg import embedded_server

from contracttape.sandbox.supabase.db import SERVER_VARIABLE, Database

CLAIMS = {"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"}
QUERY = "select id from documents limit 1"


def server_cpu(data_dir: str) -> float:
    """Seconds of CPU of the PostgreSQL whose data folder is ``data_dir``: its processes and
    those it has reaped."""
    main = subprocess.run(["pgrep", "-f", data_dir], capture_output=True, text=True).stdout.split()
    children = subprocess.run(["pgrep", "-P", ",".join(main)], capture_output=True, text=True).stdout.split()
    ticks = 0
    for pid in main + children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def connect(db: Database) -> None:
    with psycopg.connect(db.url, row_factory=dict_row) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("set local role authenticated")
        cur.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(CLAIMS),))
        cur.execute(QUERY).fetchall()


def pooled(db: Database) -> None:
    with db.session("authenticated", CLAIMS) as cur:
        cur.execute(QUERY).fetchall()


def measure(
    db: Database, data_dir: str, way: Callable[[Database], None], requests: int
) -> tuple[float, float]:
    server, own = server_cpu(data_dir), time.process_time()
    for _ in range(requests):
        way(db)
    time.sleep(0.2)  # the last backends exit and are reaped
    return (
        (time.process_time() - own) / requests * 1000,
        (server_cpu(data_dir) - server) / requests * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"connect": [], "pooled": []}
    with embedded_server() as server:
        os.environ[SERVER_VARIABLE] = server.get_uri()
        data_dir = str(server.pgdata)
        db = Database()
        try:
            for _ in range(args.rounds):
                for name, way in (("connect", connect), ("pooled", pooled)):
                    results[name].append(measure(db, data_dir, way, args.requests))
        finally:
            db.close()
    print(f"{args.requests} requests x {args.rounds} rounds, CPU per request (median of rounds)")
    print(f"{'':10} {'client ms':>10} {'server ms':>10} {'total ms':>10}")
    for name, rows in results.items():
        client = statistics.median(r[0] for r in rows)
        server_ms = statistics.median(r[1] for r in rows)
        print(f"{name:10} {client:10.2f} {server_ms:10.2f} {client + server_ms:10.2f}")


if __name__ == "__main__":
    main()
