"""The upload API a client calls, with the caller's Supabase JWT as ``Authorization: Bearer``.

    POST /documents                {"filename": "a.pdf"} -> 201 {document, upload: {url, token, path}}
    GET  /documents/{id}           -> the document row (the caller's only)
    POST /documents/{id}/ingest    -> 200 {document, parsed_now, embedded, spent_usd} (claimed by
                                      the ``ingest`` edge function, then parsed, embedded, stored)
    GET  /search?q=...&k=5         -> {"matches": [...]} over the caller's chunks
    POST /webhooks/llamaparse      LlamaParse's signed job notifications (refused unless genuine)

Errors are ``{"error": {"step", "message"}}`` with 400/401/402/404/502.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from docpipe.costs import Costs
from docpipe.errors import PipelineError
from docpipe.ingest import Embedder, Ingestion
from docpipe.parse import WEBHOOK_PATH, JobEvents, Parser, verify_delivery
from docpipe.resilience import RateLimiter, RetryPolicy
from docpipe.settings import Settings
from docpipe.store import UserStore

log = logging.getLogger("docpipe.api")


@dataclass
class Pipeline:
    """Everything one docpipe process shares: settings, clients, the rate limiter, webhook events."""

    settings: Settings
    events: JobEvents = field(default_factory=JobEvents)
    policy: RetryPolicy = field(init=False)
    limiter: RateLimiter = field(init=False)
    parser: Parser = field(init=False)
    embedder: Embedder = field(init=False)
    costs: Costs = field(init=False)
    alerts_http: httpx.AsyncClient | None = None
    refused_deliveries: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.settings
        self.policy = RetryPolicy(s.attempts, s.backoff_seconds, s.max_backoff_seconds)
        self.limiter = RateLimiter(s.requests_per_second, burst=max(1, int(s.requests_per_second)))
        self.parser = Parser(s, self.limiter, self.events)
        self.embedder = Embedder(s, self.limiter)
        self.costs = Costs(s, self.alerts_http)
        self.ingestion = Ingestion(s, self.parser, self.embedder, self.costs)

    def store(self, token: str) -> UserStore:
        return UserStore(self.settings, token, self.policy)

    async def aclose(self) -> None:
        await self.parser.aclose()
        await self.embedder.aclose()


def create_app(pipeline: Pipeline) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await pipeline.aclose()

    async def webhook(request: Request) -> Response:
        return await llamaparse_webhook(pipeline, request)

    app = Starlette(
        routes=[
            Route("/documents", _user(pipeline, create_document), methods=["POST"]),
            Route("/documents/{id}", _user(pipeline, get_document), methods=["GET"]),
            Route("/documents/{id}/ingest", _user(pipeline, ingest), methods=["POST"]),
            Route("/search", _user(pipeline, search), methods=["GET"]),
            Route(WEBHOOK_PATH, webhook, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.pipeline = pipeline
    return app


Handler = Callable[[Pipeline, UserStore, str, Request], Awaitable[Response]]


def _user(pipeline: Pipeline, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        user_id = _subject(token)
        if not token or user_id is None:
            return _error(401, "auth", "send the user's Supabase access token as Authorization: Bearer")
        store = pipeline.store(token)
        try:
            return await handler(pipeline, store, user_id, request)
        except PipelineError as exc:
            return _error(exc.status, exc.step, str(exc))
        finally:
            await store.aclose()

    return endpoint


def _subject(token: str) -> str | None:
    """The JWT's ``sub``, unverified: Supabase verifies the token on every call made with it."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return str(sub) if sub else None


def _error(status: int, step: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"step": step, "message": message}}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise PipelineError("request", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise PipelineError("request", "the body must be a JSON object")
    return body


async def create_document(pipeline: Pipeline, store: UserStore, user_id: str, request: Request) -> Response:
    try:
        body = await _json(request)
    except PipelineError as exc:
        return _error(400, exc.step, str(exc))
    filename = body.get("filename")
    if not isinstance(filename, str) or not filename.strip() or "/" in filename:
        return _error(400, "request", "filename must be a file name such as report.pdf")
    document = await store.create_document(filename.strip(), user_id)
    upload = await store.signed_upload(str(document["storage_path"]))
    return JSONResponse({"document": document, "upload": upload}, status_code=201)


async def get_document(pipeline: Pipeline, store: UserStore, user_id: str, request: Request) -> Response:
    return JSONResponse(await store.document(request.path_params["id"]))


async def ingest(pipeline: Pipeline, store: UserStore, user_id: str, request: Request) -> Response:
    outcome = await pipeline.ingestion.run(store, request.path_params["id"], user_id)
    return JSONResponse(
        {
            "document": outcome.document,
            "parsed_now": outcome.parsed_now,
            "embedded": outcome.embedded,
            "embed_calls": outcome.embed_calls,
            "spent_usd": outcome.spent_usd,
            "steps": outcome.steps,
        }
    )


async def search(pipeline: Pipeline, store: UserStore, user_id: str, request: Request) -> Response:
    query = request.query_params.get("q", "").strip()
    if not query:
        return _error(400, "search", "give the query as ?q=...")
    try:
        k = int(request.query_params.get("k", "5"))
    except ValueError:
        return _error(400, "search", "k must be a whole number")
    vectors, _ = await pipeline.embedder.embed([query])
    return JSONResponse({"matches": await store.match(vectors[0], k)})


async def llamaparse_webhook(pipeline: Pipeline, request: Request) -> Response:
    body = await request.body()
    refused = verify_delivery(pipeline.settings.webhook_secret, dict(request.headers), body)
    if refused is not None:
        pipeline.refused_deliveries.append(refused)
        log.warning("LlamaParse webhook refused: %s", refused)
        return JSONResponse({"error": refused}, status_code=401)
    try:
        payload = json.loads(body)
    except ValueError:
        return JSONResponse({"error": "the body must be JSON"}, status_code=400)
    pipeline.events.arrived(payload if isinstance(payload, dict) else {})
    return JSONResponse({"received": True})
