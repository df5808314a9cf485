"""The ``ingest`` edge function, and LlamaParse's webhooks to docpipe's receiver.

Webhooks are inbound: in recording, the sandbox really delivers them to docpipe on a loopback
socket, and the wait for the job ends on the delivery; in replay nothing arrives, and the pipeline's
safety-net poll makes the same requests, answered from the cassette (so the recorded traffic of
the two runs is the same, which is why the poll is there). Signature checks are docpipe's own
code and are exercised in both modes with deliveries signed in the test.
"""

from __future__ import annotations

import json
import time

import pytest

from contracttape import TapeSession
from docpipe.parse import WEBHOOK_PATH, signature
from tests.integration.docpipe_kit import (
    APP_ORIGIN,
    Receiver,
    pdf,
    running_app,
    settings_for,
    sign_up,
    supabase,
)

pytestmark = pytest.mark.contracttape


async def test_edge_function_claims_a_document_once_and_only_the_callers(docpipe_env: dict[str, str]) -> None:
    from supabase_functions.errors import FunctionsHttpError

    owner = sign_up(docpipe_env, "edge-owner@example.com")
    other = sign_up(docpipe_env, "edge-other@example.com")
    with supabase(docpipe_env, user=owner) as client:
        document = client.table("documents").insert({"filename": "claim.pdf"}).execute().data[0]
        first = json.loads(client.functions.invoke("ingest", {"body": {"document_id": document["id"]}}))
        second = json.loads(client.functions.invoke("ingest", {"body": {"document_id": document["id"]}}))
    assert (first["claimed"], first["document"]["status"], first["document"]["attempts"]) == (
        True,
        "queued",
        1,
    )
    # a second run while the first holds it (its lease is fresh): not claimed, nothing counted
    assert (second["claimed"], second["document"]["attempts"]) == (False, 1)
    async with running_app(settings_for(docpipe_env)) as app:
        busy = await app.ingest(owner, document["id"])
    assert busy.status_code == 409
    assert "is being ingested (queued)" in busy.json()["error"]["message"]

    with supabase(docpipe_env, user=other) as client, pytest.raises(FunctionsHttpError):
        client.functions.invoke("ingest", {"body": {"document_id": document["id"]}})  # not theirs: 404
    with supabase(docpipe_env) as anon, pytest.raises(FunctionsHttpError):
        anon.functions.invoke("ingest", {"body": {"document_id": document["id"]}})  # anon: 401


async def test_webhook_delivery_ends_the_wait(
    docpipe_env: dict[str, str], webhook_receiver: Receiver | None, tape: TapeSession
) -> None:
    user = sign_up(docpipe_env, "webhook@example.com")
    public = webhook_receiver.url if webhook_receiver else APP_ORIGIN
    settings = settings_for(docpipe_env, public_url=public, poll_seconds=2.0)
    async with running_app(settings) as app:
        if webhook_receiver is not None:
            webhook_receiver.serve(app.pipeline)  # the same pipeline: the delivery wakes its wait
        document = await app.upload(user, "hooked.pdf", pdf("# Hooked\n\nDelivered by webhook", "Page two"))
        started = time.monotonic()
        answer = await app.ingest(user, document["id"])
        took = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert answer.json()["document"]["status"] == "done"
    if tape.replaying:
        assert app.pipeline.events.deliveries == []  # nothing is delivered in replay
    elif tape.target == "sandbox":  # live: LlamaParse cannot reach a loopback receiver
        assert [d["status"] for d in app.pipeline.events.deliveries] == ["COMPLETED"]
        assert took < 10.0  # woken by the delivery, not by the 10 s safety-net poll
    assert app.pipeline.refused_deliveries == []


async def test_receiver_refuses_bad_signatures(docpipe_env: dict[str, str]) -> None:
    settings = settings_for(docpipe_env, webhook_secret="the-webhook-secret")
    body = json.dumps({"event_type": "parse.success", "job_id": "job-1", "status": "COMPLETED"}).encode()
    now = str(int(time.time()))
    good = {
        "x-llamacloud-timestamp": now,
        "x-llamacloud-signature": signature("the-webhook-secret", now, body),
    }
    cases = {
        "genuine": (good, 200),
        "wrong secret": ({**good, "x-llamacloud-signature": signature("another-secret", now, body)}, 401),
        "unsigned": ({}, 401),
        "stale": (
            {
                "x-llamacloud-timestamp": "1000",
                "x-llamacloud-signature": signature("the-webhook-secret", "1000", body),
            },
            401,
        ),
        "body changed": ({**good}, 401),
    }
    async with running_app(settings) as app:
        for name, (headers, status) in cases.items():
            sent = body if name != "body changed" else body.replace(b"COMPLETED", b"FAILED")
            answer = await app.http.post(WEBHOOK_PATH, content=sent, headers=headers)
            assert answer.status_code == status, name
        assert [d["job_id"] for d in app.pipeline.events.deliveries] == ["job-1"]  # only the genuine one
        assert app.pipeline.refused_deliveries == [
            "bad signature",
            "unsigned delivery",
            app.pipeline.refused_deliveries[2],
            "bad signature",
        ]
        assert app.pipeline.refused_deliveries[2].startswith("stale delivery")


async def test_a_lost_webhook_is_covered_by_polling(
    docpipe_env: dict[str, str], webhook_receiver: Receiver | None, tape: TapeSession
) -> None:
    """The receiver refuses every delivery (its secret is wrong): the job still finishes, by polling."""
    user = sign_up(docpipe_env, "lost-webhook@example.com")
    public = webhook_receiver.url if webhook_receiver else APP_ORIGIN
    settings = settings_for(
        docpipe_env, public_url=public, poll_seconds=0.2, webhook_secret="not-the-senders"
    )
    async with running_app(settings) as app:
        if webhook_receiver is not None:
            webhook_receiver.serve(app.pipeline)
        document = await app.upload(user, "lost.pdf", pdf("# Lost\n\nThe webhook never counts"))
        answer = await app.ingest(user, document["id"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["document"]["status"] == "done"
    assert app.pipeline.events.deliveries == []
    if webhook_receiver is not None and tape.target == "sandbox":
        assert app.pipeline.refused_deliveries  # the sandbox tried (and retried): all refused
        assert set(app.pipeline.refused_deliveries) == {"bad signature"}
