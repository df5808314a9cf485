"""Recording cost: the same calls to the local sandbox, made directly and through contracttape.

The real openai SDK makes REQUESTS calls (half embeddings of a batch of 8 texts, which the SDK
asks for as base64, half chat completions) to the sandbox's OpenAI stand-in on loopback, served
from its own process:

  direct        the SDK and the sandbox alone
  contracttape  the same calls inside a recording ``TapeSession`` wired as ``make record
                BUDGET=...`` wires it (``Run.build``: redaction, normalisation, id placeholders,
                pricing, a reservation and a settlement in a file ledger under a cap), written
                to a cassette at the end

Rounds alternate direct and contracttape (after one warm-up of each); the direct and
contracttape figures are median rounds, and the overhead per request is the median of the
per-round differences (contracttape - the direct round before it) / REQUESTS, in wall time and in this
process's CPU time (the client's own work: the sandbox serves from another process). With ``--no-budget`` the
ledger is left out, which isolates what redaction and normalisation cost.

    python tools/bench_record.py [--requests 200] [--rounds 7] [--no-budget]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NamedTuple

import openai

from contracttape import RecordMode, TapeSession
from contracttape.run import Run, RunOptions
from contracttape.sandbox import AI_SERVICES, Sandbox

TEXTS = [f"chunk {n}: the quarterly report says revenue grew by {n} percent" for n in range(8)]


def calls(client: openai.OpenAI, count: int) -> None:
    for i in range(count):
        if i % 2:
            client.embeddings.create(model="text-embedding-3-small", input=[f"{t} ({i})" for t in TEXTS])
        else:
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": f"summarise item {i}"}],
                max_tokens=20,
            )


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """(wall, CPU of this process) seconds: the sandbox serves from its own process, so the CPU
    figure is the client's own work, which the machine's other load hardly moves."""
    start, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - start, time.process_time() - cpu


def serve(conn: Connection) -> None:
    with Sandbox(services=AI_SERVICES) as sandbox:
        conn.send((sandbox.env(), sandbox.origins()))
        conn.recv()  # until the bench is done


@contextmanager
def sandbox_process() -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """The sandbox in its own process, as a real service would be: the figures are the client's
    work alone, not the client and the server sharing one interpreter."""
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=serve, args=(theirs,), daemon=True)
    process.start()
    try:
        yield ours.recv()
    finally:
        ours.send("stop")
        process.join(30)


class Measured(NamedTuple):
    """Seconds for one round of calls: medians of each, and the median of the per-round
    differences (each contracttape round against the direct round just before it, so a drift of
    the machine's speed during the run moves both alike)."""

    direct: float
    direct_cpu: float
    ours: float
    ours_cpu: float
    overhead: float
    overhead_cpu: float


def measure(requests: int, rounds: int, budget: bool) -> Measured:
    """Direct and contracttape rounds of ``requests`` calls, alternated."""
    with sandbox_process() as (env, origins), tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = Run.build(
            root, RunOptions(budget_usd=1000.0 if budget else None, ledger=str(root / "ledger.json"))
        )
        run.origins.update(origins)
        normaliser = run.normaliser()

        def client() -> openai.OpenAI:
            return openai.OpenAI(
                base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0
            )

        def direct() -> None:
            with client() as c:
                calls(c, requests)

        counter = iter(range(10**6))

        def recorded() -> None:
            tape = TapeSession(
                root / "cassettes" / f"round_{next(counter)}.yaml",
                mode=RecordMode.ALL,
                test_id="bench::record",
                normaliser=normaliser,
                budget=run.budget if budget else None,
            )
            # the client is made before the session, as in the direct round: inside one it would
            # not read the CA bundle (_offline.deferred_trust), 20 ms per round that the direct
            # round pays, which is not what a request costs
            with client() as c, tape:
                calls(c, requests)
            if len(tape.recorded) != requests:
                raise AssertionError(f"recorded {len(tape.recorded)} of {requests} requests")

        direct(), recorded()  # warm-up: imports, connections, caches
        ours, theirs = [], []
        for _ in range(rounds):
            theirs.append(timed(direct))
            ours.append(timed(recorded))
        median = statistics.median
        return Measured(
            direct=median(w for w, _ in theirs),
            direct_cpu=median(c for _, c in theirs),
            ours=median(w for w, _ in ours),
            ours_cpu=median(c for _, c in ours),
            overhead=median(o[0] - t[0] for o, t in zip(ours, theirs, strict=True)),
            overhead_cpu=median(o[1] - t[1] for o, t in zip(ours, theirs, strict=True)),
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-budget", action="store_true")
    args = parser.parse_args()
    print(
        f"{'record, per request':>22} {'direct':>9} {'contracttape':>13} {'ratio':>7} {'overhead':>9}"
        f" {'CPU direct':>11} {'CPU ct':>9} {'CPU overhead':>13}"
    )
    for budget in (False,) if args.no_budget else (False, True):
        m = measure(args.requests, args.rounds, budget)
        label = "with budget + ledger" if budget else "redact + normalise"
        n = args.requests
        print(
            f"{label:>22} {m.direct * 1e3 / n:>6.2f} ms {m.ours * 1e3 / n:>10.2f} ms"
            f" {m.ours / m.direct:>6.2f}x {m.overhead * 1e3 / n:>6.2f} ms {m.direct_cpu * 1e3 / n:>8.2f} ms"
            f" {m.ours_cpu * 1e3 / n:>6.2f} ms {m.overhead_cpu * 1e3 / n:>10.2f} ms"
        )


if __name__ == "__main__":
    main()
