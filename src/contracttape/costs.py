"""What an interaction costs: a worst-case estimate before it is sent, the actual after.

Each service profile may carry a ``CostRule``. Estimates must never be below the actual cost
(the cap depends on it): token counts use the real tokenizer with a margin, chat adds the
largest possible output, LlamaParse counts the pages of the PDF being uploaded.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from contracttape import multipart
from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.normalize import media_type
from contracttape.pricing import PriceBook
from contracttape.samples import sse_events


@dataclass(frozen=True)
class Estimate:
    usd: float
    basis: str


@dataclass(frozen=True)
class Cost:
    usd: float
    units: dict[str, float] = field(default_factory=dict)
    basis: str = ""
    # LlamaParse bills at upload and reports later: the job a cost belongs to, and a later report.
    job_id: str | None = None
    reported_for_job: str | None = None
    reported_usd: float | None = None


class CostRule(Protocol):
    def estimate(self, request: RecordedRequest, prices: PriceBook) -> Estimate | None:
        """Worst case before sending; None when the rule cannot tell (the budget falls back)."""

    def actual(self, request: RecordedRequest, response: RecordedResponse, prices: PriceBook) -> Cost:
        """What the service charged for this interaction, from what it reported."""


FREE = Estimate(0.0, "free")


def json_of(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def pdf_pages(data: bytes) -> int:
    """Pages in a PDF (at least 1, so a document we cannot read is never estimated at 0)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        return max(1, len(PdfReader(io.BytesIO(data)).pages))
    except (PdfReadError, ValueError, KeyError, TypeError, OSError):
        return 1


def multipart_fields(request: RecordedRequest) -> dict[str, bytes]:
    """Form fields and files of a multipart request, by name (the first part of each name)."""
    if not media_type(request.headers).startswith("multipart/"):
        return {}
    fields: dict[str, bytes] = {}
    for part in multipart.parse(request.body, request.header("content-type") or "") or []:
        fields.setdefault(part.name, part.data)
    return fields


def stream_usage(body: bytes) -> dict[str, Any] | None:
    for event in reversed(sse_events(body)):
        if isinstance(event, dict) and isinstance(event.get("usage"), dict):
            usage: dict[str, Any] = event["usage"]
            return usage
    return None
