"""docpipe's retry policy and rate limiter, without services (an httpx MockTransport)."""

from __future__ import annotations

import asyncio
import email.utils
import time

import httpx
import pytest

from docpipe.resilience import RateLimiter, RetryingTransport, RetryPolicy, parse_retry_after, retryable


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0", 0.0), ("1.5", 1.5), ("-4", 0.0), ("", None), (None, None), ("soon", None)],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_as_an_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (parse_retry_after(later) or 0) <= 30
    assert parse_retry_after(email.utils.formatdate(time.time() - 30, usegmt=True)) == 0.0


@pytest.mark.parametrize(
    ("method", "status", "prefer", "expected"),
    [
        ("POST", 429, "", True),
        ("POST", 503, "", True),
        ("POST", 500, "", False),  # an insert may have happened: never repeated
        ("POST", 502, "resolution=merge-duplicates", True),  # an upsert: harmless to repeat
        ("GET", 500, "", True),
        ("PATCH", 504, "", False),
        ("DELETE", 502, "", True),
        ("GET", 404, "", False),
        ("GET", 400, "", False),
    ],
)
def test_what_is_retried(method: str, status: int, prefer: str, expected: bool) -> None:
    request = httpx.Request(method, "http://x/rest/v1/t", headers={"prefer": prefer} if prefer else {})
    assert retryable(request, status) is expected


def test_backoff_doubles_and_is_capped_and_retry_after_wins() -> None:
    policy = RetryPolicy(attempts=6, backoff_seconds=0.5, max_backoff_seconds=3)
    assert [policy.delay(n, None) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(1, "7") == 7.0
    assert policy.delay(1, "100000") == 9.0  # a runaway Retry-After is capped too


def _transport(answers: list[httpx.Response | Exception], seen: list[bytes]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.read())
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler)


async def test_transport_retries_then_succeeds_with_the_same_body(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    seen: list[bytes] = []
    answers: list[httpx.Response | Exception] = [
        httpx.Response(429, headers={"retry-after": "2"}),
        httpx.ConnectError("refused"),
        httpx.Response(201, json={"ok": True}),
    ]
    policy = RetryPolicy(attempts=4, backoff_seconds=0.25)
    async with httpx.AsyncClient(transport=RetryingTransport(policy, _transport(answers, seen))) as client:
        answer = await client.post("http://x/rest/v1/t", json={"a": 1})
    assert answer.status_code == 201
    assert seen == [b'{"a":1}'] * 3
    assert slept == policy.waited == [2.0, 0.5]


async def test_transport_gives_up_after_its_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    async def sleep(seconds: float) -> None:
        return None

    monkeypatch.setattr(asyncio, "sleep", sleep)
    seen: list[bytes] = []
    answers: list[httpx.Response | Exception] = [httpx.Response(503) for _ in range(3)]
    async with httpx.AsyncClient(
        transport=RetryingTransport(RetryPolicy(attempts=3), _transport(answers, seen))
    ) as c:
        answer = await c.get("http://x/rest/v1/t")
    assert answer.status_code == 503
    assert len(seen) == 3


async def test_rate_limiter_spaces_calls_even_when_sleep_returns_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under replay's virtual clock asyncio.sleep returns at once: the bucket must still refill
    by what it waited, or the limiter would spin."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    limiter = RateLimiter(rate=10, burst=2)
    for _ in range(6):
        await limiter.acquire()
    assert limiter.delayed == 4
    assert sum(slept) == pytest.approx(0.4, abs=0.02)  # 4 calls beyond the burst, 0.1 s apart
