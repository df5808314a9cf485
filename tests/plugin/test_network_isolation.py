"""Thirty-one ways out of a replayed test, tried for real against servers listening on loopback.

Run through ``contracttape replay`` (an empty network namespace on Linux, plus the in-process
block), every one fails and the servers see nothing. Run with the in-process block alone, the
Python-level ones still fail; the ones only a namespace can stop (C code calling libc, a
subprocess, a spawned interpreter) get through, which is exactly what the summary's "partial"
says.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from tests import warm_python

ESCAPES = r"""
import asyncio, ctypes, http.client, multiprocessing, os, socket, ssl, struct, subprocess, sys
import threading, urllib.request
import _socket
import httpx, pytest, requests

TCP = int(os.environ["ESCAPE_TCP_PORT"])
UDP = int(os.environ["ESCAPE_UDP_PORT"])
ISOLATED = os.environ.get("CONTRACTTAPE_ISOLATION") == "network namespace"
CHILD_CONNECT = (
    "import socket,sys; s=socket.create_connection(('127.0.0.1', %d), timeout=2); s.sendall(b'x'); sys.exit(0)" % TCP
)


def tcp():
    return ("127.0.0.1", TCP)


def _ok(fn):
    try:
        fn()
    except Exception:
        return False
    return True


# -- what the in-process block must stop ------------------------------------------------------
def create_connection(): socket.create_connection(tcp(), timeout=2).sendall(b"x")
def socket_connect(): s = socket.socket(); s.settimeout(2); s.connect(tcp()); s.sendall(b"x")
def socket_connect_ex():
    s = socket.socket(); s.settimeout(2)
    assert s.connect_ex(tcp()) == 0
    s.sendall(b"x")
def ipv4_mapped_ipv6():
    s = socket.socket(socket.AF_INET6); s.settimeout(2); s.connect(("::ffff:127.0.0.1", TCP)); s.sendall(b"x")
def asyncio_open_connection():
    async def go():
        _r, w = await asyncio.open_connection(*tcp()); w.write(b"x"); await w.drain()
    asyncio.run(go())
def http_client(): c = http.client.HTTPConnection(*tcp(), timeout=2); c.request("GET", "/")
def urllib_urlopen(): urllib.request.urlopen(f"http://127.0.0.1:{TCP}/", timeout=2)
def ssl_wrapped():
    raw = socket.socket(); raw.settimeout(2)
    ssl.create_default_context().wrap_socket(raw, server_hostname="x", do_handshake_on_connect=False).connect(tcp())
def udp_sendto(): socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", UDP))
def udp_sendmsg(): socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendmsg([b"x"], [], 0, ("127.0.0.1", UDP))
def udp_connect_send(): s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("127.0.0.1", UDP)); s.send(b"x")
def raw_socket_connect(): s = _socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(2); s.connect(tcp()); s.send(b"x")
def raw_socket_connect_ex():
    s = _socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(2)
    assert s.connect_ex(tcp()) == 0
    s.send(b"x")
def raw_socket_sendto(): _socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", UDP))
def from_a_thread():
    failed = []
    def run():
        try:
            create_connection()
        except Exception as exc:
            failed.append(exc)
    t = threading.Thread(target=run); t.start(); t.join(5)
    if failed:
        raise failed[0]
def asyncio_datagram():
    async def go():
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", UDP))
        transport.sendto(b"x")
    asyncio.run(go())
def requests_get(): requests.get(f"http://127.0.0.1:{TCP}/", timeout=2)
def httpx_get(): httpx.get(f"http://127.0.0.1:{TCP}/", timeout=2)
def forked_child():
    pid = os.fork()
    if pid == 0:
        os._exit(0 if _ok(create_connection) else 1)
    assert os.waitpid(pid, 0)[1] == 0
def getaddrinfo(): socket.getaddrinfo("example.com", 443)
def gethostbyname(): socket.gethostbyname("example.com")
def gethostbyname_ex(): socket.gethostbyname_ex("example.com")
def gethostbyaddr(): socket.gethostbyaddr("127.0.0.1")
def getnameinfo(): socket.getnameinfo(("127.0.0.1", 80), 0)
def raw_getaddrinfo(): _socket.getaddrinfo("example.com", 443)
def raw_gethostbyname(): _socket.gethostbyname("example.com")

