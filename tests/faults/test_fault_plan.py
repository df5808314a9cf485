"""Fault specs, the plan that picks which call gets which fault, and the answers' shapes."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracttape.bodies import sse_events
from contracttape.errors import ConfigError
from contracttape.faults import Chaos, Fault, FaultPlan
from contracttape.faults.answers import answer, malformed, stream_cut, truncated
from contracttape.faults.spec import TRANSIENT
from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.services import default_catalogue

CATALOGUE = default_catalogue()
EMBEDDINGS = RecordedRequest(
    "POST", "https://api.openai.com/v1/embeddings", (), b'{"model": "text-embedding-3-small"}'
)
CHAT = RecordedRequest("POST", "https://api.openai.com/v1/chat/completions", (), b'{"model": "gpt-4o-mini"}')
ELSEWHERE = RecordedRequest("GET", "https://example.test/health")


# -- specs --------------------------------------------------------------------------------------

NORMALISED = [
    (Fault("429"), {"kind": 429}),
    (Fault("timeout"), {"kind": "read_timeout"}),
    (Fault("connection_reset"), {"kind": "reset"}),
    (Fault(503, endpoint="post /v1/embeddings"), {"method": "POST", "endpoint": "/v1/embeddings"}),
    (Fault(503, endpoint="/v1/embeddings", method="get"), {"method": "GET", "endpoint": "/v1/embeddings"}),
    (Fault("slow", delay=2.5), {"kind": "slow", "delay": 2.5}),
]


@pytest.mark.parametrize(("fault", "expected"), NORMALISED, ids=lambda v: str(v)[:40])
def test_specs_are_normalised(fault: Fault, expected: dict[str, object]) -> None:
    checked = fault.checked()
    for name, value in expected.items():
        assert getattr(checked, name) == value


REFUSED = [
    (Fault(200), "400-599"),
    (Fault(True), "kind must be"),
    (Fault("boom"), "unknown kind"),
    (Fault(503, first=0), "first must be a whole number"),
    (Fault(503, every=1.5), "every must be a whole number"),  # type: ignore[arg-type]
    (Fault(503, first=1, every=2), "not both"),
    (Fault(429, retry_after=-1), "retry_after must be"),
    (Fault(429, retry_after=float("nan")), "retry_after must be"),
    (Fault("slow"), "needs delay="),
    (Fault(503, delay=1), "kind 'slow' only"),
    (Fault("reset", retry_after=1), "HTTP status fault"),
    (Fault(503, url="("), "not a regular expression"),
    (Fault(503, endpoint="embeddings"), "route template"),
]


@pytest.mark.parametrize(("fault", "says"), REFUSED, ids=lambda v: str(v)[:40])
def test_bad_specs_are_refused_with_the_reason(fault: Fault, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        fault.checked()


def test_the_plan_refuses_what_the_catalogue_does_not_know() -> None:
    with pytest.raises(
        ConfigError, match="t::x: fault 429: no service named 'openia'; known services: openai"
    ):
        FaultPlan(CATALOGUE, "t::x", faults=[Fault(429, service="openia")])
    with pytest.raises(
        ConfigError, match=r"no endpoint GET /v1/embeddings of openai; known: .*POST /v1/embeddings"
    ):
        FaultPlan(CATALOGUE, "t::x", faults=[Fault(429, service="openai", endpoint="GET /v1/embeddings")])
    with pytest.raises(ConfigError, match="faults= takes Fault"):
        FaultPlan(CATALOGUE, "t::x", faults=["429"])  # type: ignore[list-item]


# -- which calls get a fault ---------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    rule=st.one_of(
        st.tuples(st.just("first"), st.integers(1, 6)), st.tuples(st.just("every"), st.integers(1, 6))
    ),
    traffic=st.lists(st.booleans(), min_size=1, max_size=30),
)
def test_first_and_every_count_only_the_calls_they_match(rule: tuple[str, int], traffic: list[bool]) -> None:
    """``traffic``: True is an embeddings call, False a chat call the fault does not match."""
    name, n = rule
    plan = FaultPlan(
        CATALOGUE, "t::x", faults=[Fault(503, service="openai", endpoint="/v1/embeddings", **{name: n})]
    )
    faulted = [plan.decide(EMBEDDINGS if is_match else CHAT) is not None for is_match in traffic]
    calls = 0
    for is_match, got in zip(traffic, faulted, strict=True):
        calls += is_match
        expected = is_match and (calls <= n if name == "first" else calls % n == 0)
        assert got == expected
    assert [d.call for d in plan.served] == [
        c for c in range(1, calls + 1) if (c <= n if name == "first" else c % n == 0)
    ]


def test_the_first_fault_that_fires_wins_and_all_matching_faults_count() -> None:
    plan = FaultPlan(
        CATALOGUE, "t::x", faults=[Fault(429, service="openai", first=1), Fault(503, url="/v1/", every=2)]
    )
    kinds = [getattr(plan.decide(EMBEDDINGS), "fault", None) for _ in range(4)]
    assert [k.kind if k else None for k in kinds] == [429, 503, None, 503]


def test_faults_match_by_method_and_url_on_any_host() -> None:
    plan = FaultPlan(CATALOGUE, "t::x", faults=[Fault("reset", method="GET", url=r"/health$")])
    assert plan.decide(ELSEWHERE) is not None
    assert plan.decide(EMBEDDINGS) is None
    assert plan.served[0].endpoint is None  # no profile knows the host: the request is shown
    assert plan.served[0].request == "GET https://example.test/health"


# -- chaos ---------------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32), rate=st.floats(0.05, 1.0), test_id=st.text(min_size=1, max_size=20))
def test_chaos_is_a_function_of_seed_and_test(seed: int, rate: float, test_id: str) -> None:
    def run() -> list[object]:
        plan = FaultPlan(CATALOGUE, test_id, chaos=Chaos(seed, rate))
        return [getattr(plan.decide(r), "fault", None) for r in [EMBEDDINGS, CHAT, ELSEWHERE] * 5]

    first = run()
    assert first == run()
    assert all(f is None for f in first[2::3])  # a host no service claims is never touched
    assert all(f is None or f.kind in TRANSIENT for f in first)


def test_chaos_at_rate_one_faults_every_request_to_a_known_service() -> None:
    plan = FaultPlan(CATALOGUE, "t::x", chaos=Chaos(1, 1.0))
    assert all(plan.decide(EMBEDDINGS) is not None for _ in range(20))
    assert {d.source for d in plan.served} == {"chaos"}


@pytest.mark.parametrize(
    ("text", "expected"), [("7", Chaos(7, 0.1)), ("7:0.25", Chaos(7, 0.25)), ("0:1", Chaos(0, 1.0))]
)
def test_chaos_option_parses(text: str, expected: Chaos) -> None:
    assert Chaos.parse(text) == expected


@pytest.mark.parametrize("text", ["", "x", "7:", "7:0", "7:2", "7:-0.1", "7:abc"])
def test_chaos_option_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"SEED|RATE"):
        Chaos.parse(text)


# -- answers, each service in its own shape --------------------------------------------------------

SUPABASE = "https://abc.supabase.co"
LLAMA = "https://api.cloud.llamaindex.ai"
SHAPES = [
    # (uri, status, check on the decoded JSON body or None for a non-JSON page, content type prefix)
    (
        "https://api.openai.com/v1/embeddings",
        429,
        lambda b: b["error"]["code"] == "rate_limit_exceeded",
        "application/json",
    ),
    (
        "https://api.openai.com/v1/embeddings",
        500,
        lambda b: b["error"]["type"] == "server_error",
        "application/json",
    ),
    (
        "https://api.openai.com/v1/embeddings",
        503,
        lambda b: "overloaded" in b["error"]["message"],
        "application/json",
    ),
    ("https://api.openai.com/v1/embeddings", 502, None, "text/html"),
    ("https://api.openai.com/v1/embeddings", 504, None, "text/html"),
    (
        "https://api.openai.com/v1/embeddings",
        401,
        lambda b: b["error"]["code"] == "invalid_api_key",
        "application/json",
    ),
    (
        f"{SUPABASE}/auth/v1/token?grant_type=password",
        429,
        lambda b: b == {"code": "over_request_rate_limit", "message": "Request rate limit reached"},
        "application/json",
    ),
    (f"{SUPABASE}/auth/v1/signup", 500, lambda b: b["code"] == "unexpected_failure", "application/json"),
    (
        f"{SUPABASE}/rest/v1/documents",
        503,
        lambda b: set(b) == {"code", "details", "hint", "message"},
        "application/json",
    ),
    (f"{SUPABASE}/rest/v1/documents", 500, lambda b: b["code"] == "XX000", "application/json"),
    (
        f"{SUPABASE}/rest/v1/documents",
        429,
        lambda b: b == {"message": "API rate limit exceeded"},
        "application/json",
    ),
    (
        f"{SUPABASE}/storage/v1/object/b/p",
        500,
        lambda b: b == {"statusCode": "500", "error": "internal", "message": "Internal Server Error"},
        "application/json",
    ),
    (
        f"{SUPABASE}/storage/v1/object/b/p",
        429,
        lambda b: b == {"message": "API rate limit exceeded"},
        "application/json",
    ),
    (
        f"{SUPABASE}/storage/v1/object/b/p",
        504,
        lambda b: b == {"message": "The upstream server is timing out"},
        "application/json",
    ),
    (f"{SUPABASE}/functions/v1/ingest", 502, lambda b: "upstream" in b["message"], "application/json"),
    (f"{LLAMA}/api/v2/parse", 429, lambda b: set(b) == {"detail"}, "application/json"),
    (f"{LLAMA}/api/v2/parse", 402, lambda b: "credits" in b["detail"], "application/json"),
    (f"{LLAMA}/api/v2/parse", 502, None, "text/html"),
    ("https://example.test/x", 503, None, "text/plain"),
]


@pytest.mark.parametrize(
    ("uri", "status", "check", "content_type"),
    SHAPES,
    ids=[
        f"{uri.split('//')[1].split('/')[0]}{'/'.join(uri.split('/')[3:5])}-{status}"
        for uri, status, *_ in SHAPES
    ],
)
@pytest.mark.parametrize("retry_after", [None, 3, 0.5])
def test_status_faults_answer_in_the_services_own_shape(
    uri: str, status: int, check: object, content_type: str, retry_after: float | None
) -> None:
    request = RecordedRequest("POST", uri, (), b"{}")
    got = answer(CATALOGUE, request, Fault(status, retry_after=retry_after).checked(), None)
    assert got.status == status
    assert got.reason  # the status line's phrase
    assert (got.header("content-type") or "").startswith(content_type)
    assert got.header("retry-after") == (None if retry_after is None else f"{retry_after:g}")
    if check is not None:
        assert check(json.loads(got.body))  # type: ignore[operator]
    endpoint = CATALOGUE.endpoint(request, status, got)
    if endpoint is not None and uri.startswith("https://api.openai.com") and status not in (502, 504):
        assert dict(endpoint.variant).get("code")  # the profile's own error_code reads its fault answers


def test_an_openai_429_carries_its_rate_limit_headers() -> None:
    got = answer(CATALOGUE, EMBEDDINGS, Fault(429, retry_after=90).checked(), None)
    assert got.header("x-ratelimit-reset-requests") == "1m30s"
    assert got.header("retry-after-ms") == "90000"
    assert "text-embedding-3-small" in json.loads(got.body)["error"]["message"]


STREAM = b"".join(f'data: {{"i": {i}}}\n\n'.encode() for i in range(8)) + b"data: [DONE]\n\n"


def test_a_cut_stream_stops_half_way_without_its_end_marker() -> None:
    recorded = RecordedResponse(200, "OK", (("content-type", "text/event-stream"),), STREAM)
    cut = stream_cut(recorded)
    assert b"[DONE]" not in cut.body
    assert [e["i"] for e in sse_events(cut.body) if isinstance(e, dict)] == [0, 1, 2, 3]
    assert not cut.body.endswith(b"\n\n")  # the fifth event is half-written
    assert sse_events(stream_cut(None).body) == [{"index": 0, "delta": "stand-in"}]


def test_truncated_and_malformed_bodies_are_not_json_even_when_recorded_compressed() -> None:
    body = json.dumps({"data": [{"embedding": [0.1] * 50}]}).encode()
    recorded = RecordedResponse(
        200, "OK", (("content-type", "application/json"), ("content-encoding", "gzip")), gzip.compress(body)
    )
    for made in (truncated(recorded), malformed(recorded), truncated(None), malformed(None)):
        assert made.header("content-encoding") is None
        with pytest.raises(ValueError, match=r"Expecting|Unterminated|Extra data"):
            json.loads(made.body)
    assert body.startswith(truncated(recorded).body)
    assert len(truncated(recorded).body) == len(body) // 2


def test_a_storage_4xx_is_http_400_with_the_status_inside_as_storage_answers() -> None:
    request = RecordedRequest("GET", f"{SUPABASE}/storage/v1/object/documents/x.pdf")
    got = answer(CATALOGUE, request, Fault(404).checked(), None)
    assert got.status == 400
    assert json.loads(got.body) == {"statusCode": "404", "error": "not_found", "message": "Not Found"}
