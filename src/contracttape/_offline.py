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

``deferred_trust`` (every cassette session, replay and recording): ``ssl.create_default_context``
makes contexts that read their CA certificates when first used for TLS instead of when made.
SDKs make an HTTP client, and so a TLS context, per client object; a replay, or a recording
against the sandbox, opens no TLS connection at all, and reading the trust store each time was
half of replaying the integration suite's CPU. A context that is used is the one the real
function makes (tests/unit/test_deferred_trust.py); a missing CA file still fails at once.
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import os
import socket
import ssl
import sys
import threading
import time
import types
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


class _DeferredTrust(ssl.SSLContext):
    """An ``SSLContext`` that loads its trust store (CA certificates: about 20 ms of CPU each
    time, ~150 of them parsed) when it is first used for TLS, not when it is made. Everything
    else about it is set at once, as ``ssl.create_default_context`` sets it; a missing CA file
    or folder still fails at once, with the error loading it gives."""

    def __new__(cls, protocol: int | None = None, *args: Any, **kwargs: Any) -> _DeferredTrust:
        self = super().__new__(cls, protocol, *args, **kwargs)
        self.__dict__["_contracttape_pending"] = []
        return self

    def _defer(self, name: str, *args: Any) -> bool:
        pending = self.__dict__.get("_contracttape_pending")
        if pending is None:
            return False
        pending.append((name, args))
        return True

    def load_verify_locations(self, cafile: Any = None, capath: Any = None, cadata: Any = None) -> None:
        missing = any(p is not None and not os.path.exists(p) for p in (cafile, capath))
        if missing or not self._defer("load_verify_locations", cafile, capath, cadata):
            super().load_verify_locations(cafile, capath, cadata)

    def load_default_certs(self, purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH) -> None:
        if not self._defer("load_default_certs", purpose):
            super().load_default_certs(purpose)

    def _trusted(self) -> None:
        """Load what was deferred, once, before the first use (threads wait for it)."""
        if self.__dict__.get("_contracttape_pending") is None:
            return
        with _TRUST_LOCK:
            pending = self.__dict__.get("_contracttape_pending")
            if pending is None:
                return
            for name, args in pending:
                getattr(ssl.SSLContext, name)(self, *args)
            del self.__dict__["_contracttape_pending"]

    def wrap_socket(self, *args: Any, **kwargs: Any) -> Any:
        self._trusted()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> Any:
        self._trusted()
        return super().wrap_bio(*args, **kwargs)

    def get_ca_certs(self, binary_form: bool = False) -> Any:
        self._trusted()
        return super().get_ca_certs(binary_form)

    def cert_store_stats(self) -> dict[str, int]:
        self._trusted()
        return super().cert_store_stats()


_TRUST_LOCK = threading.Lock()
# ``ssl.create_default_context`` itself (whatever this Python's version of it does), making a
# ``_DeferredTrust`` where it makes an ``SSLContext``
_create_deferred = types.FunctionType(
    ssl.create_default_context.__code__,
    {**vars(ssl), "SSLContext": _DeferredTrust},
    "create_default_context",
    ssl.create_default_context.__defaults__,
    ssl.create_default_context.__closure__,
)
_create_deferred.__kwdefaults__ = ssl.create_default_context.__kwdefaults__


@contextmanager
def deferred_trust() -> Iterator[None]:
    """``ssl.create_default_context`` makes contexts that load their CA certificates on first
    use. A replay opens no TLS connection, yet the SDKs make an HTTP client (and so a context)
    per client object, and an app may make several per request: loading the trust store each
    time was half of replaying the integration suite's CPU (370 loads, 7 s of 12 s)."""
    with _patched([(ssl, "create_default_context", _create_deferred)]):
        yield


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
