from __future__ import annotations

import asyncio
import socket
import threading
import time

import anyio
import pytest

from contracttape._offline import Incidents, block_network, compress_time
from contracttape.errors import NetworkBlocked


def test_block_network_refuses_loopback_and_dns_then_restores(loopback_url: str) -> None:
    port = int(loopback_url.rsplit(":", 1)[1])
    incidents = Incidents()
    with block_network(incidents, "t::x"):
        with socket.socket() as sock, pytest.raises(NetworkBlocked, match=r"t::x: network access blocked"):
            sock.connect(("127.0.0.1", port))
        with pytest.raises(NetworkBlocked, match=r"DNS lookup of 'example\.com'"):
            socket.getaddrinfo("example.com", 443)
        a, b = socket.socketpair()  # event loops and xdist use these: still allowed
        a.close()
        b.close()
    assert len(incidents.blocked) == 2
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_network_blocked_is_an_oserror() -> None:
    assert issubclass(NetworkBlocked, OSError)


def test_sleeps_are_skipped_but_counted() -> None:
    incidents = Incidents()

    async def poll() -> None:
        await asyncio.sleep(30)
        await anyio.sleep(20)

    start = time.monotonic()
    with compress_time(incidents):
        time.sleep(50)
        asyncio.run(poll())
    assert time.monotonic() - start < 5  # a regression would wait 100 s, not a few ms more
    assert incidents.slept_seconds == 100
    assert time.sleep is not None
    assert asyncio.sleep.__name__ == "sleep"


def test_other_threads_keep_their_clock() -> None:
    incidents = Incidents()
    took: list[float] = []

    def worker() -> None:
        start = time.monotonic()
        time.sleep(0.2)
        took.append(time.monotonic() - start)

    with compress_time(incidents):
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert took[0] >= 0.2
    assert incidents.slept_seconds == 0
