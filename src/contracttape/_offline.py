"""The only monkeypatching contracttape does itself (vcrpy patches the HTTP clients).

``block_network``: every outbound INET connection and DNS lookup is refused, loopback too, so a
request that replay cannot serve can never reach a network. Unix sockets and socketpairs (event
loops, xdist) are left alone.

``compress_time``: ``time.sleep``, ``asyncio.sleep`` and ``anyio.sleep`` called from the test's
own thread return at once (still yielding to the event loop), so a client that polls a job every
second or backs off before a retry replays in milliseconds. The total time skipped is kept for the report.

Both are context managers that undo exactly what they did, and they record what they saw in the
``Incidents`` object they are given, so the plugin can fail a test even when a client swallowed
the error (SDKs wrap connection errors and retry).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from contracttape.errors import NetworkBlocked

_INET = (socket.AF_INET, socket.AF_INET6)


@dataclass
class Incidents:
    """What the guards saw during one test."""

    blocked: list[str] = field(default_factory=list)
    slept_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_block(self, what: str) -> None:
        with self._lock:
            self.blocked.append(what)

    def add_sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept_seconds += max(seconds, 0.0)


def _blocked_error(what: str, where: str) -> NetworkBlocked:
    return NetworkBlocked(
        f"{where}: network access blocked during replay ({what}). Replay serves traffic from "
        "cassettes only; record the missing traffic with `contracttape record -- <test id>`."
    )


@contextmanager
def block_network(incidents: Incidents, where: str) -> Iterator[None]:
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def guard(original: Callable[..., Any]) -> Callable[..., Any]:
        def connect(self: socket.socket, address: Any, *args: Any) -> Any:
            if self.family in _INET:
                what = f"connect to {address!r}"
                incidents.add_block(what)
                raise _blocked_error(what, where)
            return original(self, address, *args)

        return connect

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        what = f"DNS lookup of {host!r}"
        incidents.add_block(what)
        raise _blocked_error(what, where)

    socket.socket.connect = guard(original_connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = guard(original_connect_ex)  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = original_getaddrinfo


@contextmanager
def compress_time(incidents: Incidents) -> Iterator[None]:
    original_sleep = time.sleep
    original_async_sleep = asyncio.sleep
    anyio = sys.modules.get("anyio")
    original_anyio_sleep = getattr(anyio, "sleep", None)

    owner = threading.get_ident()

    def mine() -> bool:
        # Only the test's own thread: a server or worker thread running beside the test
        # (a recording target, a pytester parent) keeps its real clock.
        return threading.get_ident() == owner

    def sleep(seconds: float) -> None:
        if not mine():
            return original_sleep(seconds)
        incidents.add_sleep(seconds)
        original_sleep(0)

    async def async_sleep(delay: float, result: Any = None) -> Any:
        if not mine():
            return await original_async_sleep(delay, result)
        incidents.add_sleep(delay)
        return await original_async_sleep(0, result)

    async def anyio_sleep(delay: float) -> None:
        if not mine():
            return await original_anyio_sleep(delay)  # type: ignore[misc, no-any-return]
        incidents.add_sleep(delay)
        await original_anyio_sleep(0)  # type: ignore[misc]

    patches: list[tuple[Any, str, Any]] = [(time, "sleep", sleep), (asyncio, "sleep", async_sleep)]
    if anyio is not None:
        patches.append((anyio, "sleep", anyio_sleep))
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, replacement in patches:
        setattr(module, name, replacement)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)
