"""Retries with backoff that honour ``Retry-After``, and a client-side rate limiter.

The OpenAI and LlamaParse SDKs retry by themselves (429, 5xx, connection errors; ``Retry-After``
honoured); docpipe sets their attempt count. The Supabase clients (postgrest, storage3, functions)
go through ``RetryingTransport``, one policy for all three: 429 and 503 and connection failures
are retried for every method (the request was not processed), 500/502/504 only where repeating is
harmless (GET/HEAD/PUT/DELETE and upserts), each after ``Retry-After`` when the answer gives one
and an exponential backoff otherwise. Waits go through ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass, field

import httpx

ALWAYS = frozenset({429, 503})
IF_IDEMPOTENT = frozenset({500, 502, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass
class RetryPolicy:
    attempts: int = 4
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 20.0
    waited: list[float] = field(default_factory=list)  # every wait taken, for the caller's report

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        told = parse_retry_after(retry_after)
        if told is not None:
            return min(told, self.max_backoff_seconds * 3)
        return float(min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds))


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (a number, or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retryable(request: httpx.Request, status: int) -> bool:
    if status in ALWAYS:
        return True
    if status not in IF_IDEMPOTENT:
        return False
    upsert = "resolution=merge-duplicates" in request.headers.get("prefer", "")
    return request.method in IDEMPOTENT_METHODS or upsert


class RetryingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that retries what ``retryable`` allows, under ``policy``."""

    def __init__(self, policy: RetryPolicy, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()  # kept: a retry sends the same bytes
        for attempt in range(1, self.policy.attempts + 1):
            last = attempt == self.policy.attempts
            try:
                response = await self.inner.handle_async_request(
                    httpx.Request(
                        request.method,
                        request.url,
                        headers=request.headers,
                        content=body,
                        extensions=request.extensions,
                    )
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError):
                if last:
                    raise
                await self._wait(attempt, None)
                continue
            if last or not retryable(request, response.status_code):
                return response
            retry_after = response.headers.get("retry-after")
            await response.aread()
            await response.aclose()
            await self._wait(attempt, retry_after)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait(self, attempt: int, retry_after: str | None) -> None:
        seconds = self.policy.delay(attempt, retry_after)
        self.policy.waited.append(seconds)
        await asyncio.sleep(seconds)

    async def aclose(self) -> None:
        await self.inner.aclose()


class RateLimiter:
    """A token bucket: at most ``rate`` calls per second on average, bursts of ``burst``.

    Shared by every request of one pipeline, so N concurrent ingestions together stay under the
    service's limit instead of each learning it from a 429."""

    def __init__(self, rate: float, burst: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate)))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()
        self.delayed = 0  # calls that had to wait

    async def acquire(self) -> None:
        async with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                self.delayed += 1
                wait = (1 - self.tokens) / self.rate
                await asyncio.sleep(wait)
                # credit the wait itself, not the clock: under a virtual clock (replay) the
                # sleep returns at once and the bucket must still refill
                self.tokens += wait * self.rate
                self.updated = time.monotonic()
            self.tokens -= 1
