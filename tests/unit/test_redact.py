from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from contracttape.redact import PINNED_EXP, PINNED_IAT, Redactor, neutralise_jwt
from contracttape.run import redactor_for
from contracttape.secret_rules import REDACTED_SIGNATURE, SECRET_PATTERNS
from contracttape.services import default_catalogue

# One realistic example per secret pattern (built, not literal, so this file itself scans clean).
EXAMPLES = {
    "anthropic-key": "sk-ant-" + "api03-" + "x" * 30,
    "openai-key": "sk-" + "proj-" + "A1b2" * 10,
    "llamacloud-key": "llx-" + "Q" * 40,
    "supabase-secret-key": "sb_secret_" + "z" * 24,
    "supabase-access-token": "sbp_" + "ab12" * 10,
    "aws-access-key-id": "AKIA" + "IOSFODNN7ABCDEFG",
    "github-token": "ghp_" + "a" * 36,
    "gitlab-token": "glpat-" + "b" * 20,
    "slack-token": "xoxb-" + "123456789012-abc",
    "google-api-key": "AIza" + "c" * 35,
    "stripe-key": "sk_live_" + "d" * 24,
    "huggingface-token": "hf_" + "e" * 34,
    "sendgrid-key": "SG." + "f" * 22 + "." + "g" * 43,
    "npm-token": "npm_" + "h" * 36,
    "url-credentials": "postgres://admin:" + "pw-secret" + "@db.internal:5432/app",
    "private-key-block": "-----BEGIN "
    + "EC PRIVATE KEY-----\nMHcCAQEEI"
    + "x" * 40
    + "\n-----END EC PRIVATE KEY-----",
    "bearer-token": "Bearer " + "Zx81" * 6,
}


def jwt(claims: dict[str, object]) -> str:
    def enc(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc(claims)}.c2lnbmF0dXJlLXRoYXQtaXMtc2VjcmV0"


def test_every_redacting_pattern_has_an_example() -> None:
    assert {p.name for p in SECRET_PATTERNS if p.redact} == set(EXAMPLES)


@pytest.mark.parametrize(("name", "secret"), sorted(EXAMPLES.items()))
def test_patterns_are_replaced_in_text(name: str, secret: str) -> None:
    cleaned = Redactor().text(f"before {secret} after")
    assert secret not in cleaned
    assert f"<redacted:{name}>" in cleaned


def test_jwt_keeps_claims_loses_signature_and_pins_time() -> None:
    token = jwt({"sub": "u1", "role": "authenticated", "iat": 1800000000, "exp": 1800003600})
    neutral = neutralise_jwt(token)
    _header, payload, signature = neutral.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert signature == REDACTED_SIGNATURE
    assert claims == {"sub": "u1", "role": "authenticated", "iat": PINNED_IAT, "exp": PINNED_EXP}
    assert neutralise_jwt(neutral) == neutral  # idempotent: stored tokens match replayed ones


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("Authorization", "Bearer sk-" + "x" * 30, "Bearer <redacted:authorization>"),
        ("apikey", "anything", "<redacted:apikey>"),
        ("Cookie", "sid=1", "<redacted:cookie>"),
        ("set-cookie", "sid=1; HttpOnly", "<redacted:set-cookie>"),
        ("openai-organization", "org-123", "<redacted:openai-organization>"),
        ("openai-project", "proj_1", "<redacted:openai-project>"),
        ("x-custom", "sk-" + "y" * 30, "<redacted:openai-key>"),
        ("content-type", "application/json", "application/json"),
    ],
)
def test_headers(header: str, value: str, expected: str) -> None:
    # the built-in services' rules (openai-organization is OpenAI's) on top of the generic ones
    redactor = redactor_for(default_catalogue())
    assert redactor.headers(((header, value),)) == ((header, expected),)


def test_query_parameters_and_url_credentials() -> None:
    uri = Redactor().uri("https://user:pw12345@h.test/object/sign/b/a.pdf?token=abc.def&apikey=k&page=2")
    assert (
        uri
        == "https://<redacted:url-credentials>@h.test/object/sign/b/a.pdf?token=<redacted:token>&apikey=<redacted:apikey>&page=2"
    )


def test_json_keys_and_nested_strings() -> None:
    token = jwt({"sub": "u1", "exp": 1800003600})
    body = {
        "access_token": token,
        "refresh_token": "r3fr3sh",
        "user": {"password": "hunter2", "notes": ["key: llx-" + "k" * 30]},
        "expires_in": 3600,
    }
    cleaned = Redactor().json_value(body)
    assert cleaned["access_token"].endswith("." + REDACTED_SIGNATURE)
    assert cleaned["refresh_token"] == "<redacted:refresh_token>"
    assert cleaned["user"] == {"password": "<redacted:password>", "notes": ["key: <redacted:llamacloud-key>"]}
    assert cleaned["expires_in"] == 3600


def test_service_rules_extend_the_defaults() -> None:
    import re

    from contracttape.secret_rules import SecretPattern

    redactor = Redactor().extended(
        header_names=["X-Tenant-Secret"],
        body_keys=["badge"],
        patterns=[SecretPattern("acme-key", re.compile(r"acme_[0-9]{6}"))],
    )
    assert redactor.headers((("x-tenant-secret", "v"),)) == (
        ("x-tenant-secret", "<redacted:x-tenant-secret>"),
    )
    assert redactor.json_value({"badge": "1234", "k": "id acme_123456"}) == {
        "badge": "<redacted:badge>",
        "k": "id <redacted:acme-key>",
    }
    assert Redactor().json_value({"badge": "1234"}) == {"badge": "1234"}


@pytest.mark.parametrize(
    ("nodeid", "kept"),
    [
        ("tests/integration/test_polling_and_secrets.py::test_planted_secrets_never_replay", True),
        ("tests/unit/test_secret_store.py::TestVault::test_read[a-1]", True),
        (
            "tests/unit/test_redact.py::test_headers[Authorization-Bearer sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx]",
            False,
        ),
        ("tests/x.py::test_y[password=hunter2hunter2]", False),
    ],
)
def test_test_ids_in_run_records_hold_no_secret(nodeid: str, kept: bool) -> None:
    from contracttape.redact import redacted_test_id
    from contracttape.scan import scan_text

    written = redacted_test_id(nodeid)
    assert (written == nodeid) is kept
    assert list(scan_text(written, Path("run.json"))) == []
    if not kept:  # two different secret-bearing ids never collapse into one record
        assert written != redacted_test_id(nodeid + "x")
