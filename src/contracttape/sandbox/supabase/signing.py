"""JWTs of the Supabase sandbox: project keys (anon, service_role), user access tokens, and
storage URL tokens, all HS256 with the sandbox's secret (as legacy Supabase projects do)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

TEN_YEARS = 10 * 365 * 24 * 3600


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Signer:
    secret: str

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def verify(self, token: str, audience: str | None = None) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                options={"verify_aud": audience is not None},
                audience=audience,
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("jwt expired") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"invalid JWT: {exc}") from exc
        return claims

    def project_key(self, role: str) -> str:
        now = int(time.time())
        return self.sign(
            {"iss": "supabase", "ref": "sandbox", "role": role, "iat": now, "exp": now + TEN_YEARS}
        )
