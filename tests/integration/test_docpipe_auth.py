"""Auth as docpipe's users meet it: sign up, log in, refresh, a wrong password; and the upload
API refusing a caller without a valid token."""

from __future__ import annotations

import pytest
from supabase_auth.errors import AuthApiError

from contracttape import TapeSession
from tests.integration.docpipe_kit import PASSWORD, running_app, settings_for, sign_up, supabase

pytestmark = pytest.mark.contracttape


def test_signup_login_refresh_and_wrong_password(docpipe_env: dict[str, str], tape: TapeSession) -> None:
    user = sign_up(docpipe_env, "auth@example.com")
    with supabase(docpipe_env) as client:
        login = client.auth.sign_in_with_password({"email": user.email, "password": PASSWORD})
        assert login.user is not None
        assert login.user.id == user.id
        assert login.session is not None
        assert login.session.token_type == "bearer"
        refreshed = client.auth.refresh_session(login.session.refresh_token)
        assert refreshed.session is not None
        if not tape.replaying:  # cassettes hold refresh tokens redacted
            assert refreshed.session.refresh_token != login.session.refresh_token  # rotated
        assert client.auth.get_user(refreshed.session.access_token).user.email == user.email
        with pytest.raises(AuthApiError) as wrong:
            client.auth.sign_in_with_password({"email": user.email, "password": "not the password"})
    assert wrong.value.status == 400
    assert wrong.value.message == "Invalid login credentials"


async def test_the_api_wants_a_signed_in_user(docpipe_env: dict[str, str]) -> None:
    user = sign_up(docpipe_env, "api-auth@example.com")
    async with running_app(settings_for(docpipe_env)) as app:
        missing = await app.http.post("/documents", json={"filename": "a.pdf"})
        assert missing.status_code == 401
        assert "Authorization: Bearer" in missing.json()["error"]["message"]
        forged = user.token.rsplit(".", 1)[0] + ".forged-signature"
        refused = await app.http.post(
            "/documents", json={"filename": "a.pdf"}, headers={"Authorization": f"Bearer {forged}"}
        )
        assert refused.status_code == 502  # Supabase refused the token: nothing was created
        assert refused.json()["error"]["step"] == "create document"
        bad_name = await app.http.post("/documents", json={"filename": "../etc/passwd"}, headers=user.auth)
        assert bad_name.status_code == 400
        # malformed requests: one clear 400, and nothing is sent to any service (the cassette
        # holds no call for them, so replay would miss if one were made)
        for body in (b"{not json", b"[1, 2]", b'{"filename": 7}', b""):
            bad = await app.http.post(
                "/documents", content=body, headers={**user.auth, "content-type": "application/json"}
            )
            assert bad.status_code == 400, body
            assert bad.json()["error"]["step"] == "request"
        for query in ({}, {"q": " "}, {"q": "x", "k": "many"}):
            bad = await app.http.get("/search", params=query, headers=user.auth)
            assert bad.status_code == 400, query
            assert bad.json()["error"]["step"] == "search"
