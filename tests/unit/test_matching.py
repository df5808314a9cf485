from __future__ import annotations

import pytest

from contracttape.matching import RequestShape, explain
from contracttape.model import RecordedRequest
from contracttape.normalize import Normaliser

JSON = (("content-type", "application/json"),)


def multipart(boundary: str, content: bytes = b"PDFDATA", name: str = "file") -> RecordedRequest:
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="tier"\r\n\r\nfast\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="a.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return RecordedRequest(
        "POST", "http://h.test/upload", (("content-type", f"multipart/form-data; boundary={boundary}"),), body
    )


def shape(request: RecordedRequest) -> RequestShape:
    return RequestShape.of(Normaliser().request(request))


SAME = [
    (
        "query order",
        RecordedRequest("GET", "http://h.test/x?a=1&b=2"),
        RecordedRequest("GET", "http://h.test/x?b=2&a=1"),
    ),
    (
        "json key order",
        RecordedRequest("POST", "http://h.test/x", JSON, b'{"a":1,"b":[1,2]}'),
        RecordedRequest("POST", "http://h.test/x", JSON, b'{\n  "b": [1, 2],\n  "a": 1\n}'),
    ),
    ("multipart boundary", multipart("aaa111"), multipart("bbb222")),
    (
        "form order",
        RecordedRequest(
            "POST", "http://h.test/f", (("content-type", "application/x-www-form-urlencoded"),), b"a=1&b=2"
        ),
        RecordedRequest(
            "POST", "http://h.test/f", (("content-type", "application/x-www-form-urlencoded"),), b"b=2&a=1"
        ),
    ),
    (
        "sdk noise headers",
        RecordedRequest("GET", "http://h.test/x", (("x-stainless-retry-count", "0"), ("user-agent", "a/1"))),
        RecordedRequest("GET", "http://h.test/x", (("x-stainless-retry-count", "2"), ("user-agent", "b/2"))),
    ),
    (
        "credentials differ",
        RecordedRequest("GET", "http://h.test/x", (("authorization", "Bearer sk-" + "a" * 30),)),
        RecordedRequest("GET", "http://h.test/x", (("authorization", "Bearer sk-" + "b" * 30),)),
    ),
    (
        "default port",
        RecordedRequest("GET", "https://h.test/x"),
        RecordedRequest("GET", "https://h.test:443/x"),
    ),
    ("method case", RecordedRequest("get", "http://h.test/x"), RecordedRequest("GET", "http://h.test/x")),
]

DIFFERENT = [
    ("path", RecordedRequest("GET", "http://h.test/x"), RecordedRequest("GET", "http://h.test/y"), "path"),
    (
        "method",
        RecordedRequest("GET", "http://h.test/x"),
        RecordedRequest("DELETE", "http://h.test/x"),
        "method",
    ),
    ("host", RecordedRequest("GET", "http://a.test/x"), RecordedRequest("GET", "http://b.test/x"), "origin"),
    (
        "query value",
        RecordedRequest("GET", "http://h.test/x?a=1"),
        RecordedRequest("GET", "http://h.test/x?a=2"),
        "query",
    ),
    (
        "json value",
        RecordedRequest("POST", "http://h.test/x", JSON, b'{"a":1}'),
        RecordedRequest("POST", "http://h.test/x", JSON, b'{"a":2}'),
        "body",
    ),
    ("multipart content", multipart("aaa", b"ONE"), multipart("aaa", b"TWO"), "body"),
    (
        "prefer header",
        RecordedRequest("POST", "http://h.test/r", (("prefer", "return=minimal"),)),
        RecordedRequest("POST", "http://h.test/r", (("prefer", "return=representation"),)),
        "headers",
    ),
    (
        "object accept",
        RecordedRequest("GET", "http://h.test/r", (("accept", "application/vnd.pgrst.object+json"),)),
        RecordedRequest("GET", "http://h.test/r", (("accept", "application/json"),)),
        "headers",
    ),
]


@pytest.mark.parametrize(("case", "a", "b"), SAME, ids=[c[0] for c in SAME])
def test_equivalent_requests_share_a_key(case: str, a: RecordedRequest, b: RecordedRequest) -> None:
    assert shape(a).key == shape(b).key
    assert explain(shape(a), shape(b)) == []


@pytest.mark.parametrize(("case", "a", "b", "matcher"), DIFFERENT, ids=[c[0] for c in DIFFERENT])
def test_different_requests_differ_and_say_why(
    case: str, a: RecordedRequest, b: RecordedRequest, matcher: str
) -> None:
    assert shape(a).key != shape(b).key
    assert [m.matcher for m in explain(shape(a), shape(b))] == [matcher]


def test_json_difference_names_the_path() -> None:
    a = RecordedRequest("POST", "http://h.test/x", JSON, b'{"input": ["a", "b"], "model": "m"}')
    b = RecordedRequest("POST", "http://h.test/x", JSON, b'{"input": ["a", "c"], "model": "m"}')
    (mismatch,) = explain(shape(a), shape(b))
    assert mismatch.detail == 'JSON body differs at $.input[1]: "c" recorded, "b" sent'


def test_multipart_difference_names_the_part() -> None:
    (mismatch,) = explain(shape(multipart("x", b"ONE")), shape(multipart("y", b"TWO")))
    assert mismatch.detail == "multipart parts differ: file(a.pdf)"
