"""The secret forms contracttape must never write, and the look-alikes it must leave alone.

Shared by the redaction tests, the scanner tests and the end-to-end recording tests (every form
is sent through httpx, httpx2 and requests to a loopback server that mirrors it back, so each
crosses the engine as a request and as a response). Every secret is built at run time, so this
file itself scans clean.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode


def secret(label: str, length: int = 28) -> str:
    """A random-looking, deterministic credential (mixed case and digits)."""
    raw = base64.b64encode(hashlib.sha256(label.encode()).digest()).decode()
    return ("Q7" + raw.replace("+", "x").replace("/", "Y").replace("=", ""))[:length]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict[str, object], alg: str = "HS256", signed: bool = True) -> str:
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}." + (
        b64url(hashlib.sha256(head.encode() + body.encode()).digest()) if signed else ""
    )


def openai_key(label: str) -> str:
    return "sk-" + "proj-" + secret(label, 40)


def pem(label: str) -> str:
    lines = [secret(f"{label}{i}", 64) for i in range(3)]
    return "-----BEGIN " + "PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END " + "PRIVATE KEY-----"


@dataclass(frozen=True)
class Form:
    """One planted secret: how it is sent, and the fragments that must not reach disk."""

    name: str
    container: str  # json | query | header | form | multipart | sse | text | jwt | url
    content_type: str = "application/json"
    body: bytes = b""
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    fragments: tuple[str, ...] = field(default=())


def _json(name: str, build: Callable[[str], object], *fragments: str) -> Form:
    s = secret(name)
    return Form(name, "json", body=json.dumps(build(s)).encode(), fragments=(s, *fragments))


def _query(name: str, param: str, value: str | None = None) -> Form:
    s = value or secret(name)
    return Form(name, "query", params=((param, s), ("page", "2")), body=b"{}", fragments=(s,))


def _header(name: str, header: str, value: Callable[[str], str] = lambda s: s) -> Form:
    s = secret(name)
    return Form(name, "header", headers=((header, value(s)),), body=b"{}", fragments=(s,))


def _text(name: str, ctype: str, build: Callable[[str], str], value: str | None = None) -> Form:
    s = value or secret(name)
    return Form(name, "text", content_type=ctype, body=build(s).encode(), fragments=(s,))


def _multipart(name: str, parts: list[tuple[str, str, str, str]], s: str) -> Form:
    """parts: (field name, filename, content type, content)."""
    boundary = "corpusboundary" + hashlib.sha256(name.encode()).hexdigest()[:8]
    chunks = []
    for part_name, filename, ctype, content in parts:
        disposition = f'form-data; name="{part_name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"Content-Disposition: {disposition}\r\n" + (f"Content-Type: {ctype}\r\n" if ctype else "")
        chunks.append(f"--{boundary}\r\n{head}\r\n{content}\r\n")
    body = ("".join(chunks) + f"--{boundary}--\r\n").encode()
    return Form(name, "multipart", f"multipart/form-data; boundary={boundary}", body, fragments=(s,))


def _sse(name: str, events: Callable[[str], list[object]], value: str | None = None) -> Form:
    s = value or secret(name)
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events(s)) + "data: [DONE]\n\n"
    return Form(name, "sse", "text/event-stream", body.encode(), fragments=(s,))


def _forms() -> list[Form]:
    k = openai_key
    forms = [
        # JSON keys by meaning, at any depth
        *(
            _json(f"json-{key}", lambda s, key=key: {"user": "ada", key: s})
            for key in (
                "token",
                "accessToken",
                "refreshToken",
                "sessionToken",
                "private_key",
                "password",
                "api_key",
                "apiKey",
                "client_secret",
                "secret",
                "access_token",
                "refresh_token",
                "id_token",
                "webhook_secret",
                "x-api-key",
                "Authorization",
                "auth",
                "passphrase",
                "signature",
                "service_role_key",
                "csrfToken",
                "PrivateKey",
                "aws_secret_access_key",
                "clientSecret",
                "credential",
            )
        ),
        _json("json-deep", lambda s: {"a": {"b": [{"credentials": {"password": s}}]}}),
        _json("json-in-string", lambda s: {"payload": json.dumps({"password": s})}),
        _json("json-in-string-twice", lambda s: {"p": json.dumps({"q": json.dumps({"token": s})})}),
        _json("json-cookie", lambda s: {"cookie": f"sid={s}; Path=/"}),
        _json("json-named-value", lambda s: {"env": [{"name": "DB_PASSWORD", "value": s}]}),
        _json("json-key-value-tag", lambda s: {"Tags": [{"Key": "api_key", "Value": s}]}),
        Form(
            "json-openai-key-in-prose",
            "json",
            body=json.dumps({"note": f"use {k('prose')} for now"}).encode(),
            fragments=(k("prose"),),
        ),
        Form(
            "json-pem",
            "json",
            body=json.dumps({"pem": pem("json-pem")}).encode(),
            fragments=(secret("json-pem0", 64),),
        ),
        # JWT claims are redacted like any JSON (the payload is kept for clients)
        Form(
            "jwt-claim-openai-key",
            "jwt",
            body=json.dumps({"data": jwt({"sub": "u1", "api_key": k("claim")})}).encode(),
            fragments=(k("claim"),),
        ),
        Form(
            "jwt-claim-nested-password",
            "jwt",
            body=json.dumps({"id_token": jwt({"sub": "u1", "ctx": {"password": secret("jwtpw")}})}).encode(),
            fragments=(secret("jwtpw"),),
        ),
        # query parameters by meaning
        *(
            _query(f"query-{param}", param)
            for param in (
                "password",
                "X-Amz-Signature",
                "X-Amz-Security-Token",
                "access_token",
                "key",
                "sig",
                "client_secret",
                "apiKey",
                "token",
                "refresh_token",
            )
        ),
        _query("query-aws-credential", "X-Amz-Credential", "AKIA" + "Q7ZX2ABCD3EFGH4J/20260101/us-east-1/s3"),
        _query("query-llamacloud-key-in-value", "q", "llx-" + secret("llxq", 40)),
        # headers by meaning (sent, and mirrored back as response headers)
        *(
            _header(f"header-{h}", h)
            for h in (
                "x-auth-token",
                "x-api-key",
                "api-key",
                "x-session-token",
                "x-goog-api-key",
                "x-csrf-token",
            )
        ),
        _header("header-bearer-opaque", "authorization", lambda s: f"Bearer {s}"),
        _header("header-basic", "authorization", lambda s: f"Basic {s}"),
        _header("header-cookie", "cookie", lambda s: f"sid={s}"),
        # form fields
        *(
            Form(
                f"form-{f}",
                "form",
                "application/x-www-form-urlencoded",
                urlencode({"user": "ada", f: secret(f"form-{f}")}).encode(),
                fragments=(secret(f"form-{f}"),),
            )
            for f in ("password", "client_secret", "refresh_token")
        ),
        # multipart fields and parts
        _multipart(
            "multipart-password",
            [("user", "", "", "ada"), ("password", "", "", secret("mp1"))],
            secret("mp1"),
        ),
        _multipart(
            "multipart-api-key",
            [("api_key", "", "", secret("mp2")), ("file", "a.pdf", "application/pdf", "%PDF-1.4 x")],
            secret("mp2"),
        ),
        _multipart(
            "multipart-json-part",
            [("configuration", "", "", json.dumps({"token": secret("mp3")}))],
            secret("mp3"),
        ),
        _multipart(
            "multipart-text-file",
            [("file", "notes.txt", "text/plain", f"password={secret('mp4')}")],
            secret("mp4"),
        ),
        # server-sent events
        _sse("sse-api-key-field", lambda s: [{"type": "delta", "api_key": s}]),
        _sse(
            "sse-openai-key-in-content",
            lambda s: [{"choices": [{"delta": {"content": f"key {s}"}}]}],
            k("sse"),
        ),
        _sse("sse-session-token", lambda s: [{"session": {"session_token": s}}]),
        # text bodies
        _text(
            "text-authorization-bearer",
            "text/plain",
            lambda s: f"GET / HTTP/1.1\nAuthorization: Bearer {s}\n",
        ),
        _text("text-leading-space-json", "text/plain", lambda s: ' {"password": "' + s + '"}'),
        _text("text-form-pairs", "text/plain", lambda s: f"user=ada&password={s}"),
        _text("text-pem", "text/plain", lambda s: pem("text-pem"), secret("text-pem0", 64)),
        _text("text-openai-key", "text/plain", lambda s: f"key={s}", k("text")),
        _text("text-url-credentials", "text/plain", lambda s: f"dsn: postgres://app:{s}@db.internal:5432/x"),
        _text("text-log-line", "text/plain", lambda s: f'level=info msg="login" password="{s}"'),
    ]
    return forms


SECRET_FORMS: tuple[Form, ...] = tuple(_forms())

# Text that looks like a secret and is not: redaction leaves it as it is, the scanner is quiet.
BENIGN_JSON: tuple[tuple[str, object], ...] = (
    ("masked-password", {"password": "********"}),
    ("template-secret", {"secret": "${SECRET_FROM_ENV}"}),
    ("placeholder-token", {"token": "<your-token-here>"}),
    ("empty-password", {"password": ""}),
    ("null-password", {"password": None}),
    ("sklearn-model", {"model": "sk-learn-random-forest-classifier-v2"}),
    ("aws-region-word", {"region": "ASIAPACIFICNORTHEAST"}),
    ("bearer-prose", {"error": "Bearer authentication-required-for-this-resource"}),
    ("password-policy", {"hint": "Your password must be at least 12 characters and include a digit."}),
    ("token-usage", {"max_tokens": 4096, "prompt_tokens": 12, "total_tokens": 40}),
    ("token-type", {"token_type": "bearer", "expires_in": 3600}),
    ("storage-key", {"Key": "documents/7d3f/report.pdf", "Id": "0b8e0c8e-1c1e-4c3e-9d1e-1b2c3d4e5f60"}),
    ("session-id", {"session_id": "0b8e0c8e-1c1e-4c3e-9d1e-1b2c3d4e5f60"}),
    ("public-key", {"public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"}),
    ("tokenizer", {"tokenizer": "cl100k_base"}),
    ("password-length", {"password_min_length": 8, "password_required": True}),
    ("signature-alg", {"signature_algorithm": "HS256"}),
    ("auth-time", {"auth_time": 1767225600, "auth_method": "password"}),
    ("docs-url", {"url": "https://example.com/docs/authentication/api-keys"}),
    ("how-to", {"description": "Put the token in the Authorization header."}),
    ("embedding-model", {"model": "text-embedding-3-small", "encoding_format": "float"}),
    ("checksum", {"checksum": hashlib.sha256(b"x").hexdigest()}),
    ("ratelimit", {"x-ratelimit-remaining-tokens": "149984"}),
    ("amr", {"amr": [{"method": "password", "timestamp": 1767225600}]}),
    (
        "named-value",
        {"params": [{"name": "max_tokens", "value": "100"}, {"key": "token_type", "value": "x1"}]},
    ),
    ("unsigned-jwt", {"assertion": jwt({"sub": "u1"}, alg="none", signed=False)}),
)

# Lines the scanner must not flag (some are redacted by name all the same: a key named api_key
# is replaced whatever it holds, and a neutralised token keeps its claims).
BENIGN_LINES: tuple[str, ...] = (
    *(json.dumps(value) for _name, value in BENIGN_JSON),
    '"api_key": "key_id_0001"',
    '"token": "<redacted:token>"',
    "authorization: Bearer <redacted:authorization>",
    "access_token: " + jwt({"sub": "u"}).rsplit(".", 1)[0] + ".contracttape-redacted",
    "password: changeme",
    "Set OPENAI_API_KEY=sk-... in your environment",
    "client_secret = os.environ['CLIENT_SECRET']",
    'token_url: "https://auth.example.com/oauth/token"',
    "the signature is checked with the webhook secret",
    '"refresh_token": "<redacted:refresh_token>"',
)
