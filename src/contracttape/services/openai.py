"""OpenAI: embeddings, chat completions, models."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from contracttape.bodies import decode_body, json_object, json_or_none, sse_events
from contracttape.budget.costs import FREE, Cost, Estimate, stream_usage
from contracttape.budget.prices import PriceBook
from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.services.profile import (
    LiveVariable,
    Route,
    ServiceProfile,
    gateway_page,
    json_answer,
    retry_headers,
    text_answer,
)


def _embeddings(request: RecordedRequest, params: Mapping[str, str]) -> dict[str, str]:
    # The SDK asks for base64 unless told otherwise; the response shape differs (str vs list).
    return {"encoding_format": str(json_object(request).get("encoding_format") or "float")}


def _chat(request: RecordedRequest, params: Mapping[str, str]) -> dict[str, str]:
    return {"stream": "true" if json_object(request).get("stream") else "false"}


def _tokens(text: str) -> int:
    from contracttape.tokenizer import (
        count,  # tiktoken, cl100k, offline (imported late: tiktoken is slow to load)
    )

    return count(text)


def _input_tokens(value: Any) -> int:
    if isinstance(value, str):
        return _tokens(value)
    if isinstance(value, list) and value and all(isinstance(t, int) for t in value):
        return len(value)
    if isinstance(value, list):
        return sum(_input_tokens(v) for v in value)
    return 0


def _message_tokens(messages: Any) -> int:
    total = 3
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        total += 3 + _tokens(content if isinstance(content, str) else json.dumps(content))
    return total


class OpenAICosts:
    """Embeddings bill input tokens; chat bills input and output tokens (per 1M, price file)."""

    def estimate(self, request: RecordedRequest, prices: PriceBook) -> Estimate | None:
        body = json_object(request)
        margin = prices.number("openai", "token_margin")
        if request.path.endswith("/embeddings"):
            model = str(body.get("model"))
            tokens = _input_tokens(body.get("input")) * margin
            usd = tokens * prices.number("openai", "embeddings", model, "input_per_1m") / 1e6
            return Estimate(usd, f"{tokens:.0f} input tokens (x{margin} margin) of {model}")
        if request.path.endswith("/chat/completions"):
            model = str(body.get("model"))
            price = ("openai", "chat", model)
            tokens_in = _message_tokens(body.get("messages")) * margin
            limit = body.get("max_completion_tokens", body.get("max_tokens"))
            tokens_out = float(
                limit if isinstance(limit, int) else prices.number(*price, "max_output_tokens")
            )
            choices = body.get("n")
            tokens_out *= choices if isinstance(choices, int) and choices > 1 else 1
            usd = (
                tokens_in * prices.number(*price, "input_per_1m")
                + tokens_out * prices.number(*price, "output_per_1m")
            ) / 1e6
            return Estimate(usd, f"{tokens_in:.0f} input + {tokens_out:.0f} output tokens of {model}")
        if request.method in ("GET", "HEAD"):
            return FREE  # listing models, reading back a stored object: not billed
        return None  # /v1/responses, /v1/completions, audio, images...: unpriced

    def _usage_cost(self, model: str, usage: Mapping[str, Any], prices: PriceBook, what: str) -> Cost:
        """Tokens the answer reports, at the model's chat price (or the dearest known one)."""
        tokens_in = float(usage.get("prompt_tokens", usage.get("input_tokens", 0)) or 0)
        tokens_out = float(usage.get("completion_tokens", usage.get("output_tokens", 0)) or 0)
        table = prices.table("openai", "chat")
        known = table.get(model)
        price = known if isinstance(known, Mapping) else _dearest(table)
        usd = (tokens_in * float(price["input_per_1m"]) + tokens_out * float(price["output_per_1m"])) / 1e6
        basis = (
            f"{what} of {model}"
            if known
            else f"{what} of {model}, at the dearest chat price (unpriced model)"
        )
        return Cost(usd, {"input_tokens": tokens_in, "output_tokens": tokens_out}, basis)

    def actual(self, request: RecordedRequest, response: RecordedResponse, prices: PriceBook) -> Cost:
        if response.status >= 400:
            return Cost(0.0, basis="failed requests are not billed")
        body = json_object(request)
        model = str(body.get("model"))
        if request.path.endswith("/embeddings"):
            usage = (json_or_none(response.body) or {}).get("usage") or {}
            tokens = float(usage.get("prompt_tokens", 0))
            usd = tokens * prices.number("openai", "embeddings", model, "input_per_1m") / 1e6
            return Cost(usd, {"input_tokens": tokens}, f"usage of {model}")
        if request.path.endswith("/chat/completions"):
            if body.get("stream"):
                usage = stream_usage(response.body)
                if usage is None:  # no include_usage: count what came back, price the input as estimated
                    text = "".join(
                        str(((c.get("choices") or [{}])[0].get("delta") or {}).get("content") or "")
                        for c in sse_events(response.body)
                        if isinstance(c, dict) and c.get("choices")
                    )
                    usage = {
                        "prompt_tokens": _message_tokens(body.get("messages")),
                        "completion_tokens": _tokens(text),
                    }
            else:
                usage = (json_or_none(response.body) or {}).get("usage") or {}
            tokens_in, tokens_out = (
                float(usage.get("prompt_tokens", 0)),
                float(usage.get("completion_tokens", 0)),
            )
            price = ("openai", "chat", model)
            usd = (
                tokens_in * prices.number(*price, "input_per_1m")
                + tokens_out * prices.number(*price, "output_per_1m")
            ) / 1e6
            return Cost(usd, {"input_tokens": tokens_in, "output_tokens": tokens_out}, f"usage of {model}")
        reported = _reported_usage(response)
        if reported is not None:
            return self._usage_cost(model, reported, prices, f"usage reported by {request.path}")
        return Cost(0.0, basis="no usage reported")


