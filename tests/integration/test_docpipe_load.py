"""Load: N documents uploaded and ingested concurrently through the pipeline, one user each (as
on a real service), sharing one pipeline (its rate limiter and clients). Latency percentiles and
throughput are written to ``.contracttape/load-<mode>.json`` and printed (``-s``); consistency is
checked afterwards: every document done, no duplicate and no orphan chunk."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pytest

from contracttape import TapeSession
from tests.integration.docpipe_kit import (
    App,
    User,
    gather_timed,
    pdf,
    running_app,
    settings_for,
    sign_up,
    supabase,
)

pytestmark = pytest.mark.contracttape

DOCUMENTS = 8


async def _one(app: App, user: User, n: int) -> str:
    document = await app.upload(
        user, f"load-{n}.pdf", pdf(f"# Load {n}\n\nDocument number {n}", f"Page two of {n}")
    )
    answer = await app.ingest(user, document["id"])
    assert answer.status_code == 200, answer.text
    return str(document["id"])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def test_concurrent_uploads_stay_consistent(docpipe_env: dict[str, str], tape: TapeSession) -> None:
    users = [sign_up(docpipe_env, f"load-{n}@example.com") for n in range(DOCUMENTS)]
    async with running_app(settings_for(docpipe_env)) as app:
        started = time.perf_counter()
        results = await gather_timed([_one(app, user, n) for n, user in enumerate(users)])
        wall = time.perf_counter() - started
    latencies = [seconds for _, seconds in results]
    figures = {
        "mode": "replay" if tape.replaying else tape.target,
        "documents": DOCUMENTS,
        "wall_seconds": round(wall, 3),
        "documents_per_second": round(DOCUMENTS / wall, 2),
        "latency_p50_seconds": round(statistics.median(latencies), 3),
        "latency_p95_seconds": round(_percentile(latencies, 0.95), 3),
        "latency_max_seconds": round(max(latencies), 3),
        "rate_limited_calls": app.pipeline.limiter.delayed,
    }
    out = Path(".contracttape") / f"load-{figures['mode']}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print("load:", json.dumps(figures))

    for (document_id, _), user in zip(results, users, strict=True):
        with supabase(docpipe_env, user=user) as client:
            docs = client.table("documents").select("id,status,chunk_count").execute().data
            chunks = client.table("chunks").select("document_id,idx").execute().data
        assert [(d["id"], d["status"]) for d in docs] == [(document_id, "done")]
        keys = [(c["document_id"], c["idx"]) for c in chunks]
        assert len(keys) == len(set(keys)) == docs[0]["chunk_count"]  # no duplicate
        assert {c["document_id"] for c in chunks} == {document_id}  # no orphan
