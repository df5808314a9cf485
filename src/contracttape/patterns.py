"""What a secret looks like: the patterns shared by redaction and by the scanner.

Each pattern has a stable name, used in placeholders (``<redacted:openai-key>``) and in scan
reports. Redaction replaces every match before anything reaches disk; the scanner proves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A JWT: base64url header and payload that decode to JSON objects (so they start "eyJ"),
# then a signature. contracttape keeps header and payload (clients decode them) and replaces
# the signature with this marker, which makes the token harmless and recognisable.
REDACTED_SIGNATURE = "contracttape-redacted"
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class SecretPattern:
    name: str
    regex: re.Pattern[str]
    # Redaction applies the pattern to bodies; some scan-only patterns (e.g. a PEM header)
    # are evidence of a leak but have no meaningful in-place replacement.
    redact: bool = True


def _p(name: str, pattern: str, redact: bool = True) -> SecretPattern:
    return SecretPattern(name, re.compile(pattern), redact)


SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    _p("anthropic-key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    _p("openai-key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    _p("llamacloud-key", r"\bllx-[A-Za-z0-9_-]{20,}"),
    _p("supabase-secret-key", r"\bsb_secret_[A-Za-z0-9_-]{16,}"),
    _p("supabase-access-token", r"\bsbp_[a-f0-9]{40}\b"),
    _p("aws-access-key-id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    _p("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    _p("gitlab-token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    _p("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    _p("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    _p("stripe-key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    _p("huggingface-token", r"\bhf_[A-Za-z0-9]{30,}\b"),
    _p("sendgrid-key", r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
    _p("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    _p("private-key-block", r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |PGP )?PRIVATE KEY( BLOCK)?-----", False),
    _p("url-credentials", r"\b[a-z][a-z0-9+.-]*://[^\s/:@<>\"']+:[^\s/@<>\"']{3,}@[^\s/]+"),
)

# Header names whose values are credentials, on requests and responses alike.
SECRET_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "apikey",
        "api-key",
        "x-api-key",
        "cookie",
        "set-cookie",
        "openai-organization",
        "openai-project",
        "x-client-info-secret",
        "x-supabase-api-key",
    }
)

# Query parameters whose values are credentials (signed-URL tokens, API keys in URLs).
SECRET_QUERY_PARAMS: frozenset[str] = frozenset(
    {"token", "apikey", "api_key", "key", "access_token", "refresh_token", "signature", "sig"}
)

# JSON keys (in request and response bodies) whose values are credentials.
SECRET_BODY_KEYS: frozenset[str] = frozenset(
    {
        "access_token",
        "refresh_token",
        "provider_token",
        "provider_refresh_token",
        "id_token",
        "password",
        "api_key",
        "apikey",
        "client_secret",
        "secret",
        "service_role_key",
        "webhook_secret",
    }
)


def placeholder(kind: str) -> str:
    return f"<redacted:{kind}>"


PLACEHOLDER_RE = re.compile(r"<redacted:[a-z0-9_-]+>")
