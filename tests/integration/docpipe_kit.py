"""The docpipe suite's fixtures: the app served in-process at ``http://docpipe.test`` (a
passthrough host: never recorded, so replay runs the real pipeline against replayed services),
signed-in users, and the pipeline's settings for sandbox, replay or live alike.

In record mode a test that wants LlamaParse webhooks gets the same app on a loopback socket too
(``webhook_receiver``), registered as the logical origin ``http://docpipe.test``, so the job's
webhook URL is the same in the cassette and in replay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn

from contracttape import make_pdf
from docpipe.settings import Settings

if TYPE_CHECKING:
    from docpipe.api import Pipeline

APP_ORIGIN = "http://docpipe.test"
ALERTS_ORIGIN = "http://alerts.test"
PASSWORD = "a recorded password 1"


def pdf(*pages: str) -> bytes:
    return make_pdf(list(pages))


@dataclass
class User:
    email: str
    id: str
    token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def supabase(env: dict[str, str], key: str = "SUPABASE_ANON_KEY", user: User | None = None) -> Iterator[Any]:
    """supabase-py with ``key``; signed in as ``user`` (password login) when given, so that every
    sub-client sends their JWT. Its HTTP clients are closed afterwards."""
    from supabase import create_client

    client = create_client(env["SUPABASE_URL"], env[key])
    try:
        if user is not None:
            client.auth.sign_in_with_password({"email": user.email, "password": PASSWORD})
        yield client
    finally:
        client.auth.close()
        for sub, http in (("_postgrest", "session"), ("_storage", "session"), ("_functions", "_client")):
            session = getattr(getattr(client, sub, None), http, None)
            if session is not None:
                session.close()


# users signed up by the running test, removed when it ends (see remove_users)
_CREATED: list[tuple[dict[str, str], User]] = []


def sign_up(env: dict[str, str], email: str) -> User:
    with supabase(env) as client:
        answer = client.auth.sign_up({"email": email, "password": PASSWORD})
    assert answer.user is not None
    assert answer.session is not None
    user = User(email, answer.user.id, answer.session.access_token, answer.session.refresh_token)
    _CREATED.append((env, user))
    return user


def remove_users() -> None:
    """Every user the test signed up, with their files, rows (by foreign key) and sessions: a
    real project is left as it was, so re-recording live signs up the same emails again. Done
    in every mode, so the cleanup is part of each cassette too."""
    created, _CREATED[:] = list(_CREATED), []
    for env, user in created:
        with supabase(env, "SUPABASE_SERVICE_ROLE_KEY") as admin:
            files = admin.storage.from_("documents").list(
                user.id,
                {"sortBy": {"column": "created_at", "order": "asc"}},  # the upload order
            )
            if files:
                admin.storage.from_("documents").remove([f"{user.id}/{f['name']}" for f in files])
            admin.auth.admin.delete_user(user.id)


def settings_for(env: dict[str, str], **overrides: Any) -> Settings:
    base = Settings.from_env({**env, "DOCPIPE_TARGET": "live", "DOCPIPE_POLL_SECONDS": "0.05"})
    return dataclasses.replace(base, **overrides)


@dataclass
class App:
    """docpipe for one test: its pipeline, and an httpx client calling it in-process."""

    pipeline: Pipeline
    http: httpx.AsyncClient
    alerts: list[dict[str, Any]]

    async def upload(self, user: User, filename: str, data: bytes) -> dict[str, Any]:
        """POST /documents, then PUT the bytes to the signed upload URL, as a browser would."""
        created = await self.http.post("/documents", json={"filename": filename}, headers=user.auth)
        assert created.status_code == 201, created.text
        body = created.json()
        async with httpx.AsyncClient() as raw:
            put = await raw.put(
                body["upload"]["url"], content=data, headers={"content-type": "application/pdf"}
            )
        assert put.status_code == 200, put.text
        return dict(body["document"])

    async def ingest(self, user: User, document_id: str) -> httpx.Response:
        return await self.http.post(f"/documents/{document_id}/ingest", headers=user.auth)

    async def document(self, user: User, document_id: str) -> dict[str, Any]:
        answer = await self.http.get(f"/documents/{document_id}", headers=user.auth)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def _alerts_app(received: list[dict[str, Any]]) -> Callable[..., Any]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hook(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[App]:
    alerts: list[dict[str, Any]] = []
    alerts_http = httpx.AsyncClient(
        transport=httpx.ASGITransport(_alerts_app(alerts)), base_url=ALERTS_ORIGIN
    )
    from docpipe.api import Pipeline, create_app  # the SDKs: only for a docpipe test (0.7 s to import)

    pipeline = Pipeline(settings, alerts_http=alerts_http)
    app = create_app(pipeline)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=APP_ORIGIN, timeout=60) as http:
        try:
            yield App(pipeline, http, alerts)
        finally:
            await pipeline.aclose()
            await alerts_http.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """The docpipe app on a loopback socket, for LlamaParse's webhook deliveries (record mode)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pipeline: Pipeline | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def serve(self, pipeline: Pipeline) -> None:
        from docpipe.api import create_app

        config = uvicorn.Config(
            create_app(pipeline), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(5)


@pytest.fixture
def docpipe_env(contracttape_env: dict[str, str]) -> dict[str, str]:
    return dict(contracttape_env)


@pytest.fixture
def webhook_receiver(
    pytestconfig: pytest.Config, contracttape_origins: dict[str, str], contracttape_passthrough: set[str]
) -> Iterator[Receiver | None]:
    """Record mode: a loopback receiver known as ``http://docpipe.test``; replay: None."""
    if (pytestconfig.getoption("--record-mode") or "none") == "none":
        yield None
        return
    receiver = Receiver()
    contracttape_origins[receiver.url] = APP_ORIGIN
    contracttape_passthrough.add(f"127.0.0.1:{receiver.port}")
    try:
        yield receiver
    finally:
        receiver.stop()
        contracttape_passthrough.discard(f"127.0.0.1:{receiver.port}")
        contracttape_origins.pop(receiver.url, None)


async def gather_timed(calls: list[Any]) -> list[tuple[Any, float]]:
    async def timed(call: Any) -> tuple[Any, float]:
        started = time.perf_counter()
        result = await call
        return result, time.perf_counter() - started

    return list(await asyncio.gather(*(timed(c) for c in calls)))
