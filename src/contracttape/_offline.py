"""The only monkeypatching contracttape does itself (vcrpy patches the HTTP clients).

``block_network``: every outbound INET connection, datagram and name lookup is refused,
loopback too, so a request that replay cannot serve can never reach a network: ``connect``,
``connect_ex``, ``sendto``/``sendmsg`` on ``socket.socket`` and on sockets made from the C
``_socket.socket`` directly, and ``getaddrinfo``, ``gethostbyname(_ex)``, ``gethostbyaddr``,
``getnameinfo`` in both modules. Unix sockets and socketpairs (event loops, xdist) are left
alone. What no in-process patch can stop (C code calling libc, a subprocess, a spawned
interpreter) is closed by ``empty_network_namespace``, which ``contracttape replay`` uses.

``compress_time``: ``time.sleep``, ``asyncio.sleep`` and ``anyio.sleep`` called from the test's
own thread return at once (still yielding to the event loop), so a client that polls a job every
second or backs off before a retry replays in milliseconds. The total time skipped is kept for the report.

Both are context managers that undo exactly what they did, and they record what they saw in the
``Incidents`` object they are given, so the plugin can fail a test even when a client swallowed
the error (SDKs wrap connection errors and retry).
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import os
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


_LOOKUPS = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo")
_SENDS = ("connect", "connect_ex", "sendto", "sendmsg")


@contextmanager
def block_network(incidents: Incidents, where: str) -> Iterator[None]:
    def refuse(what: str) -> NetworkBlocked:
        incidents.add_block(what)
        return _blocked_error(what, where)

    def guard(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self.family in _INET and not (name in ("sendto", "sendmsg") and _unaddressed(name, args)):
                raise refuse(f"{name} to {_address(name, args)!r}")
            return original(self, *args, **kwargs)

        guarded.__name__ = name
        return guarded

    def lookup(name: str) -> Callable[..., Any]:
        def refused(host: Any, *args: Any, **kwargs: Any) -> Any:
            raise refuse(f"DNS lookup of {host!r} ({name})")

        return refused

    raw_socket = _socket.socket
    guarded_type = type(
        "socket",
        (raw_socket,),
        {name: guard(name, getattr(raw_socket, name)) for name in _SENDS},
    )
    patches: list[tuple[Any, str, Any]] = [
        *((socket.socket, name, guard(name, getattr(socket.socket, name))) for name in _SENDS),
        *((module, name, lookup(name)) for module in (socket, _socket) for name in _LOOKUPS),
        (_socket, "socket", guarded_type),
    ]
    with _patched(patches):
        yield


_ABSENT = object()


@contextmanager
def _patched(patches: list[tuple[Any, str, Any]]) -> Iterator[None]:
    """Set each ``(target, name, replacement)``; afterwards put back exactly what was there."""
    saved = [(target, name, vars(target).get(name, _ABSENT)) for target, name, _ in patches]
    for target, name, replacement in patches:
        setattr(target, name, replacement)
    try:
        yield
    finally:
        for target, name, original in saved:
            if original is _ABSENT:
                delattr(target, name)  # it was inherited (socket.socket.connect is _socket's)
            else:
                setattr(target, name, original)


def _unaddressed(name: str, args: tuple[Any, ...]) -> bool:
    """A ``sendto``/``sendmsg`` with no address goes to the connected peer, and connecting
    was refused already; anything with an address is a new destination."""
    if name == "sendto":
        return len(args) < 2
    return len(args) < 4 or args[3] is None


def _address(name: str, args: tuple[Any, ...]) -> Any:
    if name == "sendto":
        return args[-1] if len(args) >= 2 else None
    if name == "sendmsg":
        return args[3] if len(args) >= 4 else None
    return args[0] if args else None


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
    with _patched(patches):
        yield


# -- a network namespace with no interfaces (Linux) ------------------------------------------------

ISOLATION_ENV = "CONTRACTTAPE_ISOLATION"
NETNS = "network namespace"
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000


def enter_empty_network_namespace() -> None:
    """Move the calling process into a new network namespace, which has no interface but a
    ``lo`` that is down: no socket, libc call or child process can reach any address.

    As root this is ``unshare(CLONE_NEWNET)``; otherwise a user namespace comes with it (the
    caller keeps its own uid and gid). Raises ``OSError`` where the kernel does not allow it.
    Meant for ``subprocess``'s ``preexec_fn`` (single-threaded, between fork and exec)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    flags = _CLONE_NEWNET if os.geteuid() == 0 else _CLONE_NEWNET | _CLONE_NEWUSER
    if libc.unshare(flags) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare: {os.strerror(errno)}")
    if flags & _CLONE_NEWUSER:
        maps = (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1"))
        for name, text in maps:
            with open(f"/proc/self/{name}", "w", encoding="ascii") as handle:
                handle.write(text)


def outside_interfaces() -> list[str]:
    """Network interfaces this process can use, other than a loopback that is down."""
    names = [name for _index, name in socket.if_nameindex()]
    if names == ["lo"]:
        return ["lo (up)"] if _interface_up("lo") else []
    return names


def _interface_up(name: str) -> bool:
    """SIOCGIFFLAGS on this process's own namespace (``/sys/class/net`` shows the mounter's)."""
    import fcntl
    import struct

    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        flags = struct.unpack("16sH", fcntl.ioctl(probe, 0x8913, struct.pack("16sH", name.encode(), 0)))[1]
        return bool(flags & 0x1)  # IFF_UP
    return True  # cannot tell: assume the worst


def isolation_summary(replaying: bool) -> str | None:
    """One line for the terminal summary: how this replay run was kept off the network."""
    if not replaying:
        return None
    stated = os.environ.get(ISOLATION_ENV, "")
    if stated == NETNS:
        reachable = outside_interfaces()
        if not reachable:
            return "network isolation: full (an empty network namespace, plus the in-process block)"
        return f"network isolation: PARTIAL (namespace expected, but interfaces {reachable} are up)"
    why = stated or "not run through `contracttape replay` (which uses a network namespace on Linux)"
    return (
        "network isolation: partial (in-process block only: sockets and DNS from Python are refused; "
        f"C code, subprocesses and spawned children are not): {why}"
    )
