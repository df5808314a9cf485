"""What every Supabase sandbox service shares: the database, the signer, the keys, the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from contracttape.sandbox.errors import ServiceError
from contracttape.sandbox.http import bearer
from contracttape.sandbox.supabase.db import Database
from contracttape.sandbox.supabase.errors import missing_api_key
from contracttape.sandbox.supabase.signing import InvalidToken, Signer


@dataclass
class Project:
    db: Database
    signer: Signer
    revision: int = 1
    base_url: str = "http://127.0.0.1"
    anon_key: str = field(init=False)
    service_role_key: str = field(init=False)

    def __post_init__(self) -> None:
        self.anon_key = self.signer.project_key("anon")
        self.service_role_key = self.signer.project_key("service_role")

    def require_api_key(self, request: Request) -> None:
        key = request.headers.get("apikey") or request.query_params.get("apikey")
        if not key:
            raise missing_api_key()
        if key not in (self.anon_key, self.service_role_key):
            raise ServiceError(
                401,
                {
                    "message": "Invalid API key",
                    "hint": "Double check your Supabase `anon` or `service_role` API key.",
                },
            )

    def caller(self, request: Request, invalid: type[Exception] | None = None) -> tuple[str, dict[str, Any]]:
        """(role, claims) of the caller: the Bearer JWT, or anon without one. Raises InvalidToken."""
        self.require_api_key(request)
        token = bearer(request.headers)
        if token is None:
            return "anon", {"role": "anon"}
        claims = self.signer.verify(token)
        role = claims.get("role")
        if role not in ("anon", "authenticated", "service_role"):
            raise InvalidToken(f"role {role!r} does not exist")
        return str(role), claims
