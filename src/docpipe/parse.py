"""LlamaParse (v2, through llama-cloud): submit a PDF, learn when it is done, fetch markdown.

When docpipe is reachable (``Settings.public_url``), the job reports to the webhook receiver and
the wait ends as soon as a verified delivery arrives; the job is polled all the same, at a slower
pace, because webhooks can be lost. Without a public URL the job is simply polled.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import llama_cloud
from llama_cloud import AsyncLlamaCloud

from docpipe.errors import PipelineError
from docpipe.resilience import RateLimiter
from docpipe.settings import Settings

T = TypeVar("T")
WEBHOOK_PATH = "/webhooks/llamaparse"
SIGNATURE_HEADER = "x-llamacloud-signature"
TIMESTAMP_HEADER = "x-llamacloud-timestamp"
TOLERANCE_SECONDS = 300  # a delivery older than this is refused (replayed deliveries)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_delivery(
    secret: str | None, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> str | None:
    """None when the delivery is genuine; otherwise why it is refused."""
    if not secret:
        return "no webhook secret is configured (LLAMA_CLOUD_WEBHOOK_SECRET)"
    lowered = {k.lower(): v for k, v in headers.items()}
    given, timestamp = lowered.get(SIGNATURE_HEADER, ""), lowered.get(TIMESTAMP_HEADER, "")
    if not given or not timestamp:
        return "unsigned delivery"
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return "malformed timestamp"
    if age > TOLERANCE_SECONDS:
        return f"stale delivery ({age:.0f} s old)"
    if not hmac.compare_digest(given, signature(secret, timestamp, body)):
        return "bad signature"
    return None


class JobEvents:
    """Verified webhook deliveries, by job id; a waiter on any event loop wakes when its job's
    delivery arrives on any thread (the receiver may run on its own server thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
        self._arrived: dict[str, str] = {}  # job id -> final status
        self.deliveries: list[dict[str, Any]] = []

    def arrived(self, payload: dict[str, Any]) -> None:
        job_id = str(payload.get("job_id") or payload.get("data", {}).get("job_id") or "")
        with self._lock:
            self.deliveries.append(payload)
            self._arrived[job_id] = str(payload.get("status") or "")
            waiter = self._waiters.get(job_id)
        if waiter is not None:
            loop, event = waiter
            loop.call_soon_threadsafe(event.set)

    async def wait(self, job_id: str, seconds: float) -> bool:
        """Until the job's delivery arrives (True) or ``seconds`` pass (False)."""
        event = asyncio.Event()
        with self._lock:
            if job_id in self._arrived:
                return True
            self._waiters[job_id] = (asyncio.get_running_loop(), event)
        sleeper = asyncio.ensure_future(asyncio.sleep(seconds))  # the replay clock skips this
        woken = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            woken.cancel()
            with self._lock:
                self._waiters.pop(job_id, None)
        return event.is_set()


@dataclass(frozen=True)
class Parsed:
    job_id: str
    markdown: str
    pages: int
    credits: float


class Parser:
    def __init__(self, settings: Settings, limiter: RateLimiter, events: JobEvents) -> None:
        self.settings = settings
        self.limiter = limiter
        self.events = events
        self.client = AsyncLlamaCloud(
            base_url=settings.llama_base_url,
            api_key=settings.llama_api_key,
            max_retries=settings.attempts - 1,
        )

    async def aclose(self) -> None:
        await self.client.close()

    async def submit(self, filename: str, data: bytes) -> str:
        hooks: Any = llama_cloud.omit
        if self.settings.public_url:
            hooks = [
                {
                    "webhook_url": f"{self.settings.public_url}{WEBHOOK_PATH}",
                    "webhook_events": ["parse.success", "parse.error"],
                }
            ]
        job = await self._call(
            f"LlamaParse refused {filename}",
            self.client.parsing.create(
                tier=self.settings.tier,
                version="latest",
                upload_file=(filename, data, "application/pdf"),
                webhook_configurations=hooks,
            ),
        )
        return str(job.id)

    async def _call(self, refused: str, call: Awaitable[T]) -> T:
        """One paid call, paced by the rate limiter; its failure as the pipeline's error."""
        await self.limiter.acquire()
        try:
            return await call
        except llama_cloud.APIStatusError as exc:
            raise PipelineError("parse", f"{refused}: {exc.status_code} {_detail(exc)}") from exc
        except llama_cloud.APIConnectionError as exc:
            raise PipelineError("parse", f"LlamaParse could not be reached: {exc}") from exc

    async def result(self, job_id: str, filename: str) -> Parsed:
        """Wait for the job (webhook or polling), then fetch its markdown."""
        hooked = self.settings.public_url is not None
        pace = self.settings.poll_seconds * (5 if hooked else 1)
        waited = 0.0
        while True:
            if hooked:  # the delivery (or, if it is lost, the pace) comes first: one read when done
                await self.events.wait(job_id, pace)
                waited += pace
            got = await self._call(
                f"LlamaParse job {job_id}",
                self.client.parsing.get(job_id, expand=["markdown", "job_metadata"]),
            )
            status = got.job.status
            if status == "COMPLETED":
                return self._parsed(job_id, got)
            if status in ("FAILED", "CANCELLED"):
                reason = getattr(got.job, "error_message", None) or status.lower()
                raise PipelineError("parse", f"LlamaParse could not parse {filename}: {reason}")
            if waited >= self.settings.parse_timeout_seconds:
                raise PipelineError(
                    "parse",
                    f"LlamaParse job {job_id} still {status} after {waited:.0f} s; re-run to resume it",
                )
            if not hooked:
                await asyncio.sleep(pace)
                waited += pace

    @staticmethod
    def _parsed(job_id: str, got: Any) -> Parsed:
        pages = list(getattr(got.markdown, "pages", None) or [])
        markdown = "\n\n".join(str(getattr(p, "markdown", "") or "") for p in pages)
        metadata = got.job_metadata or {}
        credits = float(metadata.get("credits_used") or metadata.get("job_credits_usage") or 0)
        return Parsed(job_id, markdown, len(pages), credits)


def _detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("message") or body)
    return str(exc)
