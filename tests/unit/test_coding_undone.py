"""A recorded answer is decoded once, for the cassette and for its price alike
(``bodies.coding_undone``): its Content-Encoding undone as labelled, exactly once, and the label
gone, so that no later reader can undo a coding twice or not at all."""

from __future__ import annotations

import gzip
import zlib

import pytest

from contracttape.bodies import coding_undone, decode_body
from contracttape.model import RecordedResponse

BODY = b'{"usage": {"prompt_tokens": 7, "total_tokens": 7}}'


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data)


CASES = [
    # (label, body as sent, content-encoding, what the reader gets)
    ("plain", BODY, None, BODY),
    ("gzip", gzip.compress(BODY), "gzip", BODY),
    ("upper-case label", gzip.compress(BODY), "GZIP", BODY),
    ("deflate", _deflate(BODY), "deflate", BODY),
    ("stacked codings", gzip.compress(_deflate(BODY)), "deflate, gzip", BODY),
    (
        "coded twice, labelled once: one layer undone",
        gzip.compress(gzip.compress(BODY)),
        "gzip",
        gzip.compress(BODY),
    ),
    ("already decoded, label left behind", BODY, "gzip", BODY),
    ("identity", BODY, "identity", BODY),
]


@pytest.mark.parametrize(("body", "coding", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_coding_is_undone_once_and_its_label_dropped(
    body: bytes, coding: str | None, expected: bytes
) -> None:
    headers = (("Content-Type", "application/json"), ("Content-Length", str(len(body))))
    if coding is not None:
        headers += (("Content-Encoding", coding),)
    response = RecordedResponse(200, "OK", headers, body)
    undone = coding_undone(response)
    assert undone.body == expected
    assert undone.header("content-encoding") is None
    # the other headers as they came: the normaliser rewrites content-length from the body
    assert [h for h in undone.headers] == [h for h in headers if h[0] != "Content-Encoding"]
    assert decode_body(undone.body, undone.headers) == undone.body  # reading it again changes nothing
    assert coding_undone(undone) == undone
    if coding is None:
        assert undone is response
