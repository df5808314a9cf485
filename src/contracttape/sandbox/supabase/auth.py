"""GoTrue-compatible auth (``/auth/v1``): signup, password and refresh-token grants, user, logout."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracttape.sandbox import jsonbody
from contracttape.sandbox.http import bearer
from contracttape.sandbox.supabase.context import Project
from contracttape.sandbox.supabase.errors import auth_error
from contracttape.sandbox.supabase.signing import InvalidToken

ACCESS_TOKEN_SECONDS = 3600
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    _, salt, digest = stored.split("$")
    again = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(again, base64.b64decode(digest))


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def user_json(row: dict[str, Any], revision: int = 1) -> dict[str, Any]:
    created = _iso(row["created_at"])
    user = {
        "id": str(row["id"]),
        "aud": "authenticated",
        "role": "authenticated",
        "email": row["email"],
        "email_confirmed_at": created,
        "phone": "",
        "confirmed_at": created,
        "last_sign_in_at": _iso(row.get("last_sign_in_at")),
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": row.get("raw_user_meta_data") or {},
        "identities": [],
        "created_at": created,
        "updated_at": _iso(row["updated_at"]),
        "is_anonymous": False,
    }
    if revision == 2:
        del user["is_anonymous"]  # revision 2: a field removed
        user["last_sign_in_at"] = None  # revision 2: a field made nullable
    return user


class AuthService:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.routes = [
            Route("/signup", self.signup, methods=["POST"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/user", self.user, methods=["GET"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/admin/users/{id}", self.admin_delete_user, methods=["DELETE"]),
        ]

    async def _body(self, request: Request) -> dict[str, Any]:
        self.project.require_api_key(request)
        try:
            body = jsonbody.loads(await request.body() or b"{}")
        except ValueError:
            raise auth_error(400, "bad_json", "Could not parse request body as JSON") from None
        if not isinstance(body, dict):
            raise auth_error(400, "bad_json", "Could not parse request body as JSON")
        return body

    def _session(self, user: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time())
        session_id = str(uuid.uuid4())
        public = user_json(user, self.project.revision)
        claims = {
            "iss": f"{self.project.base_url}/auth/v1",
            "sub": public["id"],
            "aud": "authenticated",
            "exp": now + ACCESS_TOKEN_SECONDS,
            "iat": now,
            "email": user["email"],
            "phone": "",
            "app_metadata": public["app_metadata"],
            "user_metadata": public["user_metadata"],
            "role": "authenticated",
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": now}],
            "session_id": session_id,
            "is_anonymous": False,
        }
        refresh = secrets.token_urlsafe(12)
        with self.project.db.admin() as cur:
            cur.execute(
                "insert into auth.refresh_tokens (token, user_id, session_id) values (%s, %s, %s)",
                (refresh, user["id"], session_id),
            )
            cur.execute(
                "update auth.users set last_sign_in_at = now() where id = %s returning *", (user["id"],)
            )
            fresh = cur.fetchone() or user
        session = {
            "access_token": self.project.signer.sign(claims),
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "expires_at": now + ACCESS_TOKEN_SECONDS,
            "refresh_token": refresh,
            "user": user_json(fresh, self.project.revision),
        }
        if self.project.revision == 2:
            session["expires_in"] = str(ACCESS_TOKEN_SECONDS)  # revision 2: a type changed
            session["token_type"] = "Bearer"  # revision 2: an enum value added
        return session

    async def signup(self, request: Request) -> Response:
        body = await self._body(request)
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not _EMAIL.match(email):
            raise auth_error(400, "validation_failed", "Unable to validate email address: invalid format")
        if not isinstance(password, str) or len(password) < 6:
            raise auth_error(422, "weak_password", "Password should be at least 6 characters.")
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        with self.project.db.admin() as cur:
            cur.execute("select 1 from auth.users where email = %s", (email.lower(),))
            if cur.fetchone():
                raise auth_error(422, "user_already_exists", "User already registered")
            cur.execute(
                "insert into auth.users (email, encrypted_password, raw_user_meta_data) "
                "values (%s, %s, %s) returning *",
                (email.lower(), hash_password(password), json.dumps(data)),
            )
            user = cur.fetchone()
        assert user is not None
        return JSONResponse(self._session(user))

    async def token(self, request: Request) -> Response:
        body = await self._body(request)
        grant = request.query_params.get("grant_type")
        if grant == "password":
            email, password = str(body.get("email") or "").lower(), body.get("password")
            with self.project.db.admin() as cur:
                cur.execute("select * from auth.users where email = %s", (email,))
                user = cur.fetchone()
            if (
                user is None
                or not isinstance(password, str)
                or not check_password(password, user["encrypted_password"])
            ):
                raise auth_error(400, "invalid_credentials", "Invalid login credentials")
            return JSONResponse(self._session(user))
        if grant == "refresh_token":
            token = body.get("refresh_token")
            if not isinstance(token, str) or not token:
                raise auth_error(400, "validation_failed", "refresh_token must be a non-empty string")
            with self.project.db.admin() as cur:
                cur.execute(
                    "update auth.refresh_tokens set revoked = true "
                    "where token = %s and not revoked returning user_id",
                    (token,),
                )
                found = cur.fetchone()
                if found is None:
                    raise auth_error(
                        400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                    )
                cur.execute("select * from auth.users where id = %s", (found["user_id"],))
                user = cur.fetchone()
            assert user is not None
            return JSONResponse(self._session(user))
        raise auth_error(400, "unsupported_grant_type", f"unsupported_grant_type: {grant!r}")

    def _user_claims(self, request: Request) -> dict[str, Any]:
        self.project.require_api_key(request)
        token = bearer(request.headers)
        if token is None:
            raise auth_error(401, "no_authorization", "This endpoint requires a Bearer token")
        try:
            claims = self.project.signer.verify(token)
        except InvalidToken as exc:
            raise auth_error(
                403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc}"
            ) from None
        if claims.get("role") != "authenticated" or not claims.get("sub"):
            raise auth_error(403, "bad_jwt", "invalid claim: missing sub claim")
        return claims

    async def user(self, request: Request) -> Response:
        claims = self._user_claims(request)
        with self.project.db.admin() as cur:
            cur.execute("select * from auth.users where id = %s", (claims["sub"],))
            user = cur.fetchone()
        if user is None:
            raise auth_error(403, "user_not_found", "User from sub claim in JWT does not exist")
        return JSONResponse(user_json(user, self.project.revision))

    async def admin_delete_user(self, request: Request) -> Response:
        """GoTrue's admin delete (service role only): ``{}``; rows that reference ``auth.users``
        go as their foreign keys say (``on delete cascade`` in docpipe's migration)."""
        try:
            role, _ = self.project.caller(request)
        except InvalidToken:
            raise auth_error(401, "bad_jwt", "invalid JWT: unable to parse or verify signature") from None
        if role != "service_role":
            raise auth_error(403, "not_admin", "User not allowed")
        with self.project.db.admin() as cur:
            cur.execute(
                "delete from auth.users where id::text = %s returning id", (request.path_params["id"],)
            )
            deleted = cur.fetchone()
        if deleted is None:
            raise auth_error(404, "user_not_found", "User not found")
        return JSONResponse({})

    async def logout(self, request: Request) -> Response:
        claims = self._user_claims(request)
        with self.project.db.admin() as cur:
            cur.execute(
                "update auth.refresh_tokens set revoked = true where session_id = %s",
                (claims.get("session_id"),),
            )
        return Response(status_code=204)
