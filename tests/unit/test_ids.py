"""Server-made ids become stable placeholders: re-recording an unchanged API rewrites nothing,
and the requests that echo an id still match in replay."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracttape import RecordMode, TapeSession
from contracttape.ids import IdMap, jwt_claims
from contracttape.model import RecordedRequest, RecordedResponse
from tests.integration.loopback_app import LoopbackServer, LoopbackState


def answer(body: object) -> RecordedResponse:
    return RecordedResponse(200, "OK", (("content-type", "application/json"),), json.dumps(body).encode())


LEARNED = [
    (
        {"id": "chatcmpl-c64aa1a1ee32437399ef8b80"},
        {"chatcmpl-c64aa1a1ee32437399ef8b80": "chatcmpl-000000000000000000000001"},
    ),
    (
        {"id": "8fc82464-3f27-4536-b378-fbcbc50cd984"},
        {"8fc82464-3f27-4536-b378-fbcbc50cd984": "00000000-0000-4000-8000-000000000001"},
    ),
    ({"job_id": "job_9f8e7d6c5b4a"}, {"job_9f8e7d6c5b4a": "job_000000000001"}),
    (
        {"user": {"id": "6946822d-2139-4c66-b489-dd6cc263a3d3", "email": "a@b.c"}},
        {"6946822d-2139-4c66-b489-dd6cc263a3d3": "00000000-0000-4000-8000-000000000001"},
    ),
    (
        {"note": "8fc82464-3f27-4536-b378-fbcbc50cd984"},
        {"8fc82464-3f27-4536-b378-fbcbc50cd984": "00000000-0000-4000-8000-000000000001"},
    ),
]
NOT_IDS = [
    {"id": "invoice"},  # a word
    {"id": "12345678"},  # a number the client chose
    {"name": "chatcmpl-c64aa1a1ee32437399ef8b80"},  # not under an id key
    {"id": "00000000-0000-4000-8000-000000000007"},  # already a placeholder
    {"id": "chatcmpl-000000000000000000000003"},
]


@pytest.mark.parametrize(("body", "expected"), LEARNED, ids=[str(i) for i in range(len(LEARNED))])
def test_ids_are_learned_with_placeholders_of_the_same_shape(body: object, expected: dict[str, str]) -> None:
    ids = IdMap()
    ids.learn(answer(body))
    for real, placeholder in expected.items():
        assert ids.text(f"/jobs/{real}?x=1") == f"/jobs/{placeholder}?x=1"
        assert len(placeholder) == len(real)


@pytest.mark.parametrize("body", NOT_IDS, ids=[str(i) for i in range(len(NOT_IDS))])
def test_words_numbers_and_placeholders_are_not_ids(body: object) -> None:
    ids = IdMap()
    ids.learn(answer(body))
    assert len(ids) == 0


def test_ids_inside_a_jwt_and_an_event_stream_are_learned_and_rewritten() -> None:
    user, session = str(uuid.uuid4()), str(uuid.uuid4())
    claims = {"sub": user, "session_id": session, "role": "authenticated"}
    payload = (
        base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    )  # claims in this order
    token = f"eyJhbGciOiJIUzI1NiJ9.{payload}.contracttape-redacted"
    ids = IdMap()
    ids.learn(answer({"access_token": token, "user": {"id": user}}))
    stream = b'data: {"id": "chatcmpl-9abcdef0123456789", "choices": []}\n\ndata: [DONE]\n\n'
    ids.learn(RecordedResponse(200, "OK", (("content-type", "text/event-stream"),), stream))
    rewritten = ids.response(answer({"access_token": token}))
    new_token = json.loads(rewritten.body)["access_token"]
    payload = jwt_claims(new_token.split(".")[1])
    assert payload["sub"] == "00000000-0000-4000-8000-000000000001"
    assert payload["session_id"] == "00000000-0000-4000-8000-000000000002"
    assert new_token.endswith(".contracttape-redacted")
    assert ids.text(stream.decode()).count("chatcmpl-00000000000000003") == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.uuids(), min_size=1, max_size=8, unique=True), st.randoms())
def test_the_placeholders_depend_on_order_of_appearance_only(values: list[uuid.UUID], rng: object) -> None:
    """Two recordings of the same flow with other ids on the wire store the same text."""

    def stored(ids_on_the_wire: list[str]) -> list[str]:
        ids = IdMap()
        out = []
        for value in ids_on_the_wire:
            ids.learn(answer({"id": value}))
            request = ids.request(RecordedRequest("GET", f"http://svc.test/jobs/{value}"))
            out.append(request.uri)
        return out

    other = [str(uuid.uuid4()) for _ in values]
    assert stored([str(v) for v in values]) == stored(other)
    assert len(set(stored(other))) == len(values)


@pytest.fixture(scope="module")
def jobs() -> Iterator[tuple[str, LoopbackState]]:
    state = LoopbackState()
    with LoopbackServer(state) as server:
        yield server.url, state


def poll(base: str) -> list[str]:
    seen = []
    with httpx.Client(base_url=base) as client:
        job = client.post("/jobs").json()
        seen.append(job["id"])
        while client.get(f"/jobs/{job['id']}").json()["status"] != "COMPLETED":
            pass
    return seen


def test_recording_a_polling_job_twice_gives_identical_cassettes(
    tmp_path: Path, jobs: tuple[str, LoopbackState]
) -> None:
    url, _ = jobs
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    with TapeSession(first, mode=RecordMode.REWRITE, test_id="t::poll"):
        wire_one = poll(url)
    with TapeSession(second, mode=RecordMode.REWRITE, test_id="t::poll"):
        wire_two = poll(url)
    assert wire_one != wire_two  # the server made other job ids

    def stripped(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if "recorded_at" not in line]

    assert stripped(first) == stripped(second)
    assert wire_one[0] not in first.read_text()
    # and the cassette replays: the client gets the placeholder id and polls with it
    with TapeSession(first, mode=RecordMode.NONE) as tape:
        replayed = poll(url)  # the network is blocked: served from the cassette
    tape.check()
    assert replayed == ["00000000-0000-4000-8000-000000000001"]
