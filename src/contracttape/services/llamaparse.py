"""LlamaParse: the v2 parse API (llama-cloud 2.x) and the v1 parsing API (older clients)."""

from __future__ import annotations

from collections.abc import Mapping

from contracttape.bodies import json_or_none, multipart_fields
from contracttape.budget.costs import FREE, Cost, Estimate
from contracttape.budget.prices import PriceBook
from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.pdf import page_count
from contracttape.services.profile import (
    LiveVariable,
    Route,
    ServiceProfile,
    gateway_page,
    json_answer,
    query_values,
    reason_phrase,
    retry_headers,
    text_answer,
)


def _expand(request: RecordedRequest, params: Mapping[str, str]) -> dict[str, str]:
    expand = sorted(set(query_values(request, "expand")))
    return {"expand": ",".join(expand)} if expand else {}


def _credits_usd(prices: PriceBook, credits: float) -> float:
    return credits * prices.number("llamaparse", "usd_per_1000_credits") / 1000


class LlamaParseCosts:
    """Billed at upload: pages of the document x the tier's credits; a cache hit costs 0.

    The job's later ``job_metadata`` (credits used, cache hit) is what the service reports; the
    budget reconciles the upload's cost with it.
    """

    def _tier(self, request: RecordedRequest, fields: dict[str, bytes], prices: PriceBook) -> str:
        if request.path.startswith("/api/v2/"):
            config = json_or_none(fields.get("configuration", b"")) or {}
            return str(config.get("tier"))
        if fields.get("premium_mode") == b"true":
            return "agentic_plus"
        if fields.get("fast_mode") == b"true":
            return "fast"
        mode = fields.get("parse_mode", b"").decode()
        return (
            prices.text("llamaparse", "v1_modes", mode)
            if mode
            else prices.text("llamaparse", "v1_default_tier")
        )

    def estimate(self, request: RecordedRequest, prices: PriceBook) -> Estimate | None:
        if not request.path.endswith("/upload"):
            return FREE if request.method == "GET" else None  # JSON create with a URL: pages unknown
        fields = multipart_fields(request)
        if "file" not in fields:
            return None  # an input_url upload: the pages are unknown until the job reports them
        tier = self._tier(request, fields, prices)
        pages = page_count(fields["file"])
        credits = pages * prices.number("llamaparse", "credits_per_page", tier)
        return Estimate(_credits_usd(prices, credits), f"{pages} page(s) x {tier} ({credits:g} credits)")

    def actual(self, request: RecordedRequest, response: RecordedResponse, prices: PriceBook) -> Cost:
        body = json_or_none(response.body) or {}
        if response.status >= 400:
            return Cost(0.0, basis="refused requests are not billed")
        if request.path.endswith("/upload"):
            estimate = self.estimate(request, prices)
            usd = estimate.usd if estimate else 0.0
            return Cost(
                usd,
                {"credits": usd * 1000 / prices.number("llamaparse", "usd_per_1000_credits")},
                estimate.basis if estimate else "",
                job_id=str(body.get("id")),
            )
        metadata = body.get("job_metadata")
        if isinstance(metadata, dict) and "credits_used" in metadata:
            credits = 0.0 if metadata.get("job_is_cache_hit") else float(metadata["credits_used"])
            job: dict[str, object] = body["job"] if isinstance(body.get("job"), dict) else {}
            job_id = str(job.get("id") or request.path.split("/job/")[-1].split("/")[0])
            return Cost(
                0.0,
                {"reported_credits": credits},
                "reported by the job",
                reported_for_job=job_id,
                reported_usd=_credits_usd(prices, credits),
            )
        return Cost(0.0)


ZERO_UUID = "00000000-0000-0000-0000-000000000000"
_DETAILS = {
    401: "Invalid authentication token",
    402: "You have exhausted your credits. Upgrade your plan or add credits to continue.",
    404: "Not Found",
    429: "Rate limit exceeded. Please retry after some time.",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _fault_answer(request: RecordedRequest, status: int, retry_after: float | None) -> RecordedResponse:
    """LlamaParse (FastAPI): ``{"detail": "..."}``; 502/504 come from the load balancer as HTML."""
    if status in (502, 504):
        return text_answer(status, gateway_page(status), retry_headers(retry_after), html=True)
    detail = _DETAILS.get(status) or reason_phrase(status)
    return json_answer(status, {"detail": detail}, retry_headers(retry_after))


LLAMAPARSE = ServiceProfile(
    name="llamaparse",
    hosts=("api.cloud.llamaindex.ai", "api.cloud.eu.llamaindex.ai", "llamaparse.sandbox.contracttape.test"),
    routes=(
        Route("POST", "/api/v2/parse"),
        Route("GET", "/api/v2/parse"),
        Route("POST", "/api/v2/parse/upload"),
        Route("GET", "/api/v2/parse/{job_id}", _expand),
        Route("POST", "/api/parsing/upload"),
        Route("GET", "/api/parsing/job/{job_id}"),
        Route("GET", "/api/parsing/job/{job_id}/result/markdown"),
        Route("GET", "/api/parsing/job/{job_id}/result/text"),
        Route("GET", "/api/parsing/job/{job_id}/result/json"),
    ),
    costs=LlamaParseCosts(),
    logical_origin="http://llamaparse.sandbox.contracttape.test",
    replay_env=(
        ("LLAMA_CLOUD_BASE_URL", "http://llamaparse.sandbox.contracttape.test"),
        ("LLAMA_CLOUD_API_KEY", "llx-sandbox-replay"),
        ("LLAMA_CLOUD_WEBHOOK_SECRET", "replay"),
    ),
    live_variables=(
        LiveVariable("LLAMA_CLOUD_API_KEY"),
        LiveVariable("LLAMA_CLOUD_BASE_URL", "https://api.cloud.llamaindex.ai"),
    ),
    volatile_headers=(("x-correlation-id", ZERO_UUID), ("x-session-id", ZERO_UUID)),
    distributions=("llama-cloud",),
    fault_answer=_fault_answer,
)
