"""Server-made ids become stable placeholders: re-recording an unchanged API rewrites nothing,
and the requests that echo an id still match in replay."""

from __future__ import annotations

import base64
import json
import random
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracttape import RecordMode, TapeSession
from contracttape.ids import IdMap, jwt_claims
from contracttape.model import RecordedResponse
from tests.integration.loopback_app import LoopbackServer, LoopbackState


def answer(body: object) -> RecordedResponse:
    return RecordedResponse(200, "OK", (("content-type", "application/json"),), json.dumps(body).encode())


LEARNED = [  # an answer, the id in it, the placeholder's expected start
    ({"id": "chatcmpl-c64aa1a1ee32437399ef8b80"}, "chatcmpl-c64aa1a1ee32437399ef8b80", "chatcmpl-"),
    ({"id": "8fc82464-3f27-4536-b378-fbcbc50cd984"}, "8fc82464-3f27-4536-b378-fbcbc50cd984", "00000000-"),
    ({"job_id": "job_9f8e7d6c5b4a"}, "job_9f8e7d6c5b4a", "job_"),
    (
        {"user": {"id": "6946822d-2139-4c66-b489-dd6cc263a3d3", "email": "a@b.c"}},
        "6946822d-2139-4c66-b489-dd6cc263a3d3",
        "00000000-",
    ),
    ({"note": "8fc82464-3f27-4536-b378-fbcbc50cd984"}, "8fc82464-3f27-4536-b378-fbcbc50cd984", "00000000-"),
]
PLACEHOLDER = re.compile(r"00000000-0000-4000-8000-[0-9a-f]{12}|[a-z]+[-_]\d+")
NOT_IDS = [
    {"id": "invoice"},  # a word
    {"id": "12345678"},  # a number the client chose
    {"name": "chatcmpl-c64aa1a1ee32437399ef8b80"},  # not under an id key
    {"id": "00000000-0000-4000-8000-000000000007"},  # already a placeholder
    {"id": "chatcmpl-000000000000000000000003"},
]


@pytest.mark.parametrize(("body", "real", "start"), LEARNED, ids=[str(i) for i in range(len(LEARNED))])
def test_ids_are_learned_with_placeholders_of_the_same_shape(body: object, real: str, start: str) -> None:
    ids = IdMap()
    ids.learn(answer(body), "POST http://svc.test/jobs")
    rewritten = ids.text(f"/jobs/{real}?x=1")
    placeholder = rewritten.removeprefix("/jobs/").removesuffix("?x=1")
    assert PLACEHOLDER.fullmatch(placeholder), placeholder
    assert len(placeholder) == len(real)
    assert placeholder.startswith(start)


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
    assert PLACEHOLDER.fullmatch(payload["sub"])
    assert PLACEHOLDER.fullmatch(payload["session_id"])
    assert payload["sub"] != payload["session_id"]
    assert new_token.endswith(".contracttape-redacted")
    rewritten_stream = ids.text(stream.decode())
    assert "chatcmpl-9abcdef0123456789" not in rewritten_stream
    assert re.search(r'"chatcmpl-\d{17}"', rewritten_stream)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.uuids(), min_size=1, max_size=8, unique=True), st.randoms())
def test_the_placeholders_depend_on_where_an_id_appeared_not_on_order(
    values: list[uuid.UUID], rng: random.Random
) -> None:
    """Two recordings of the same flow, with other ids on the wire and the answers arriving in
    another order (concurrent requests), store the same text."""

    def stored(ids_on_the_wire: list[str], order: list[int]) -> dict[int, str]:
        ids = IdMap()
        for n in order:  # request n was answered with ids_on_the_wire[n]
            ids.learn(answer({"id": ids_on_the_wire[n]}), f"POST http://svc.test/jobs?n={n}")
        return {n: ids.text(value) for n, value in enumerate(ids_on_the_wire)}

    order = list(range(len(values)))
    shuffled = list(order)
    rng.shuffle(shuffled)
    other = [str(uuid.uuid4()) for _ in values]
    first = stored([str(v) for v in values], order)
    assert first == stored(other, shuffled)
    assert len(set(first.values())) == len(values)


def test_one_request_answered_twice_names_each_answer_apart() -> None:
    ids = IdMap()
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    ids.learn(answer({"id": a}), "POST http://svc.test/jobs")
    ids.learn(answer({"id": b}), "POST http://svc.test/jobs")
    assert ids.text(a) != ids.text(b)


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
    assert len(replayed) == 1
    assert PLACEHOLDER.fullmatch(replayed[0])
    assert replayed[0] in first.read_text()


@settings(max_examples=50)
@given(raw=st.binary(min_size=300, max_size=3000), where=st.integers(min_value=0, max_value=4000))
def test_ids_are_rewritten_around_a_vector_never_inside_it(raw: bytes, where: int) -> None:
    """A large body's base64 runs are data: an id made of letters and digits that happens to
    occur in one is left alone there (rewriting it would corrupt the vector), and every id
    outside them is still rewritten."""
    real = "a1B2c3D4e5F6"  # an id of letters and digits, which base64 can contain
    encoded = base64.b64encode(raw).decode()
    at = where % (len(encoded) - 4) // 4 * 4
    vector = encoded[:at] + real + encoded[at:]  # still base64 (12 characters: 9 bytes)
    ids = IdMap()
    uuid_id = str(uuid.UUID(int=where + 1))
    ids.learn(answer({"id": real, "other_id": uuid_id}))
    body = json.dumps({"embedding": vector, "job": real, "owner": uuid_id, "url": f"/v1/jobs/{real}"})
    rewritten = json.loads(ids.text(body))
    assert rewritten["embedding"] == vector
    assert real not in (rewritten["job"], rewritten["url"])
    assert rewritten["url"] == f"/v1/jobs/{rewritten['job']}"
    assert uuid_id not in json.dumps(rewritten)


@settings(max_examples=40)
@given(order=st.permutations(range(5)))
def test_an_id_that_concurrent_answers_share_is_named_the_same_in_any_order(order: list[int]) -> None:
    """A project id carried by every job answer: whichever answer arrives first, the cassette
    names it (and every job id) the same, also inside a JWT."""
    from contracttape.ids import renamed
    from contracttape.model import Interaction, RecordedRequest

    project = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a69"
    jobs = [str(uuid.UUID(int=n + 17)) for n in range(5)]

    def record(arrival: list[int]) -> list[Interaction]:
        ids, stored = IdMap(), []
        for n in arrival:
            body = {"id": jobs[n], "project_id": project, "token": jwt_with({"sub": project})}
            ids.learn(answer(body), f"POST /upload file-{n}")
            request = RecordedRequest("POST", f"https://parse.test/upload/{n}")
            stored.append(Interaction(request, ids.response(answer(body))))
        return sorted(renamed(stored, ids.settled()), key=lambda i: i.request.uri)

    assert record(order) == record(list(range(5)))
    assert project not in str(record(order))


def jwt_with(claims: dict[str, object]) -> str:
    def segment(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'HS256'})}.{segment(claims)}.c2ln"
