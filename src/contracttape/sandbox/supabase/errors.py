"""Error responses in the three shapes Supabase's services use."""

from __future__ import annotations

from contracttape.sandbox.errors import ServiceError


def auth_error(status: int, code: str, message: str) -> ServiceError:
    """GoTrue with ``X-Supabase-Api-Version: 2024-01-01``: ``{"code", "message"}`` + x-sb-error-code."""
    return ServiceError(
        status,
        {"code": code, "message": message},
        {"x-sb-error-code": code, "x-supabase-api-version": "2024-01-01"},
    )


def rest_error(
    status: int,
    code: str,
    message: str,
    details: str | None = None,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
) -> ServiceError:
    """PostgREST: ``{"code", "details", "hint", "message"}``."""
    return ServiceError(status, {"code": code, "details": details, "hint": hint, "message": message}, headers)


def storage_error(status: int, code: str, error: str, message: str) -> ServiceError:
    """Storage: HTTP 400 for every non-500 error, the real code as a string in the body."""
    http = status if status >= 500 else 400
    return ServiceError(http, {"statusCode": str(status), "code": code, "error": error, "message": message})


def missing_api_key() -> ServiceError:
    return ServiceError(
        401,
        {
            "message": "No API key found in request",
            "hint": "No `apikey` request header or url param was found.",
        },
        {"sb-error-code": "UNAUTHORIZED_MISSING_API_KEY"},
    )
