"""Transport faults raised as the calling library's own exceptions.

A read timeout reaches an httpx client as ``httpx.ReadTimeout`` (``httpx2.ReadTimeout`` for
openai 3.x), a requests client as ``requests.exceptions.ReadTimeout`` (raised here as the socket
error urllib3 turns into it), an aiohttp client as ``aiohttp.SocketTimeoutError``; so an SDK's
own handling (retries, ``APITimeoutError``...) runs exactly as on a real failure. ``Caller`` says
who is asking; the vcrpy bridge finds it (``_vcr.caller``).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Caller:
    library: str  # "httpx" / "httpx2", "aiohttp", "urllib3", "http.client", or "unknown"
    module: Any = None  # the httpx module (httpx or httpx2)
    request: Any = None  # the library's own request object, when it has one
    connection: Any = None  # urllib3's connection (its exceptions name it)
    read_timeout: float | None = None  # what the client allows for an answer, when it says
    json_body: bool = False  # aiohttp: the body was given as ``json=``


def error(kind: str, caller: Caller, url: str, waited: float | None = None) -> BaseException:
    """The exception ``caller``'s library raises for ``kind`` (read_timeout, connect_timeout, reset)."""
    timed = f" (after {waited:g}s)" if waited is not None else ""
    if caller.module is not None:  # httpx and httpx2 share their exception classes' names
        httpx = caller.module
        cls = {"read_timeout": httpx.ReadTimeout, "connect_timeout": httpx.ConnectTimeout}.get(
            kind, httpx.ReadError
        )
        message = {"read_timeout": "The read operation timed out", "connect_timeout": "timed out"}.get(
            kind, "[Errno 104] Connection reset by peer"
        )
        return cls(message + timed, request=caller.request)  # type: ignore[no-any-return]
    if caller.library == "aiohttp":
        import aiohttp

        if kind == "read_timeout":
            return aiohttp.SocketTimeoutError(f"Timeout on reading data from socket{timed}")
        if kind == "connect_timeout":
            return aiohttp.ConnectionTimeoutError(f"Connection timeout to host {url}")
        return aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer")
    if caller.library == "urllib3" and kind == "connect_timeout":
        from urllib3.exceptions import ConnectTimeoutError

        return ConnectTimeoutError(caller.connection, f"Connection to {url} timed out.")
    # http.client and urllib3 (requests) see socket errors; urllib3 maps them to its own
    if kind in ("read_timeout", "connect_timeout"):
        return TimeoutError("timed out")
    return ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
