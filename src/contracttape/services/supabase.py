"""Supabase: auth (GoTrue), REST (PostgREST), storage, edge functions."""

from __future__ import annotations

from collections.abc import Mapping

from contracttape.bodies import decode_body, json_object, json_or_none
from contracttape.budget.costs import Cost, Estimate
from contracttape.budget.prices import PriceBook
from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.services.profile import LiveVariable, Route, ServiceProfile, query


def _rest(request: RecordedRequest, params: Mapping[str, str]) -> dict[str, str]:
    """PostgREST answers differ by columns selected, object mode and Prefer: return=..."""
    variant: dict[str, str] = {}
    select = query(request).get("select")
    if select is not None:
        variant["select"] = ",".join(sorted(c.strip() for c in select.split(",")))
    if "vnd.pgrst.object" in (request.header("accept") or ""):
        variant["accept"] = "object"
    prefer = request.header("prefer") or ""
    if "return=representation" in prefer:
        variant["return"] = "representation"
    return variant


# Replay keys: well-formed JWTs (supabase-py checks the key's shape) whose signature is the
# redaction marker, so they are harmless and scan clean.
REPLAY_ANON_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZSIsInJvbGUiOiJhbm9uIn0.contracttape-redacted"
)
REPLAY_SERVICE_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJzdXBhYmFzZSIsInJvbGUiOiJzZXJ2aWNlX3JvbGUifQ.contracttape-redacted"
)


def _grant(request: RecordedRequest, params: Mapping[str, str]) -> dict[str, str]:
    return {"grant_type": query(request).get("grant_type", "")}


def _rpc(request: RecordedRequest, params: Mapping[str, str]) -> dict[str, str]:
    return {"args": ",".join(sorted(json_object(request)))}


class SupabaseCosts:
    """Requests and bytes are counted, at the (zero) prices in the price file."""

    def estimate(self, request: RecordedRequest, prices: PriceBook) -> Estimate | None:
        return Estimate(prices.number("supabase", "usd_per_request"), "a request")

    def actual(self, request: RecordedRequest, response: RecordedResponse, prices: PriceBook) -> Cost:
        moved = len(request.body) + len(response.body)
        usd = prices.number("supabase", "usd_per_request") + moved / 1e9 * prices.number(
            "supabase", "usd_per_gb"
        )
        return Cost(usd, {"requests": 1, "bytes": moved}, "requests and bytes")


def _error_code(response: RecordedResponse) -> str | None:
    """GoTrue's ``x-sb-error-code`` / ``code``, PostgREST's ``code``, storage's ``error``."""
    header = response.header("x-sb-error-code")
    if header:
        return header
    body = json_or_none(decode_body(response.body, response.headers))
    if not isinstance(body, dict):
        return None
    code = body.get("code") if isinstance(body.get("code"), str) else body.get("error")
    return str(code) if isinstance(code, str) and code else None


SUPABASE = ServiceProfile(
    name="supabase",
    hosts=("*.supabase.co", "supabase.sandbox.contracttape.test"),
    routes=(
        Route("POST", "/auth/v1/signup"),
        Route("POST", "/auth/v1/token", _grant),
        Route("GET", "/auth/v1/user"),
        Route("PUT", "/auth/v1/user"),
        Route("POST", "/auth/v1/logout"),
        *(
            Route(m, "/rest/v1/{table}", _rest, ("table",))
            for m in ("GET", "HEAD", "POST", "PATCH", "DELETE")
        ),
        Route("POST", "/rest/v1/rpc/{function}", _rpc, ("function",)),
        Route("GET", "/storage/v1/bucket"),
        Route("POST", "/storage/v1/bucket"),
        Route("GET", "/storage/v1/bucket/{bucket}"),
        Route("PUT", "/storage/v1/bucket/{bucket}"),
        Route("DELETE", "/storage/v1/bucket/{bucket}"),
        Route("POST", "/storage/v1/bucket/{bucket}/empty"),
        Route("POST", "/storage/v1/object/list/{bucket}"),
        Route("POST", "/storage/v1/object/move"),
        Route("POST", "/storage/v1/object/copy"),
        Route("POST", "/storage/v1/object/sign/{bucket}"),
        Route("POST", "/storage/v1/object/sign/{bucket}/{path*}"),
        Route("GET", "/storage/v1/object/sign/{bucket}/{path*}"),
        Route("POST", "/storage/v1/object/upload/sign/{bucket}/{path*}"),
        Route("PUT", "/storage/v1/object/upload/sign/{bucket}/{path*}"),
        Route("GET", "/storage/v1/object/authenticated/{bucket}/{path*}"),
        Route("GET", "/storage/v1/object/public/{bucket}/{path*}"),
        Route("POST", "/storage/v1/object/{bucket}/{path*}"),
        Route("PUT", "/storage/v1/object/{bucket}/{path*}"),
        Route("DELETE", "/storage/v1/object/{bucket}"),
        Route("POST", "/functions/v1/{function}", None, ("function",)),
    ),
    costs=SupabaseCosts(),
    logical_origin="http://supabase.sandbox.contracttape.test",
    replay_env=(
        ("SUPABASE_URL", "http://supabase.sandbox.contracttape.test"),
        ("SUPABASE_ANON_KEY", REPLAY_ANON_KEY),
        ("SUPABASE_SERVICE_ROLE_KEY", REPLAY_SERVICE_KEY),
    ),
    live_variables=(
        LiveVariable("SUPABASE_URL"),
        LiveVariable("SUPABASE_ANON_KEY"),
        LiveVariable("SUPABASE_SERVICE_ROLE_KEY"),
    ),
    volatile_headers=(("sb-request-id", "req_normalised"),),
    # PostgREST's schema profiles and storage's upsert change what the server answers
    matched_headers=frozenset({"x-upsert", "accept-profile", "content-profile"}),
    secret_headers=frozenset({"x-client-info-secret", "x-supabase-api-key"}),
    distributions=("supabase",),
    error_code=_error_code,
)
