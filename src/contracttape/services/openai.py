"""OpenAI: embeddings, chat completions, models."""

from __future__ import annotations

from collections.abc import Mapping

from contracttape.endpoints import Route, ServiceProfile, json_body
from contracttape.model import RecordedRequest


def _embeddings(request: RecordedRequest, params: Mapping[str, str]) -> dict[str, str]:
    # The SDK asks for base64 unless told otherwise; the response shape differs (str vs list).
    return {"encoding_format": str(json_body(request).get("encoding_format") or "float")}


def _chat(request: RecordedRequest, params: Mapping[str, str]) -> dict[str, str]:
    return {"stream": "true" if json_body(request).get("stream") else "false"}


OPENAI = ServiceProfile(
    name="openai",
    hosts=("api.openai.com", "openai.sandbox.contracttape.test"),
    routes=(
        Route("POST", "/v1/embeddings", _embeddings),
        Route("POST", "/v1/chat/completions", _chat),
        Route("GET", "/v1/models"),
        Route("GET", "/v1/models/{model}"),
    ),
)
