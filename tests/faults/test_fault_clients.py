"""Faults through every client library vcrpy patches, replayed and recorded.

Each library gets its own exceptions (httpx's, httpx2's, requests', aiohttp's), the service's
own error answers, and the guarantees: in replay a fault does not consume the recorded answer
(the retry gets it); when recording, a faulted request is never sent, never spent and never
written.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import httpx
import httpx2
import pytest
import requests

from contracttape import RecordMode, TapeSession
from contracttape.budget.guard import Budget
from contracttape.budget.ledger import FileLedger
from contracttape.budget.prices import PriceBook
from contracttape.cassettes import loads, read_text
from contracttape.faults import Fault, FaultPlan
from contracttape.normalize import Normaliser
from contracttape.services import default_catalogue
from tests.integration.loopback_app import LoopbackServer, LoopbackState

OPENAI = "https://api.openai.com"
BODY = {"model": "text-embedding-3-small", "input": "hello"}
Answer = tuple[int, dict[str, str], bytes]
Client = Callable[[str, float], Answer]


def _httpx(base: str, timeout: float) -> Answer:
    r = httpx.post(f"{base}/v1/embeddings", json=BODY, timeout=timeout)
    return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content


def _httpx_async(base: str, timeout: float) -> Answer:
    async def call() -> Answer:
        async with httpx.AsyncClient(timeout=timeout) as client:
            r = await client.post(f"{base}/v1/embeddings", json=BODY)
            return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content

    return asyncio.run(call())


def _httpx2(base: str, timeout: float) -> Answer:
    with httpx2.Client(timeout=timeout) as client:
        r = client.post(f"{base}/v1/embeddings", json=BODY)
        return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content


def _requests(base: str, timeout: float) -> Answer:
    r = requests.post(f"{base}/v1/embeddings", json=BODY, timeout=timeout)
    return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content


def _aiohttp(base: str, timeout: float) -> Answer:
    async def call() -> Answer:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as client,
            client.post(f"{base}/v1/embeddings", json=BODY) as r,
        ):
            return r.status, {k.lower(): v for k, v in r.headers.items()}, await r.read()

    return asyncio.run(call())


CLIENTS: dict[str, Client] = {
    "httpx": _httpx,
    "httpx-async": _httpx_async,
    "httpx2": _httpx2,
    "requests": _requests,
    "aiohttp": _aiohttp,
}
# what each library raises on a real failure of each kind
RAISES: dict[str, dict[str, type[BaseException]]] = {
    "httpx": {
        "read_timeout": httpx.ReadTimeout,
        "connect_timeout": httpx.ConnectTimeout,
        "reset": httpx.ReadError,
    },
    "httpx-async": {
        "read_timeout": httpx.ReadTimeout,
        "connect_timeout": httpx.ConnectTimeout,
        "reset": httpx.ReadError,
    },
    "httpx2": {
        "read_timeout": httpx2.ReadTimeout,
        "connect_timeout": httpx2.ConnectTimeout,
        "reset": httpx2.ReadError,
    },
    "requests": {
        "read_timeout": requests.exceptions.ReadTimeout,
        "connect_timeout": requests.exceptions.ConnectTimeout,
        "reset": requests.exceptions.ConnectionError,
    },
    "aiohttp": {
        "read_timeout": aiohttp.ServerTimeoutError,
        "connect_timeout": aiohttp.ConnectionTimeoutError,
        "reset": aiohttp.ClientOSError,
    },
}
TRANSPORT = ["read_timeout", "connect_timeout", "reset"]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, LoopbackState]]:
    """The loopback app, recorded as if it were api.openai.com (OpenAI's profile and prices apply)."""
    state = LoopbackState()
    with LoopbackServer(state) as running:
        yield running.url, state


@pytest.fixture(scope="module")
def cassette(tmp_path_factory: pytest.TempPathFactory, server: tuple[str, LoopbackState]) -> Path:
    path = tmp_path_factory.mktemp("faults") / "embeddings.yaml"
    with TapeSession(path, mode=RecordMode.REWRITE, normaliser=Normaliser(origins={server[0]: OPENAI})):
        assert _httpx(server[0], 10)[0] == 200
    return path


def plan(*faults: Fault) -> FaultPlan:
    return FaultPlan(default_catalogue(), test_id="t::faults", faults=list(faults))


def on_embeddings(kind: int | str, **more: object) -> Fault:
    return Fault(kind, service="openai", endpoint="POST /v1/embeddings", **more)  # type: ignore[arg-type]


def replay(path: Path, faults: FaultPlan) -> TapeSession:
    return TapeSession(path, mode=RecordMode.NONE, test_id="t::faults", faults=faults)


@pytest.mark.parametrize("kind", TRANSPORT)
@pytest.mark.parametrize("client", list(CLIENTS))
def test_replay_raises_the_librarys_own_exception_and_keeps_the_answer(
    cassette: Path, client: str, kind: str
) -> None:
    faults = plan(on_embeddings(kind, first=1))
    with replay(cassette, faults) as tape:
        with pytest.raises(RAISES[client][kind]):
            CLIENTS[client](OPENAI, 10)
        status, _, body = CLIENTS[client](OPENAI, 10)  # the retry gets the recorded answer
    tape.check()  # nothing unused, nothing missed
    assert status == 200
    assert len(json.loads(body)["data"][0]["embedding"]) == 64
    (served,) = faults.served
    assert served.endpoint == "openai POST /v1/embeddings [encoding_format=float]"
    assert served.outcome.startswith(kind.replace("_", " "))


@pytest.mark.parametrize("client", list(CLIENTS))
def test_replay_serves_the_services_own_429(cassette: Path, client: str) -> None:
    with replay(cassette, plan(on_embeddings(429, first=1, retry_after=3))) as tape:
        status, headers, body = CLIENTS[client](OPENAI, 10)
        again = CLIENTS[client](OPENAI, 10)[0]
    tape.check()
    assert (status, again) == (429, 200)
    assert headers["retry-after"] == "3"
    assert headers["retry-after-ms"] == "3000"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == "3s"
    error = json.loads(body)["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert error["type"] == "requests"
    assert "text-embedding-3-small" in error["message"]


KINDS_WHEN_RECORDING: list[int | str] = [*TRANSPORT, 429, 500, 502, 503, 504, "truncated", "malformed"]


@pytest.mark.parametrize("kind", KINDS_WHEN_RECORDING, ids=str)
@pytest.mark.parametrize("client", list(CLIENTS))
def test_recording_a_fault_sends_nothing_spends_nothing_writes_nothing(
    tmp_path: Path, server: tuple[str, LoopbackState], client: str, kind: int | str
) -> None:
    url, state = server
    spend = Budget(
        ledger=FileLedger(tmp_path / "ledger.json"),
        run_id="run",
        prices=PriceBook.load(),
        catalogue=default_catalogue(),
        cap=1.0,
    )
    faults = plan(on_embeddings(kind, first=1))
    before = state.requests["/v1/embeddings"]
    path = tmp_path / "recorded.yaml"
    with TapeSession(
        path,
        mode=RecordMode.REWRITE,
        normaliser=Normaliser(origins={url: OPENAI}),
        budget=spend,
        faults=faults,
    ):
        if isinstance(kind, str) and kind in TRANSPORT:
            with pytest.raises(RAISES[client][kind]):
                CLIENTS[client](url, 10)
        else:
            status, _, body = CLIENTS[client](url, 10)
            assert status == (kind if isinstance(kind, int) else 200)
            if not isinstance(kind, int):
                with pytest.raises(ValueError, match=r"Expecting|Unterminated"):
                    json.loads(body)
        assert state.requests["/v1/embeddings"] == before, "the faulted request reached the server"
        assert CLIENTS[client](url, 10)[0] == 200  # the next one is sent and recorded
    assert state.requests["/v1/embeddings"] == before + 1
    (interaction,) = loads(read_text(path), path).interactions
    assert interaction.response.status == 200
    (entry,) = spend.ledger.entries()  # only the request that was sent was priced
    assert entry.state == "settled"


@pytest.mark.parametrize("client", list(CLIENTS))
def test_a_slow_answer_waits_in_virtual_time_or_times_the_client_out(cassette: Path, client: str) -> None:
    # each fault counts every call it matches: the second fires on the second call
    faults = plan(on_embeddings("slow", delay=30, first=1), on_embeddings("slow", delay=2, every=2))
    with replay(cassette, faults) as tape:
        with pytest.raises(RAISES[client]["read_timeout"]):
            CLIENTS[client](OPENAI, 5)  # the client gives up after 5 s of the 30
        assert tape.incidents.slept_seconds == pytest.approx(5)
        status = CLIENTS[client](OPENAI, 5)[0]  # 2 s late: within the client's 5 s
        assert tape.incidents.slept_seconds == pytest.approx(7)
    tape.check()
    assert status == 200
    assert [d.outcome.split(":")[0] for d in faults.served] == ["read timeout after 5s", "answered 2s late"]
    assert faults.waited == pytest.approx(7)


def test_first_and_every_count_matching_calls_only(cassette: Path) -> None:
    faults = plan(Fault(503, url=r"/v1/embeddings$", every=2), Fault(500, url=r"/nowhere"))
    statuses = []
    with TapeSession(cassette, mode=RecordMode.NONE, faults=faults, allow_playback_repeats=True):
        for _ in range(6):
            statuses.append(_httpx(OPENAI, 10)[0])
    assert statuses == [200, 503, 200, 503, 200, 503]
    assert [d.call for d in faults.served] == [2, 4, 6]


@pytest.mark.parametrize("client", list(CLIENTS))
def test_recording_a_slow_answer_waits_really_and_records_it(
    tmp_path: Path, server: tuple[str, LoopbackState], client: str
) -> None:
    """The one kind that lets a request through: its answer is real, so it is recorded; unless
    the client's timeout is shorter, and then nothing is sent."""
    url, state = server
    faults = plan(on_embeddings("slow", delay=5, first=1), on_embeddings("slow", delay=0.2, every=2))
    before = state.requests["/v1/embeddings"]
    path = tmp_path / "recorded.yaml"
    with TapeSession(
        path, mode=RecordMode.REWRITE, normaliser=Normaliser(origins={url: OPENAI}), faults=faults
    ):
        with pytest.raises(RAISES[client]["read_timeout"]):
            CLIENTS[client](url, 0.3)  # the client gives up (0.3 s of real time) before the answer
        assert state.requests["/v1/embeddings"] == before
        assert CLIENTS[client](url, 10)[0] == 200  # 0.2 s late, within the client's 10 s
    assert state.requests["/v1/embeddings"] == before + 1
    assert len(loads(read_text(path), path).interactions) == 1
    assert [d.outcome.split(":")[0] for d in faults.served] == [
        "read timeout after 0.3s",
        "answered 0.2s late",
    ]
