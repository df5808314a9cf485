"""Supabase: auth (GoTrue), REST (PostgREST), storage, edge functions."""

from __future__ import annotations

import re
from collections.abc import Mapping

from contracttape.bodies import decode_body, json_object, json_or_none
from contracttape.budget.costs import Cost, Estimate
from contracttape.budget.prices import PriceBook
from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.services.profile import (
    LiveVariable,
    Route,
    ServiceProfile,
    json_answer,
    query,
    reason_phrase,
    retry_headers,
)


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


_GATEWAY = {  # the API gateway in front of every Supabase service (Kong)
    429: "API rate limit exceeded",
    502: "An invalid response was received from the upstream server",
    503: "name resolution failed",
    504: "The upstream server is timing out",
}
_AUTH = {  # GoTrue (X-Supabase-Api-Version 2024-01-01): status -> (error code, message)
    429: ("over_request_rate_limit", "Request rate limit reached"),
    500: ("unexpected_failure", "Unexpected failure, please check server logs for more information"),
}
_REST = {  # PostgREST: status -> (code, message, details)
    500: ("XX000", "internal error", None),
    503: ("PGRST001", "Database client error. Retrying the connection.", "no connection to the server"),
}


def _fault_answer(request: RecordedRequest, status: int, retry_after: float | None) -> RecordedResponse:
    """Each Supabase service's own error shape: GoTrue's ``{"code", "message"}`` with
    ``x-sb-error-code``, PostgREST's ``{"code", "details", "hint", "message"}``, storage's
    ``{"statusCode", "error", "message"}``; what none of them answers comes from the gateway."""
    headers = retry_headers(retry_after)
    path = request.path
    if path.startswith("/auth/v1/") and (status in _AUTH or (400 <= status < 500 and status not in _GATEWAY)):
        code, message = _AUTH.get(status, ("validation_failed", reason_phrase(status)))
        headers += [("x-sb-error-code", code), ("x-supabase-api-version", "2024-01-01")]
        return json_answer(status, {"code": code, "message": message}, headers)
    if path.startswith("/rest/v1/") and status in _REST:
        code, message, details = _REST[status]
        body = {"code": code, "details": details, "hint": None, "message": message}
        return json_answer(status, body, [*headers, ("proxy-status", f"PostgREST; error={code}")])
    if path.startswith("/storage/v1/") and status not in _GATEWAY:
        # storage answers its errors with HTTP 400 and the real status in statusCode, but a 5xx
        # with its own status (what the sandbox's storage_error also does)
        error = {500: "internal"}.get(status, reason_phrase(status).lower().replace(" ", "_"))
        body = {"statusCode": str(status), "error": error, "message": reason_phrase(status)}
        return json_answer(status if status >= 500 else 400, body, headers)
    message = _GATEWAY.get(status) or reason_phrase(status)
    return json_answer(status, {"message": message}, headers)


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


_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _error_code(response: RecordedResponse) -> str | None:
    """GoTrue's ``x-sb-error-code`` / ``code``, PostgREST's ``code``, storage's ``error``."""
    header = response.header("x-sb-error-code")
    if header:
        return header
    body = json_or_none(decode_body(response.body, response.headers))
    if not isinstance(body, dict):
        return None
    code = body.get("code") if isinstance(body.get("code"), str) else body.get("error")
    # a machine code (42501, PGRST301, InvalidJWT); free text (an edge function's own
    # "document <id> not found") would make one endpoint per message
    return code if isinstance(code, str) and _CODE.fullmatch(code) else None


SUPABASE = ServiceProfile(
    name="supabase",
    hosts=("*.supabase.co", "supabase.sandbox.contracttape.test"),
    routes=(
        Route("POST", "/auth/v1/signup"),
        Route("POST", "/auth/v1/token", _grant),
        Route("GET", "/auth/v1/user"),
        Route("PUT", "/auth/v1/user"),
        Route("POST", "/auth/v1/logout"),
        Route("DELETE", "/auth/v1/admin/users/{id}"),
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
        Route("GET", "/storage/v1/object/{bucket}/{path*}"),  # storage-py's download()
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
    # the SDK's "supabase-py/2.34.1; platform=Linux; platform-version=<kernel build>; ...":
    # machine noise (the SDK version is in the cassette's provenance)
    noise_headers=frozenset({"x-client-info"}),
    # postgrest-py writes an upsert's or insert's ``columns`` from a set: its order changes
    # from one Python process to the next (string hashing is salted)
    unordered_params=frozenset({"columns"}),
    # PostgREST's schema profiles and storage's upsert change what the server answers
    matched_headers=frozenset({"x-upsert", "accept-profile", "content-profile"}),
    secret_headers=frozenset({"x-client-info-secret", "x-supabase-api-key"}),
    distributions=("supabase",),
    fault_answer=_fault_answer,
    error_code=_error_code,
)
