"""What every stand-in reads off a request the same way: the bearer credential, and a sliding
window of recent requests for rate limits."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping


def bearer(headers: Mapping[str, str]) -> str | None:
    """The credential of ``Authorization: Bearer <credential>``, or None."""
    auth = headers.get("authorization", "")
    credential = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    return credential or None


class SlidingWindow:
    """Weighted events within the last ``seconds`` (requests, or tokens per request)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._events: deque[tuple[float, int]] = deque()
        self.lock = threading.Lock()  # callers hold it across check-then-add

    def _expire(self, now: float) -> None:
        while self._events and now - self._events[0][0] >= self.seconds:
            self._events.popleft()

    def count(self) -> int:
        self._expire(time.monotonic())
        return len(self._events)

    def total(self) -> int:
        self._expire(time.monotonic())
        return sum(weight for _, weight in self._events)

    def wait(self) -> float:
        """Seconds until the oldest event leaves the window (0 when it is empty)."""
        now = time.monotonic()
        self._expire(now)
        return self.seconds - (now - self._events[0][0]) if self._events else 0.0

    def add(self, weight: int = 1) -> None:
        self._events.append((time.monotonic(), weight))
