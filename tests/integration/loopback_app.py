"""A small loopback HTTP service for the framework's own integration suite.

It is not a service stand-in (the sandbox is); it produces exactly the traffic shapes the
record/replay engine must get right: an OpenAI-shaped chat endpoint that fails once with a 500
(the SDK retries), gzip-compressed embeddings, multipart uploads, a job that needs polling, and
an auth endpoint that plants real-looking secrets in a response body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from contracttape.sandbox.server import ServerThread

SIGNING_KEY = b"loopback-signing-key-not-a-real-secret"
# A realistic provider key the server leaks in a body; redaction must catch it.
PLANTED_API_KEY = "sk-proj-" + "Z9" * 20


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(SIGNING_KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


class LoopbackState:
    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.polls: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()  # every request that reached the server, by path


def build_app(state: LoopbackState | None = None) -> Starlette:
    state = state or LoopbackState()

    async def echo(request: Request) -> Response:
        return JSONResponse(
            {
                "method": request.method,
                "query": sorted(request.query_params.multi_items()),
                "body": (await request.body()).decode("utf-8", "replace"),
            }
        )

    async def chat(request: Request) -> Response:
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        state.attempts[prompt] += 1
        if body.get("model") == "flaky-model" and state.attempts[prompt] == 1:
            return JSONResponse(
                {"error": {"message": "upstream hiccup", "type": "server_error"}}, status_code=500
            )
        reply = f"echo: {prompt}"
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 2, "total_tokens": 0},
            },
            headers={"x-request-id": uuid.uuid4().hex, "openai-processing-ms": str(int(time.time()) % 97)},
        )

    async def embeddings(request: Request) -> Response:
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": [round((len(t) + k) / 100, 4) for k in range(64)],
            }
            for i, t in enumerate(inputs)
        ]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )

    async def upload(request: Request) -> Response:
        parts = []
        async with request.form() as form:
            for name, value in form.multi_items():
                if isinstance(value, str):
                    parts.append({"name": name, "value": value})
                else:
                    digest = hashlib.sha256(await value.read()).hexdigest()
                    parts.append({"name": name, "filename": value.filename, "sha256": digest})
        return JSONResponse({"parts": parts})

    async def create_job(request: Request) -> Response:
        job_id = str(uuid.uuid4())
        return JSONResponse({"id": job_id, "status": "PENDING"}, status_code=201)

    async def get_job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        state.polls[job_id] += 1
        done = state.polls[job_id] >= 3
        return JSONResponse(
            {"id": job_id, "status": "COMPLETED" if done else "PENDING", "polls": state.polls[job_id]}
        )

    async def token(request: Request) -> Response:
        body = await request.json()
        now = int(time.time())
        claims = {
            "sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, body["email"])),
            "email": body["email"],
            "role": "authenticated",
            "iat": now,
            "exp": now + 3600,
        }
        return JSONResponse(
            {
                "access_token": make_jwt(claims),
                "token_type": "bearer",
                "refresh_token": uuid.uuid4().hex,
                "user": {"email": body["email"], "api_key": PLANTED_API_KEY},
                "note": f"your key is {PLANTED_API_KEY}",
            }
        )

    async def unpriced(request: Request) -> Response:
        """An OpenAI endpoint no cost rule prices, reporting heavy usage (Responses API shape)."""
        state.attempts["unpriced"] += 1
        body = await request.json()
        return JSONResponse(
            {
                "id": "resp_1",
                "object": "response",
                "model": body.get("model"),
                "usage": {"input_tokens": 400_000, "output_tokens": 100_000, "total_tokens": 500_000},
            }
        )

    async def mirror(request: Request) -> Response:
        """Answers with the request's own body, content type and ``x-mirror-<name>`` headers, so
        one planted secret crosses the engine in both directions."""
        headers = {
            name.removeprefix("x-mirror-"): value
            for name, value in request.headers.items()
            if name.startswith("x-mirror-")
        }
        return Response(
            await request.body(),
            media_type=request.headers.get("content-type", "application/octet-stream"),
            headers=headers,
        )

    async def me(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        return JSONResponse({"authenticated": auth.startswith("Bearer ey")})

    async def count(request: Request, call_next: Any) -> Response:
        state.requests[request.url.path] += 1
        response: Response = await call_next(request)
        return response

    routes = [
        Route("/echo", echo, methods=["GET", "POST"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/upload", upload, methods=["POST"]),
        Route("/jobs", create_job, methods=["POST"]),
        Route("/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/auth/token", token, methods=["POST"]),
        Route("/auth/me", me, methods=["GET"]),
        Route("/mirror", mirror, methods=["POST"]),
        Route("/v1/responses", unpriced, methods=["POST"]),
        Route("/v1/completions", unpriced, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(BaseHTTPMiddleware, dispatch=count),
            Middleware(GZipMiddleware, minimum_size=200),
        ],
    )


def LoopbackServer(state: LoopbackState | None = None) -> ServerThread:
    """The app on 127.0.0.1, on a free port, in a background thread."""
    # imported here: the sandbox package costs a quarter of a second, and a replay of the
    # integration suite (which reads PLANTED_API_KEY) starts no server
    from contracttape.sandbox.server import ServerThread

    return ServerThread(build_app(state), "loopback")
