"""An OpenAI-compatible API (``/v1``): embeddings, chat completions (plain and SSE), models.

Faithful to the wire formats in shared/reference/wire_formats.md section 1: the error envelope,
the headers, usage counted with the real tokenizer, base64 embeddings of little-endian float32,
429 ``rate_limit_exceeded`` with ``retry-after`` and 429 ``insufficient_quota``. Revision 2
changes a few shapes on purpose (docs/sandbox.md).
"""

from __future__ import annotations

import base64
import json
import math
import struct
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from contracttape import tokenizer as tokens
from contracttape.sandbox import errors, jsonbody
from contracttape.sandbox.config import SandboxConfig
from contracttape.sandbox.errors import ServiceError
from contracttape.sandbox.http import SlidingWindow, bearer
from contracttape.sandbox.openai import vectors
from contracttape.services.openai import go_duration

EMBEDDING_MODELS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
# a model family answers with its dated snapshot, as the real service does
SNAPSHOTS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
}
CHAT_MODELS = (*SNAPSHOTS, *SNAPSHOTS.values())
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000
CREATED = 1767225600
GZIP_MINIMUM = 256


class ApiError(ServiceError):
    """OpenAI's envelope: ``{"error": {"message", "type", "param", "code"}}`` and an x-request-id."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        super().__init__(
            status,
            body,
            {
                "x-request-id": _request_id(),
                "content-type": "application/json; charset=utf-8",
                **(headers or {}),
            },
        )


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, "invalid_request_error", None, param)


def _request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def _mask(key: str) -> str:
    return f"{key[:8]}****{key[-4:]}" if len(key) > 12 else "****"


class Limiter:
    """Requests- and tokens-per-window limits and a token quota, shared by all requests."""

    def __init__(self, config: SandboxConfig, window: float = 60.0) -> None:
        self.config, self.window = config, window
        self._recent = SlidingWindow(window)  # one event per request, weighted by its tokens
        self._used = 0

    def admit(self, model: str, estimated_tokens: int) -> dict[str, str]:
        cfg = self.config
        with self._recent.lock:
            if (
                cfg.openai_quota_tokens is not None
                and self._used + estimated_tokens > cfg.openai_quota_tokens
            ):
                raise ApiError(
                    429,
                    "You exceeded your current quota, please check your plan and billing details. For more "
                    "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                    "insufficient_quota",
                    "insufficient_quota",
                )
            requests, used_tokens, wait = self._recent.count(), self._recent.total(), self._recent.wait()
            if cfg.openai_rpm is not None and requests >= cfg.openai_rpm:
                raise self._limited(model, "requests", "RPM", cfg.openai_rpm, requests, 1, wait)
            if cfg.openai_tpm is not None and used_tokens + estimated_tokens > cfg.openai_tpm:
                raise self._limited(
                    model, "tokens", "TPM", cfg.openai_tpm, used_tokens, estimated_tokens, wait
                )
            self._recent.add(estimated_tokens)
            self._used += estimated_tokens
            return self.headers(requests + 1, used_tokens + estimated_tokens)

    def _limited(
        self, model: str, kind: str, short: str, limit: int, used: int, requested: int, wait: float
    ) -> ApiError:
        wait = max(wait, 0.001)
        return ApiError(
            429,
            f"Rate limit reached for {model} in organization org-sandbox on {kind} per min ({short}): "
            f"Limit {limit}, Used {used}, Requested {requested}. Please try again in {wait * 1000:.0f}ms. "
            "Visit https://platform.openai.com/account/rate-limits to learn more.",
            kind,
            "rate_limit_exceeded",
            headers={"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": f"{wait * 1000:.0f}"},
        )

    def headers(self, requests: int, used_tokens: int) -> dict[str, str]:
        rpm = self.config.openai_rpm or 10_000
        tpm = self.config.openai_tpm or 10_000_000
        return {
            "x-ratelimit-limit-requests": str(rpm),
            "x-ratelimit-limit-tokens": str(tpm),
            "x-ratelimit-remaining-requests": str(max(rpm - requests, 0)),
            "x-ratelimit-remaining-tokens": str(max(tpm - used_tokens, 0)),
            "x-ratelimit-reset-requests": go_duration(self.window / rpm),
            "x-ratelimit-reset-tokens": "0s",
        }


def _as_inputs(raw: Any) -> list[str | list[int]]:
    """Validate ``input``: a string, a list of strings, a token array, or a list of token arrays."""
    if isinstance(raw, str):
        items: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, int) and not isinstance(t, bool) for t in raw):
        items = [raw]
    elif isinstance(raw, list):
        items = raw
    else:
        raise bad_request(
            "'input' must be a string, an array of strings, or an array of token arrays.", "input"
        )
    if not items:
        raise bad_request("'input' : input must be a non-empty string or array", "input")
    if len(items) > MAX_INPUTS:
        raise bad_request(f"'input' : maximum {MAX_INPUTS} inputs per request, got {len(items)}", "input")
    for item in items:
        is_tokens = (
            isinstance(item, list)
            and item
            and all(isinstance(t, int) and not isinstance(t, bool) for t in item)
        )
        if not (isinstance(item, str) and item) and not is_tokens:
            raise bad_request("'input' : every input must be a non-empty string or token array", "input")
        if is_tokens and not all(0 <= t < tokens.vocabulary_size() for t in item):
            raise bad_request(
                f"'input' : token ids must be between 0 and {tokens.vocabulary_size() - 1}", "input"
            )
    return items


class OpenAIApp:
    def __init__(self, config: SandboxConfig, rate_window: float = 60.0) -> None:
        self.config = config
        self.limiter = Limiter(config, rate_window)
        self.app = Starlette(
            routes=[
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/models/{model:path}", self.model, methods=["GET"]),
                Route(
                    "/{path:path}", self.unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
                ),
            ],
            # JSON answers are compressed when the client accepts it, as the real service's are
            # (streams are not: GZipMiddleware leaves text/event-stream alone)
            middleware=[Middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM)],
        )
        errors.install(self.app)

    # -- plumbing ---------------------------------------------------------------------------------

    def _authorise(self, request: Request) -> None:
        key = bearer(request.headers)
        if key is None:
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
            )
        if key != self.config.openai_api_key:
            raise ApiError(
                401,
                f"Incorrect API key provided: {_mask(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )

    async def _json(self, request: Request) -> dict[str, Any]:
        self._authorise(request)
        try:
            body = jsonbody.loads(await request.body())
        except ValueError:
            raise bad_request(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                "using your HTTP library correctly. The OpenAI API expects a JSON payload.)"
            ) from None
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        return body

    def _headers(self, limits: dict[str, str], started: float, model: str | None = None) -> dict[str, str]:
        headers = {
            "x-request-id": _request_id(),
            "openai-processing-ms": str(int((time.monotonic() - started) * 1000)),
            "openai-version": "2020-10-01",
            "openai-organization": "org-sandbox",
            **limits,
        }
        if model:
            headers["openai-model"] = model
        return headers

    # -- embeddings -------------------------------------------------------------------------------

    async def embeddings(self, request: Request) -> Response:
        started = time.monotonic()
        body = await self._json(request)
        model = _model(body, EMBEDDING_MODELS)
        inputs = _as_inputs(body.get("input"))
        dims = self._dimensions(model, body.get("dimensions"))
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise bad_request(
                f"'{encoding}' is not one of ['float', 'base64'] - 'encoding_format'", "encoding_format"
            )
        counts = [len(i) if isinstance(i, list) else tokens.count(i) for i in inputs]
        for position, n in enumerate(counts):
            if n > MAX_INPUT_TOKENS:
                raise bad_request(
                    f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you "
                    f"requested {n} tokens in input {position}.",
                    "input",
                )
        total = sum(counts)
        if total > MAX_REQUEST_TOKENS:
            raise bad_request(
                f"Requested {total} tokens, max {MAX_REQUEST_TOKENS} tokens per request", "input"
            )
        limits = self.limiter.admit(model, total)
        data = []
        for index, item in enumerate(inputs):
            text = tokens.decode(item) if isinstance(item, list) else item
            vector = vectors.embed(text, dims)
            embedding: Any = (
                base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
                if encoding == "base64"
                else vector
            )
            entry: dict[str, Any] = {"object": "embedding", "index": index, "embedding": embedding}
            if self.config.revision == 2:
                entry["embedding_norm"] = 1.0  # revision 2: a field added
            data.append(entry)
        payload = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": total, "total_tokens": total},
        }
        return JSONResponse(payload, headers=self._headers(limits, started, model))

    @staticmethod
    def _dimensions(model: str, raw: Any) -> int:
        native = EMBEDDING_MODELS[model]
        if raw is None:
            return native
        if model == "text-embedding-ada-002":
            raise bad_request("This model does not support specifying dimensions.", "dimensions")
        if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= native:
            raise bad_request(f"'dimensions' must be an integer between 1 and {native}.", "dimensions")
        return raw

    # -- chat ---------------------------------------------------------------------------------------

    async def chat(self, request: Request) -> Response:
        started = time.monotonic()
        body = await self._json(request)
        model = SNAPSHOTS.get(_model(body, CHAT_MODELS), body["model"])
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise bad_request("'messages' must be a non-empty array of message objects.", "messages")
        stream = body.get("stream", False)
        if stream is not None and not isinstance(stream, bool):
            raise bad_request(
                f"Invalid type for 'stream': expected a boolean, but got {type(stream).__name__} instead.",
                "stream",
            )
        texts = [_content_text(m.get("content")) for m in messages]
        prompt_tokens = sum(tokens.count(t) + 3 for t in texts) + 3
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        if max_tokens is not None and (
            not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
        ):
            raise bad_request("'max_tokens' must be a positive integer.", "max_tokens")
        last_user = next(
            (t for m, t in zip(reversed(messages), reversed(texts), strict=True) if m.get("role") == "user"),
            "",
        )
        reply_tokens = tokens.encoding().encode(f"Sandbox reply: {last_user[:400]}", disallowed_special=())
        finish = "stop" if self.config.revision == 1 else "end_turn"  # revision 2: an enum value added
        if max_tokens is not None and len(reply_tokens) > max_tokens:
            reply_tokens, finish = reply_tokens[:max_tokens], "length"
        reply = tokens.decode(reply_tokens)
        limits = self.limiter.admit(model, prompt_tokens + len(reply_tokens))
        usage = self._usage(prompt_tokens, len(reply_tokens))
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        headers = self._headers(limits, started)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = self._chunks(completion_id, model, reply, finish, usage if include_usage else None)
            return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)
        completion: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion",
            "created": CREATED if self.config.revision == 1 else "2026-01-01T00:00:00Z",  # r2: type changed
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": usage,
            "service_tier": "default",
        }
        if self.config.revision == 1:
            completion["system_fingerprint"] = "fp_sandbox"  # revision 2: a field removed
        return JSONResponse(completion, headers=headers)

    def _usage(self, prompt: int, completion: int) -> dict[str, Any]:
        details: Any = {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
        if self.config.revision == 2:
            details = None  # revision 2: a field made nullable
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": details,
        }

    async def _chunks(
        self, completion_id: str, model: str, reply: str, finish: str, usage: dict[str, Any] | None
    ) -> AsyncIterator[bytes]:
        base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_sandbox",
        }

        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            return f"data: {json.dumps({**base, 'choices': choices, **extra})}\n\n".encode()

        yield event(
            [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": "", "refusal": None},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
            **({"usage": None} if usage else {}),
        )
        words = reply.split(" ")
        for position, word in enumerate(words):
            piece = word if position == 0 else f" {word}"
            yield event(
                [{"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}],
                **({"usage": None} if usage else {}),
            )
        yield event(
            [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}],
            **({"usage": None} if usage else {}),
        )
        if usage:
            yield event([], usage=usage)
        yield b"data: [DONE]\n\n"

    # -- what it does not implement -----------------------------------------------------------------

    async def unknown(self, request: Request) -> Response:
        """Like the real service: the key is checked first, then the envelope's 404."""
        self._authorise(request)
        raise ApiError(404, f"Invalid URL ({request.method} {request.url.path})", "invalid_request_error")

    # -- models -------------------------------------------------------------------------------------

    @staticmethod
    def _model_object(model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": CREATED, "owned_by": "system"}

    async def models(self, request: Request) -> Response:
        self._authorise(request)
        data = [self._model_object(m) for m in (*CHAT_MODELS, *EMBEDDING_MODELS)]
        return JSONResponse({"object": "list", "data": data}, headers={"x-request-id": _request_id()})

    async def model(self, request: Request) -> Response:
        self._authorise(request)
        model = request.path_params["model"]
        if model not in CHAT_MODELS and model not in EMBEDDING_MODELS:
            raise ApiError(
                404,
                f"The model '{model}' does not exist",
                "invalid_request_error",
                "model_not_found",
                "model",
            )
        return JSONResponse(self._model_object(model), headers={"x-request-id": _request_id()})


def _model(body: dict[str, Any], known: Any) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("you must provide a model parameter", "model")
    if model not in known:
        raise ApiError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        )
    return model


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""
