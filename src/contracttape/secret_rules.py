"""What a secret looks like: the patterns shared by redaction and by the scanner.

Each pattern has a stable name, used in placeholders (``<redacted:openai-key>``) and in scan
reports. Redaction replaces every match before anything reaches disk; the scanner proves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# A JWT: base64url header and payload that decode to JSON objects (so they start "eyJ"),
# then a signature. contracttape keeps header and payload (clients decode them) and replaces
# the signature with this marker, which makes the token harmless and recognisable.
REDACTED_SIGNATURE = "contracttape-redacted"
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class SecretPattern:
    name: str
    regex: re.Pattern[str]
    # Every built-in pattern redacts; a user's rule may be scan-only (evidence of a leak that has
    # no meaningful in-place replacement).
    redact: bool = True
    # Substrings one of which every match contains (case-sensitive). A text holding none of them
    # is not searched with this pattern at all, which is what makes redaction one cheap pass over
    # long values (a base64 vector, a document). Empty: not known, the text is always searched.
    literals: tuple[str, ...] = ()
    # Whether a match can be made of the base64 alphabet alone (A-Z a-z 0-9 + / =), so that a
    # base64 run (an embedding vector, a file's bytes) has to be searched for it. False only
    # where every match needs another character (a hyphen, a space); a user's rule: True.
    in_base64: bool = True


def _p(name: str, pattern: str, literals: tuple[str, ...], in_base64: bool = True) -> SecretPattern:
    return SecretPattern(name, re.compile(pattern), True, literals, in_base64)


SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    _p("anthropic-key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", ("sk-ant-",)),
    _p("openai-key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", ("sk-",)),
    _p("llamacloud-key", r"\bllx-[A-Za-z0-9_-]{20,}", ("llx-",)),
    _p("supabase-secret-key", r"\bsb_secret_[A-Za-z0-9_-]{16,}", ("sb_secret_",)),
    _p("supabase-access-token", r"\bsbp_[a-f0-9]{40}\b", ("sbp_",)),
    # AWS key ids are base32 and (almost always) carry a digit: "ASIAPACIFICNORTHEAST" is a word
    _p("aws-access-key-id", r"\b(?:AKIA|ASIA)(?=[A-Z2-7]*[2-7])[A-Z2-7]{16}\b", ("AKIA", "ASIA")),
    _p(
        "github-token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _p("gitlab-token", r"\bglpat-[A-Za-z0-9_-]{20,}", ("glpat-",)),
    _p("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", ("xox",), in_base64=False),  # a hyphen
    _p("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}\b", ("AIza",)),
    _p("stripe-key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}", ("k_live_", "k_test_")),
    _p("huggingface-token", r"\bhf_[A-Za-z0-9]{30,}\b", ("hf_",)),
    _p("sendgrid-key", r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}", ("SG.",)),
    _p("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b", ("npm_",)),
    # the whole block, up to its END line (or the end of the text when it was cut)
    _p(
        "private-key-block",
        r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----(?:.|\n)*?(?:-----END (?:[A-Z]+ )*PRIVATE KEY"
        r"(?: BLOCK)?-----|\Z)",
        ("-----BEGIN ",),
    ),
    _p("url-credentials", r"\b[a-z][a-z0-9+.-]*://[^\s/:@<>\"']+:[^\s/@<>\"']{3,}@[^\s/]+", ("://",)),
    # an opaque bearer credential in free text (headers are handled by name)
    _p(
        "bearer-token",
        r"\b[Bb]earer\s+(?!<redacted)[A-Za-z0-9._~+/=-]{16,}",
        ("Bearer", "bearer"),
        in_base64=False,  # a space
    ),
)
JWT_LITERALS = ("eyJ",)

# Patterns whose matches can also be ordinary words joined by hyphens ("sk-learn-random-forest-..."):
# a match counts only when the part after its prefix looks random (see ``looks_random``).
SHAPE_CHECKED = frozenset({"openai-key", "anthropic-key", "llamacloud-key", "gitlab-token", "bearer-token"})

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
    return f"<redacted:{_KIND_CHARS.sub('-', kind.lower())[:60]}>"


_KIND_CHARS = re.compile(r"[^a-z0-9_-]+")
PLACEHOLDER_RE = re.compile(r"<redacted:[a-z0-9_-]+>")


# -- names by meaning ---------------------------------------------------------------------------
#
# A field, parameter or header is a credential by what its name means, not by a fixed list:
# the name is split into words (case, camelCase and any separator normalised), and judged by
# its words. "accessToken", "X-Amz-Signature", "private_key", "x-auth-token", "client-secret"
# are secrets; "max_tokens", "token_type", "x-ratelimit-remaining-tokens", "auth_time",
# "session_id", "password_min_length" describe one and are not.

# A name containing one of these words names a secret...
SECRET_WORDS = frozenset(
    {
        "token",
        "secret",
        "secrets",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "passcode",
        "credential",
        "credentials",
        "signature",
        "sig",
        "cookie",
        "cookies",
        "session",
        "auth",
        "authorization",
        "apikey",
        "privatekey",
        "otp",
        "pin",
        "jwt",
        "bearer",
    }
)
# ...as does "key" after one of these qualifiers (api key, private key, x-api-key, ...).
KEY_QUALIFIERS = frozenset(
    {
        "api",
        "private",
        "secret",
        "access",
        "signing",
        "encryption",
        "master",
        "service",
        "role",
        "client",
        "auth",
        "session",
        "webhook",
        "license",
        "admin",
        "root",
        "x",
        "sb",
        "anon",
        "subscription",
        "app",
        "account",
        "hmac",
        "shared",
    }
)
# ...unless its last word says it only describes the secret (a type, a count, a time, an id).
DESCRIPTIVE_WORDS = frozenset(
    {
        "type",
        "types",
        "count",
        "counts",
        "in",
        "at",
        "time",
        "expires",
        "expiry",
        "exp",
        "length",
        "len",
        "limit",
        "limits",
        "min",
        "max",
        "policy",
        "required",
        "enabled",
        "method",
        "methods",
        "url",
        "uri",
        "endpoint",
        "hint",
        "label",
        "id",
        "ids",
        "name",
        "names",
        "usage",
        "format",
        "kind",
        "version",
        "status",
        "state",
        "mode",
        "strength",
        "set",
        "changed",
        "updated",
        "created",
        "reset",
        "scheme",
        "algorithm",
        "alg",
        "field",
        "fields",
        "param",
        "params",
        "header",
        "location",
        "path",
        "prefix",
        "suffix",
        "last4",
        "ttl",
        "timeout",
        "duration",
        "lifetime",
        "provider",
        "issuer",
        "scope",
        "scopes",
        "tokens",
    }
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")


def name_words(name: str) -> tuple[str, ...]:
    """``X-Amz-Signature`` -> ``(x, amz, signature)``; ``accessToken`` -> ``(access, token)``."""
    return tuple(w.lower() for w in _SEPARATORS.split(_CAMEL.sub(" ", name)) if w)


@lru_cache(maxsize=8192)
def is_secret_name(name: str) -> bool:
    """Whether a field, parameter or header of this name holds a credential."""
    words = name_words(name)
    if not words or words[-1] in DESCRIPTIVE_WORDS:
        return False
    if any(w in SECRET_WORDS for w in words):
        return True
    return any(w in ("key", "keys") and i > 0 and words[i - 1] in KEY_QUALIFIERS for i, w in enumerate(words))


# -- values by shape ------------------------------------------------------------------------------

# Values that stand in for a secret rather than being one: masks, templates, placeholders.
_PLACEHOLDER_VALUE = re.compile(
    r"^(?:"
    r"<redacted(?::[a-z0-9_-]+)?>"  # ours
    r"|\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\{\{[^}]*\}\}|%\([a-z_]+\)s|<[^<>]{1,60}>"  # templates
    r"|[*xX•.#-]{3,}"  # masks
    r"|\[?(?:redacted|hidden|masked|removed|filtered)\]?"
    r"|(?:changeme|placeholder|example|dummy|none|null|undefined|your[-_ ]?[a-z_ -]*)"
    r")$",
    re.IGNORECASE,
)


def is_placeholder_value(value: str) -> bool:
    return bool(_PLACEHOLDER_VALUE.match(value.strip()))


def _wordlike(segment: str) -> bool:
    return (
        len(segment) <= 3
        or (segment.isalpha() and (segment[1:].islower() or segment.isupper()) and len(segment) <= 16)
        or (segment.isdigit() and len(segment) <= 8)
    )


def looks_random(value: str) -> bool:
    """Whether a token looks machine-generated rather than made of words.

    ``sk-learn-random-forest-v2`` and ``authentication-required-for-this`` are words joined by
    separators; a key has long mixed segments (``sk-proj-A1b2...``, ``llx-QQQQ...``)."""
    segments = [s for s in re.split(r"[-_.~+/=]+", value) if s]
    return bool(segments) and not all(_wordlike(s) for s in segments)


_KEY_PREFIX = re.compile(r"^(?:[Bb]earer\s+|[a-z]+-(?:ant-|proj-|svcacct-|admin-)?)")


def is_secret_match(pattern_name: str, matched: str) -> bool:
    """Whether a pattern's match is a secret: for the patterns words can also match
    (``SHAPE_CHECKED``), only when what follows the prefix (``sk-``, ``Bearer``) looks random."""
    return pattern_name not in SHAPE_CHECKED or looks_random(_KEY_PREFIX.sub("", matched))


def postgres_address(url: str) -> str:
    """Where a PostgreSQL URL or ``key=value`` string points, for a message: host, port and
    database, never the password (in the user part, or as a ``password``/``sslpassword``
    parameter) nor any other parameter."""
    from psycopg import Error
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Error:
        return "the server it names"
    host, port, database = (str(parts.get(key) or "") for key in ("host", "port", "dbname"))
    address = f"{host}:{port}" if port else host
    return f"{address}/{database}" if database else (address or "the server it names")
