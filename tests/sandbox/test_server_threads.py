"""A sandbox's servers stop together: each is asked to exit before any is waited for (uvicorn
notices on its next tick, so asking one at a time costs a tick per server), and when the stop
returns every server's thread has ended and its port is closed."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from contracttape.sandbox.server import ServerThread, stop_all


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _refused(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=1).close()
    except OSError:
        return True
    return False


def test_servers_are_all_asked_to_exit_before_any_is_waited_for() -> None:
    servers = [ServerThread(app, f"s{n}").start() for n in range(3)]
    urls = [s.url for s in servers]
    assert [httpx.get(url).text for url in urls] == ["ok"] * 3
    asked_when_waited: list[list[bool]] = []
    for server in servers:
        join = server._thread.join

        def recording_join(timeout: float | None = None, join: Any = join) -> None:
            asked_when_waited.append([s._server.should_exit for s in servers])
            join(timeout)

        server._thread.join = recording_join  # type: ignore[method-assign]
    stop_all(servers)
    assert asked_when_waited == [[True, True, True]] * 3
    assert not any(s._thread.is_alive() for s in servers)
    assert all(_refused(url) for url in urls)


def test_one_server_stops_on_its_own() -> None:
    server = ServerThread(app, "alone").start()
    url = server.url
    server.stop()
    assert not server._thread.is_alive()
    assert _refused(url)
