"""multipart/form-data bodies split into parts (stdlib email parser), for matching and pricing."""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    name: str
    filename: str
    content_type: str
    data: bytes


def parse(body: bytes, content_type: str) -> list[Part] | None:
    """The parts of a multipart body in order, or None if it is not one."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        return None
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        parts.append(
            Part(
                name=str(part.get_param("name", header="content-disposition") or ""),
                filename=str(part.get_filename() or ""),
                content_type=part.get_content_type(),
                data=payload if isinstance(payload, bytes) else b"",
            )
        )
    return parts
