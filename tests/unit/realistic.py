"""Realistic response bodies of the three services (shapes from the wire-format reference)."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from contracttape.model import Interaction, RecordedRequest, RecordedResponse

JSON = (("content-type", "application/json"),)
OPENAI = "https://api.openai.com"
SUPABASE = "https://abcd.supabase.co"
LLAMA = "https://api.cloud.llamaindex.ai"


def interaction(
    method: str,
    uri: str,
    body: Any,
    status: int = 200,
    request_body: Any = None,
    headers: tuple[tuple[str, str], ...] = JSON,
    request_headers: tuple[tuple[str, str], ...] = JSON,
) -> Interaction:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = json.dumps(request_body).encode() if request_body is not None else b""
    return Interaction(
        RecordedRequest(method, uri, request_headers, req), RecordedResponse(status, "", headers, raw)
    )


def embedding_b64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def embeddings(n: int, encoding: str = "float") -> Interaction:
    vector: Any = [round(0.01 * (n + k), 4) for k in range(8)]
    if encoding == "base64":
        vector = embedding_b64(vector)
    return interaction(
        "POST",
        f"{OPENAI}/v1/embeddings",
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": vector}],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": n + 1, "total_tokens": n + 1},
        },
        request_body={"input": f"text {n}", "model": "text-embedding-3-small", "encoding_format": encoding},
    )


def chat(n: int, finish: str = "stop") -> Interaction:
    return interaction(
        "POST",
        f"{OPENAI}/v1/chat/completions",
        {
            "id": f"chatcmpl-{n:06d}",
            "object": "chat.completion",
            "created": 1767225600,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"reply {n}", "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
            "system_fingerprint": None if n % 2 else "fp_44709d6fcb",
        },
        request_body={"messages": [{"role": "user", "content": f"q {n}"}], "model": "gpt-4o-mini"},
    )


def chat_stream(n: int) -> Interaction:
    chunk = {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": "gpt-4o-mini",
    }
    events = [
        {
            **chunk,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        },
        {**chunk, "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}},
    ]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return interaction(
        "POST",
        f"{OPENAI}/v1/chat/completions",
        body.encode(),
        headers=(("content-type", "text/event-stream"),),
        request_body={"messages": [{"role": "user", "content": "s"}], "model": "gpt-4o-mini", "stream": True},
    )


def llama_job(job_id: str, status: str) -> Interaction:
    return interaction(
        "GET",
        f"{LLAMA}/api/v2/parse/{job_id}?expand=text,job_metadata",
        {
            "job": {
                "id": job_id,
                "project_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                "status": status,
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
                "error_message": None,
                "name": "report.pdf",
                "tier": "fast",
            },
            "text": {"pages": [{"page_number": 1, "text": "Hello"}]} if status == "COMPLETED" else None,
            "job_metadata": {"credits_used": 2, "job_pages": 2},
        },
    )


def documents(rows: int) -> Interaction:
    data = [
        {
            "id": f"1b4e28ba-2fa1-11d2-883f-0016d3cca4{i:02d}",
            "owner_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "filename": f"doc{i}.pdf",
            "status": "parsed" if i % 2 else "pending",
            "pages": i if i % 3 else None,
            "created_at": "2026-01-01T00:00:00+00:00",
        }
        for i in range(rows)
    ]
    return interaction(
        "GET", f"{SUPABASE}/rest/v1/documents?select=id,owner_id,filename,status,pages,created_at", data
    )


def signed_url() -> Interaction:
    return interaction(
        "POST",
        f"{SUPABASE}/storage/v1/object/sign/documents/u1/a.pdf",
        {"signedURL": "/object/sign/documents/u1/a.pdf?token=<redacted:token>"},
        request_body={"expiresIn": 60},
    )


def realistic_set() -> list[Interaction]:
    return [
        *(embeddings(n) for n in range(3)),
        *(embeddings(n, "base64") for n in range(3)),
        *(chat(n) for n in range(4)),
        chat_stream(1),
        chat_stream(2),
        *(
            llama_job(f"0b6f4c1e-0000-4000-8000-00000000000{n}", s)
            for n, s in enumerate(["PENDING", "COMPLETED", "COMPLETED"])
        ),
        documents(5),
        documents(0),
        signed_url(),
    ]
