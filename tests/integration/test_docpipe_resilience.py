"""Resilience, with contracttape's fault injection (the same in replay and in recording: a fault
is served instead of the service, never sent, never billed): a 429 then success, 5xx retries
exhausted, timeouts, and a crash half-way through an ingestion that a re-run finishes."""

from __future__ import annotations

import dataclasses
import time

import pytest

from contracttape import TapeSession
from contracttape.faults import Fault, FaultPlan
from tests.integration.docpipe_kit import pdf, running_app, settings_for, sign_up, supabase

pytestmark = pytest.mark.contracttape

EMBEDDINGS = {"service": "openai", "endpoint": "POST /v1/embeddings"}


@pytest.mark.contracttape(faults=[Fault(429, **EMBEDDINGS, first=1, retry_after=3)])
async def test_a_429_is_retried_after_retry_after(
    docpipe_env: dict[str, str], contracttape_faults: FaultPlan, tape: TapeSession
) -> None:
    user = sign_up(docpipe_env, "ratelimited@example.com")
    async with running_app(settings_for(docpipe_env)) as app:
        document = await app.upload(user, "limited.pdf", pdf("# Limited\n\nRate limited once"))
        started = time.monotonic()
        answer = await app.ingest(user, document["id"])
        took = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert answer.json()["document"]["status"] == "done"
    assert [s.outcome.split(" ")[0] for s in contracttape_faults.served] == ["answered"]
    # the SDK honoured Retry-After: on the virtual clock in replay, on the real one in recording
    assert (contracttape_faults.waited if tape.replaying else took) >= 3


@pytest.mark.contracttape(faults=[Fault(503, **EMBEDDINGS)])
async def test_5xx_retries_exhausted_give_a_clear_error(
    docpipe_env: dict[str, str], contracttape_faults: FaultPlan
) -> None:
    user = sign_up(docpipe_env, "outage@example.com")
    async with running_app(settings_for(docpipe_env)) as app:
        document = await app.upload(user, "outage.pdf", pdf("# Outage\n\nOpenAI is down"))
        answer = await app.ingest(user, document["id"])
        stored = await app.document(user, document["id"])
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["step"] == "embed"
    assert error["message"].startswith("embed: OpenAI answered 503 after 4 attempt(s)")
    assert len(contracttape_faults.served) == 4  # every attempt was served the outage
    assert (stored["status"], stored["error"]) == ("failed", error["message"])


@pytest.mark.contracttape(faults=[Fault("read_timeout", **EMBEDDINGS)])
async def test_timeouts_surface_as_a_pipeline_error(docpipe_env: dict[str, str]) -> None:
    user = sign_up(docpipe_env, "timeouts@example.com")
    settings = dataclasses.replace(settings_for(docpipe_env), attempts=2)
    async with running_app(settings) as app:
        document = await app.upload(user, "slow.pdf", pdf("# Slow\n\nNever answers"))
        answer = await app.ingest(user, document["id"])
    assert answer.status_code == 502
    assert answer.json()["error"]["message"].startswith(
        "embed: OpenAI could not be reached after 2 attempt(s)"
    )


@pytest.mark.contracttape(faults=[Fault(500, **EMBEDDINGS, every=2)])
async def test_a_crash_half_way_is_finished_by_re_runs(
    docpipe_env: dict[str, str], contracttape_faults: FaultPlan
) -> None:
    """One chunk per call, and every second call fails (no retries): each run stores what it
    embedded before the failure; the next run embeds only what is missing, reuses the parse job,
    and nothing is stored twice."""
    user = sign_up(docpipe_env, "crash@example.com")
    settings = dataclasses.replace(settings_for(docpipe_env), attempts=1, embed_batch=1, chunk_tokens=12)
    pages = [f"# Part {n}\n\nThe text of part {n}" for n in range(1, 4)]
    async with running_app(settings) as app:
        document = await app.upload(user, "crashy.pdf", pdf(*pages))
        runs = [(await app.ingest(user, document["id"])).json() for _ in range(3)]
        stored = await app.document(user, document["id"])
    assert [r.get("error", {}).get("step") for r in runs[:2]] == ["embed", "embed"]
    assert runs[2]["steps"] == ["parse job reused", "done"]
    assert runs[2]["parsed_now"] is False
    assert runs[2]["embedded"] == 1
    assert (stored["status"], stored["chunk_count"], stored["attempts"]) == ("done", 3, 3)
    assert len(contracttape_faults.served) == 2
    with supabase(docpipe_env, user=user) as client:
        chunks = client.table("chunks").select("idx").eq("document_id", document["id"]).execute().data
    assert sorted(c["idx"] for c in chunks) == [0, 1, 2]  # no duplicate, none missing
