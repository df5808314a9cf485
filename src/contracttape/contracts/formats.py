"""String formats contracttape recognises in samples (JSON Schema ``format`` / ``contentEncoding``)."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


def detect(value: str) -> str | None:
    """The one format a string has (``base64`` means contentEncoding), or None."""
    if _UUID.match(value):
        return "uuid"
    if _DATE_TIME.match(value):
        return "date-time"
    if _DATE.match(value):
        return "date"
    if _EMAIL.match(value):
        return "email"
    if value.startswith(("http://", "https://")) and urlsplit(value).netloc:
        return "uri"
    if len(value) >= 16 and len(value) % 4 == 0 and _BASE64.match(value) and _looks_encoded(value):
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        return "base64"
    return None


def _looks_encoded(value: str) -> bool:
    # Words and identifiers are valid base64 too; demand the mix of cases and digits or
    # symbols that encoded bytes show.
    return (
        any(c.isdigit() or c in "+/=" for c in value)
        and any(c.isupper() for c in value)
        and any(c.islower() for c in value)
    )


# Keys that look generated (ids), for recognising maps with dynamic keys.
_ID_KEY = re.compile(r"^(?:\d+|[0-9a-fA-F]{8,}|[0-9a-fA-F-]{36}|[a-z]+[-_](?=[A-Za-z]*\d)[A-Za-z0-9]{6,})$")


def is_id_like(key: str) -> bool:
    return bool(_ID_KEY.match(key))