def _dearest(table: Mapping[str, Any]) -> Mapping[str, Any]:
    rows = [row for row in table.values() if isinstance(row, Mapping) and "output_per_1m" in row]
    return max(rows, key=lambda row: (float(row["output_per_1m"]), float(row["input_per_1m"])))


def _reported_usage(response: RecordedResponse) -> Mapping[str, Any] | None:
    """``usage`` as any OpenAI endpoint reports it: top level, under ``response`` (the
    Responses API), or in the last stream event that carries one."""
    bodies: list[Any] = [json_or_none(response.body)]
    if (response.header("content-type") or "").startswith("text/event-stream"):
        bodies = list(reversed(sse_events(response.body)))
    for body in bodies:
        if not isinstance(body, dict):
            continue
        for holder in (body, body.get("response")):
            if isinstance(holder, dict) and isinstance(holder.get("usage"), dict):
                usage: Mapping[str, Any] = holder["usage"]
                return usage
    return None


def _error_code(response: RecordedResponse) -> str | None:
    """``{"error": {"code": "model_not_found", "type": "invalid_request_error"}}``."""
    error = json_or_none(decode_body(response.body, response.headers)) or {}
    error = error.get("error") if isinstance(error, dict) else None
    if not isinstance(error, dict):
        return None
    code = error.get("code") or error.get("type")
    return str(code) if isinstance(code, str) and code else None


def go_duration(seconds: float) -> str:
    """How OpenAI writes ``x-ratelimit-reset-*``: Go durations, ``6ms``, ``8.64s``, ``1m30s``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


_ERRORS = {  # status -> (type, code, message) of the error envelope
    400: ("invalid_request_error", None, "Invalid request."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
    ),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", "unknown_url", "Unknown request URL. Please check the URL for typos."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later"),
}


def _fault_answer(request: RecordedRequest, status: int, retry_after: float | None) -> RecordedResponse:
    """OpenAI's own error answer: the ``{"error": {...}}`` envelope, ``x-request-id``, and on a
    429 the ``x-ratelimit-*`` headers; 502 and 504 come from Cloudflare as an HTML page."""
    headers = [("x-request-id", "req_" + "0" * 32), *retry_headers(retry_after)]
    code: str | None
    if retry_after is not None:
        headers.append(("retry-after-ms", f"{retry_after * 1000:g}"))
    if status in (502, 504):
        return text_answer(status, gateway_page(status), headers, html=True)
    if status == 429:
        model = str(json_object(request).get("model") or "gpt-4o-mini")
        wait = go_duration(retry_after if retry_after is not None else 0.02)
        headers += [
            ("x-ratelimit-limit-requests", "500"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", wait),
            ("x-ratelimit-limit-tokens", "200000"),
            ("x-ratelimit-remaining-tokens", "199990"),
            ("x-ratelimit-reset-tokens", "0s"),
        ]
        kind, code = "requests", "rate_limit_exceeded"
        message = (
            f"Rate limit reached for {model} in organization org-contracttape on requests per min (RPM): "
            f"Limit 500, Used 500, Requested 1. Please try again in {wait}. "
            "Visit https://platform.openai.com/account/rate-limits to learn more."
        )
    else:
        kind, code, message = _ERRORS.get(status, _ERRORS[500 if status >= 500 else 400])
    envelope = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return json_answer(status, envelope, headers, "application/json; charset=utf-8")


OPENAI = ServiceProfile(
    name="openai",
    hosts=("api.openai.com", "openai.sandbox.contracttape.test"),
    routes=(
        Route("POST", "/v1/embeddings", _embeddings),
        Route("POST", "/v1/chat/completions", _chat),
        Route("GET", "/v1/models"),
        Route("GET", "/v1/models/{model}"),
    ),
    costs=OpenAICosts(),
    logical_origin="http://openai.sandbox.contracttape.test",
    replay_env=(
        ("OPENAI_BASE_URL", "http://openai.sandbox.contracttape.test/v1"),
        ("OPENAI_API_KEY", "sk-sandbox-replay"),
    ),
    live_variables=(
        LiveVariable("OPENAI_API_KEY"),
        LiveVariable("OPENAI_BASE_URL", "https://api.openai.com/v1"),
    ),
    volatile_headers=(("openai-processing-ms", "0"),),
    secret_headers=frozenset({"openai-organization", "openai-project"}),
    distributions=("openai",),
    error_code=_error_code,
    fault_answer=_fault_answer,
)