# -- what only a network namespace can stop ---------------------------------------------------
def libc_connect():
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    address = struct.pack("!HH4s8x", socket.AF_INET, TCP, socket.inet_aton("127.0.0.1"))
    address = struct.pack("=H", socket.AF_INET) + address[2:]
    assert libc.connect(fd, address, len(address)) == 0
    libc.write(fd, b"x", 1)
def subprocess_python(): subprocess.run([sys.executable, "-c", CHILD_CONNECT], check=True, timeout=20)
def os_system(): assert os.system(f'{sys.executable} -c "{CHILD_CONNECT}"') == 0
def posix_spawn():
    pid = os.posix_spawn(sys.executable, [sys.executable, "-c", CHILD_CONNECT], os.environ)
    assert os.waitpid(pid, 0)[1] == 0
def spawned_child():
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=subprocess_python); p.start(); p.join(30)
    assert p.exitcode == 0


PYTHON_LEVEL = [
    create_connection, socket_connect, socket_connect_ex, ipv4_mapped_ipv6, asyncio_open_connection,
    http_client, urllib_urlopen, ssl_wrapped, udp_sendto, udp_sendmsg, udp_connect_send,
    raw_socket_connect, raw_socket_connect_ex, raw_socket_sendto, from_a_thread, asyncio_datagram,
    requests_get, httpx_get, forked_child, getaddrinfo, gethostbyname, gethostbyname_ex,
    gethostbyaddr, getnameinfo, raw_getaddrinfo, raw_gethostbyname,
]
NAMESPACE_ONLY = [libc_connect, subprocess_python, os_system, posix_spawn, spawned_child]


@pytest.mark.parametrize("attempt", PYTHON_LEVEL, ids=[f.__name__ for f in PYTHON_LEVEL])
def test_python_level_escape_is_refused(attempt):
    assert not _ok(attempt), f"{attempt.__name__} reached the network"


@pytest.mark.parametrize("attempt", NAMESPACE_ONLY, ids=[f.__name__ for f in NAMESPACE_ONLY])
def test_escape_only_a_namespace_stops(attempt):
    escaped = _ok(attempt)
    if ISOLATED:
        assert not escaped, f"{attempt.__name__} reached the network inside the namespace"
    else:
        print(f"ESCAPED {attempt.__name__}: {escaped}")
"""


class Listener:
    """A TCP and a UDP server on the host's loopback that count what reaches them."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.connections = 0
        self.datagrams = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._accept, daemon=True),
            threading.Thread(target=self._receive, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _accept(self) -> None:
        self.tcp.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def _receive(self) -> None:
        self.udp.settimeout(0.2)
        while not self._stop.is_set():
            try:
                self.udp.recvfrom(64)
            except OSError:
                continue
            self.datagrams += 1

    def env(self) -> dict[str, str]:
        return {
            "ESCAPE_TCP_PORT": str(self.tcp.getsockname()[1]),
            "ESCAPE_UDP_PORT": str(self.udp.getsockname()[1]),
        }

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        self.tcp.close()
        self.udp.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    made = Listener()
    yield made
    made.close()


def run(
    pytester: pytest.Pytester, command: list[str], listener: Listener
) -> subprocess.CompletedProcess[str]:
    pytester.makepyfile(test_escapes=ESCAPES)
    env = {**os.environ, **listener.env()}
    env.pop("CONTRACTTAPE_ISOLATION", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return warm_python.run(
        command, cwd=pytester.path, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="network namespaces are Linux's")
def test_contracttape_replay_closes_every_way_out(pytester: pytest.Pytester, listener: Listener) -> None:
    done = run(
        pytester,
        [sys.executable, "-m", "contracttape", "replay", "--", "test_escapes.py", "-p", "no:cacheprovider"],
        listener,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "31 passed" in output
    assert "network isolation: full (an empty network namespace" in output
    assert (listener.connections, listener.datagrams) == (0, 0)


@pytest.mark.slow
def test_without_a_namespace_the_summary_says_partial(pytester: pytest.Pytester, listener: Listener) -> None:
    done = run(
        pytester,
        [
            sys.executable,
            "-m",
            "pytest",
            "test_escapes.py",
            "--record-mode=none",
            "--block-network",
            "-s",
            "-p",
            "no:cacheprovider",
        ],
        listener,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "network isolation: partial (in-process block only" in output
    # the Python-level attempts were refused; the five only a namespace stops got through
    escaped = sorted(re.findall(r"ESCAPED (\w+): True", output))
    assert escaped == ["libc_connect", "os_system", "posix_spawn", "spawned_child", "subprocess_python"]
    assert listener.datagrams == 0
    assert listener.connections == 5
