"""The id rewriter's two shortcuts must rewrite exactly what the plain text rewrite does:

- a short text is first searched for all known ids at once, and left alone when none is in it;
- a long JSON answer is rewritten value by value (keys and strings), its base64 runs skipped,
  instead of as one text split around its base64 runs.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from contracttape import ids
from contracttape.bodies import pretty_json
from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.redact import is_base64_blob, jwt_segment

UUID = "3f2b8c1e-9a4d-4e6f-b7c8-1d2e3f4a5b6c"
CHAT = "chatcmpl-AbC123dEf456GhI789"
BARE = "k9x2m4q7z1"  # a bare tail under an id key: letters and digits mixed
SHORTER = "chatcmpl-AbC123dE"  # a prefix of another id: longest first decides
JWT = "eyJhbGciOiJIUzI1NiJ9." + jwt_segment({"sub": UUID, "role": "x"}) + ".c2ln"
BLOB_WITH_ID = base64.b64encode(b"\x01" * 300).decode() + BARE + "A" * 2  # a run holding an id
SHORT_B64_WITH_ID = "QUJD" * 20 + BARE  # base64 letters, too short to be a run: rewritten


def _learned() -> ids.IdMap:
    id_map = ids.IdMap()
    answer = {"id": CHAT, "job_id": BARE, "user": {"id": UUID}, "other_id": SHORTER, "token": JWT}
    body = json.dumps(answer).encode()
    id_map.learn(RecordedResponse(200, "OK", (("content-type", "application/json"),), body), "POST /x")
    assert len(id_map) >= 4
    return id_map


MAP = _learned()
_pieces = st.sampled_from(
    [UUID, CHAT, BARE, SHORTER, JWT, "plain", "/jobs/", "-", "_", " ", "é", "x" + BARE + "y", CHAT[:12]]
)
_strings = st.lists(_pieces, max_size=5).map("".join) | st.sampled_from([BLOB_WITH_ID, SHORT_B64_WITH_ID])
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | _strings,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_strings, inner, max_size=3),
    max_leaves=15,
)


def _answer(document: Any) -> tuple[RecordedResponse, Any]:
    padded = {"data": document, "vector": base64.b64encode(bytes(range(256)) * 20).decode()}
    body = pretty_json(padded)
    headers = (("content-type", "application/json"), ("x-ref", UUID), ("content-length", str(len(body))))
    return RecordedResponse(200, "OK", headers, body), padded


@settings(max_examples=300, deadline=None)
@given(document=_json)
@example(document={CHAT: [UUID, {"job_id": BARE}], "token": JWT})
@example(document=[BLOB_WITH_ID, SHORT_B64_WITH_ID])
@example(document=JWT + JWT)  # a signature runs on over the next token's dots: once a crash
def test_a_long_json_answer_is_rewritten_value_by_value_as_the_text_would_be(document: Any) -> None:
    answer, parsed = _answer(document)
    assert len(answer.body) >= ids._LONG
    by_value = MAP.response(answer, (True, parsed))
    as_text = MAP.response(answer)
    assert by_value == as_text
    assert BLOB_WITH_ID not in json.dumps(document) or BLOB_WITH_ID.encode() in by_value.body  # left alone


def _naive(text: str) -> str:
    for real, placeholder in MAP._order:
        if real in text:
            text = text.replace(real, placeholder)
    return text


@settings(max_examples=300, deadline=None)
@given(text=st.lists(_pieces, max_size=8).map("".join))
def test_a_short_text_is_rewritten_as_the_substring_searches_would(text: str) -> None:
    assert MAP._known(text) == _naive(text)


def test_the_search_for_all_ids_follows_newly_learned_ids() -> None:
    id_map = ids.IdMap()
    later = "resp_Zq81Lm02Xy"

    def answer(value: str) -> RecordedResponse:
        return RecordedResponse(200, "OK", (), json.dumps({"id": value}).encode())

    id_map.learn(answer(CHAT), "a")
    assert id_map.text(f"see {later}") == f"see {later}"  # unknown yet, and the pattern is made
    id_map.learn(answer(later), "b")
    assert later not in id_map.text(f"see {later}")  # the pattern was made again


_RUN = st.text(st.sampled_from("AQz09+/"), min_size=250, max_size=262)


@given(
    core=_RUN
    | st.tuples(_RUN, st.sampled_from("-_.= "), st.integers(0, 261)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    ),
    padding=st.sampled_from(["", "=", "==", "==="]),
)
def test_a_string_left_alone_is_exactly_one_base64_run_as_the_text_rewrite_sees_it(
    core: str, padding: str
) -> None:
    value = core + padding
    assert is_base64_blob(value, shortest=256) == (ids._BLOB.fullmatch(value) is not None)


_LATER_IDS = [
    "resp_Zq81Lm02Xy",
    "file-9AbXc31Qz7",
    "0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f",
    "run_Q1w2E3r4T5y6",
]
_TEXTS = st.lists(st.sampled_from([*_LATER_IDS, CHAT, "application/json", "/v1/", " ", "x"]), max_size=4).map(
    "".join
)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.one_of(st.sampled_from(_LATER_IDS).map(lambda i: ("learn", i)), _TEXTS), max_size=30)
)
@example(steps=["see resp_Zq81Lm02Xy", ("learn", "resp_Zq81Lm02Xy"), "see resp_Zq81Lm02Xy"])
def test_a_text_seen_before_still_gets_the_ids_learned_since(steps: list[Any]) -> None:
    """Short texts are remembered as holding none of the ids learned so far: a text seen again
    after new ids were learned is rewritten exactly as a map that never saw it would."""
    id_map = ids.IdMap()
    id_map.learn(RecordedResponse(200, "OK", (), json.dumps({"id": CHAT}).encode()), "first")
    for n, step in enumerate(steps):
        if isinstance(step, tuple):
            id_map.learn(RecordedResponse(200, "OK", (), json.dumps({"id": step[1]}).encode()), f"a{n}")
            continue
        expected = step
        for real, placeholder in id_map._order:
            expected = expected.replace(real, placeholder)
        assert id_map._known(step) == expected
        assert id_map._known(step) == expected  # now from what it remembered


def test_a_text_checked_while_another_thread_learns_an_id_is_not_remembered_clean() -> None:
    """``learn`` adds an id to the list before it rebuilds the search: a text checked in between
    (without that id) must not be remembered as holding none of the ids listed."""
    id_map = ids.IdMap()
    id_map.learn(RecordedResponse(200, "OK", (), json.dumps({"id": CHAT}).encode()), "first")
    later = "resp_Zq81Lm02Xy"
    id_map._learned.append(later)  # what another thread's learn() has done so far
    assert id_map._known(f"see {later}") == f"see {later}"  # not searched for yet
    id_map._learned.pop()
    id_map.learn(RecordedResponse(200, "OK", (), json.dumps({"id": later}).encode()), "second")
    assert later not in id_map._known(f"see {later}")


def test_a_request_holding_no_known_id_is_the_very_request() -> None:
    """``TapeSession.prepare`` keeps the body it parsed only for the very request it stored: a
    request with nothing to rename must come back as it is, and one with an id as a new one."""
    plain = RecordedRequest(
        "POST", "http://h.test/v1/x", (("content-type", "application/json"),), b'{"a": 1}'
    )
    assert MAP.request(plain) is plain
    with_id = plain.with_(uri=f"http://h.test/v1/jobs/{UUID}")
    renamed = MAP.request(with_id)
    assert renamed is not with_id
    assert UUID not in renamed.uri
