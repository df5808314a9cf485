"""Replay's deferred trust store (``_offline.deferred_trust``): inside it,
``ssl.create_default_context`` gives contexts that load their CA certificates on first use.

A deferred context, once used, must be the context the real function makes (settings and trust
store alike, for every purpose and every way of naming CAs); a real TLS handshake through one
must trust exactly the CAs it was given; a missing CA file must fail at once, as it does
outside; threads using a fresh context at once must all see it loaded; and an SDK client made
in a session (replay or recording) must not load anything until it makes a TLS connection."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import trustme

from contracttape import _offline
from contracttape.config import RecordMode
from contracttape.session import TapeSession


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def settings(context: ssl.SSLContext) -> dict[str, Any]:
    return {
        "class": isinstance(context, ssl.SSLContext),
        "protocol": context.protocol,
        "options": context.options,
        "verify_mode": context.verify_mode,
        "verify_flags": context.verify_flags,
        "check_hostname": context.check_hostname,
        "minimum_version": context.minimum_version,
        "maximum_version": context.maximum_version,
        "post_handshake_auth": context.post_handshake_auth,
        "ca_certs": sorted(map(repr, context.get_ca_certs())),
        "store": context.cert_store_stats(),
    }


def _ways(ca: trustme.CA, ca_file: str) -> list[tuple[str, dict[str, Any]]]:
    folder = str(Path(ca_file).parent)
    return [
        ("defaults", {}),
        ("cafile", {"cafile": ca_file}),
        ("capath", {"capath": folder}),
        ("cadata as text", {"cadata": ca.cert_pem.bytes().decode()}),
        ("client auth", {"purpose": ssl.Purpose.CLIENT_AUTH}),
        ("client auth, cafile", {"purpose": ssl.Purpose.CLIENT_AUTH, "cafile": ca_file}),
    ]


def test_a_deferred_context_once_used_is_the_context_the_real_function_makes(
    ca: trustme.CA, ca_file: str
) -> None:
    original = ssl.create_default_context
    for name, arguments in _ways(ca, ca_file):
        expected = settings(original(**arguments))
        with _offline.deferred_trust():
            deferred = ssl.create_default_context(**arguments)
        assert ssl.create_default_context is original, "the guard puts the real function back"
        assert type(deferred) is not ssl.SSLContext
        if (
            arguments.get("cafile")
            or arguments.get("capath")
            or arguments.get("cadata")
            or name == "defaults"
        ):
            assert deferred.__dict__.get("_contracttape_pending"), f"{name}: nothing was deferred"
        assert settings(deferred) == expected, name  # get_ca_certs loads what was deferred
        assert "_contracttape_pending" not in deferred.__dict__


def test_a_missing_ca_file_fails_at_once_as_outside(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.pem")
    with pytest.raises(FileNotFoundError) as outside:
        ssl.create_default_context(cafile=missing)
    with _offline.deferred_trust(), pytest.raises(FileNotFoundError) as inside:
        ssl.create_default_context(cafile=missing)
    assert str(inside.value) == str(outside.value)


class _TLSServer:
    """A TLS echo-less server on loopback: accepts, handshakes, sends one line, closes."""

    def __init__(self, ca: trustme.CA) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(self.context)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(raw, server_side=True) as tls:
                    tls.sendall(b"hello\n")
            except (ssl.SSLError, OSError):
                pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def server(ca: trustme.CA) -> Iterator[_TLSServer]:
    running = _TLSServer(ca)
    yield running
    running.close()


def _greeting(context: ssl.SSLContext, port: int) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return tls.recv(16)


def test_a_real_handshake_trusts_exactly_the_cas_it_was_given(server: _TLSServer, ca_file: str) -> None:
    with _offline.deferred_trust():
        trusting = ssl.create_default_context(cafile=ca_file)
        stranger = ssl.create_default_context(cadata=trustme.CA().cert_pem.bytes().decode())
        system = ssl.create_default_context()
    assert _greeting(trusting, server.port) == b"hello\n"
    for untrusting in (stranger, system):
        with pytest.raises(ssl.SSLCertVerificationError):
            _greeting(untrusting, server.port)


def test_an_asyncio_handshake_through_a_memory_bio_loads_the_cas_first(
    server: _TLSServer, ca_file: str
) -> None:
    async def greeting(context: ssl.SSLContext) -> bytes:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=context, server_hostname="localhost"
        )
        try:
            return await reader.readline()
        finally:
            writer.close()

    with _offline.deferred_trust():
        trusting = ssl.create_default_context(cafile=ca_file)
        system = ssl.create_default_context()
    assert asyncio.run(greeting(trusting)) == b"hello\n"
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(greeting(system))


def test_threads_using_a_fresh_context_at_once_all_see_its_cas(server: _TLSServer, ca_file: str) -> None:
    for _ in range(3):
        with _offline.deferred_trust():
            context = ssl.create_default_context(cafile=ca_file)
        with ThreadPoolExecutor(8) as pool:
            greetings = list(pool.map(lambda _, c=context: _greeting(c, server.port), range(8)))
        assert greetings == [b"hello\n"] * 8


def test_an_sdk_client_made_in_a_session_loads_no_trust_store(tmp_path: Path) -> None:
    import httpx

    def context_of(client: httpx.Client) -> ssl.SSLContext:
        pool = client._transport._pool  # type: ignore[attr-defined]
        return pool._ssl_context  # type: ignore[no-any-return]

    session = TapeSession(tmp_path / "c.yaml", mode=RecordMode.NONE, test_id="t::replay")
    with session, httpx.Client() as client:
        assert context_of(client).__dict__.get("_contracttape_pending")
    recording = TapeSession(tmp_path / "r.yaml", mode=RecordMode.ALL, test_id="t::record")
    with recording, httpx.Client() as client:  # against the sandbox (plain HTTP) it is never read
        assert context_of(client).__dict__.get("_contracttape_pending")
    with httpx.Client() as client:  # outside a session: the real function
        assert type(context_of(client)) is ssl.SSLContext
