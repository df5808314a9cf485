"""Webhook delivery: signed POSTs, retried with exponential backoff, from a background thread.

Signature: ``X-LlamaCloud-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with the
sandbox's webhook secret, and ``X-LlamaCloud-Timestamp: <unix seconds>``. (The real service's
signing scheme is not documented in our references; this is the sandbox's, see docs/sandbox.md.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

SIGNATURE_HEADER = "X-LlamaCloud-Signature"
TIMESTAMP_HEADER = "X-LlamaCloud-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    return hmac.compare_digest(lowered.get(SIGNATURE_HEADER.lower(), ""), sign(secret, timestamp, body))


@dataclass
class Delivery:
    url: str
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    attempts: list[int | str] = field(default_factory=list)  # status codes or error names
    delivered: bool = False


class WebhookSender:
    def __init__(self, secret: str, attempts: int, backoff: float) -> None:
        self.secret, self.max_attempts, self.backoff = secret, attempts, backoff
        self.deliveries: list[Delivery] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def send_at(self, when: float, delivery: Delivery) -> None:
        """Deliver once ``time.monotonic()`` reaches ``when`` (the job's completion)."""
        self.deliveries.append(delivery)
        thread = threading.Thread(
            target=self._run, args=(when, delivery), daemon=True, name="contracttape-webhook"
        )
        self._threads.append(thread)
        thread.start()

    def _run(self, when: float, delivery: Delivery) -> None:
        if self._stopping.wait(max(0.0, when - time.monotonic())):
            return
        body = json.dumps(delivery.payload).encode()
        with httpx.Client(timeout=5.0) as client:
            for attempt in range(self.max_attempts):
                timestamp = str(int(time.time()))
                headers = {
                    **delivery.headers,
                    "content-type": "application/json",
                    SIGNATURE_HEADER: sign(self.secret, timestamp, body),
                    TIMESTAMP_HEADER: timestamp,
                }
                try:
                    status = client.post(delivery.url, content=body, headers=headers).status_code
                    delivery.attempts.append(status)
                    if 200 <= status < 300:
                        delivery.delivered = True
                        return
                except httpx.HTTPError as exc:
                    delivery.attempts.append(type(exc).__name__)
                if self._stopping.wait(self.backoff * 2**attempt):
                    return

    def shutdown(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
