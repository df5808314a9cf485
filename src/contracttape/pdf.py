"""PDF documents: the one place that opens them (pypdf), counts their pages, and writes tiny
ones for tests and examples."""

from __future__ import annotations

import io
import logging
from typing import Any

UNREADABLE = (ValueError, KeyError, TypeError, OSError)  # plus pypdf's PdfReadError


class PdfUnreadable(Exception):
    """The bytes are not a PDF pypdf can read."""


def open_pdf(data: bytes) -> Any:
    """A pypdf ``PdfReader`` over ``data``, or ``PdfUnreadable``."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        return PdfReader(io.BytesIO(data))
    except (PdfReadError, *UNREADABLE) as exc:
        raise PdfUnreadable(str(exc)) from exc


def page_count(data: bytes) -> int:
    """Pages in a PDF (at least 1, so a document that cannot be read is never estimated at 0)."""
    try:
        return max(1, len(open_pdf(data).pages))
    except (PdfUnreadable, *UNREADABLE):
        return 1


def make_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one page per string (Helvetica, one line of text per input line).

    Characters outside latin-1 become ``?`` (the standard Type 1 fonts cannot show them)."""
    objects: list[bytes] = []
    font_id = 3
    page_ids = []
    for number, text in enumerate(pages):
        lines = text.split("\n")
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1", "replace")  # Helvetica: latin-1 text only
        content_id = 4 + 2 * number
        page_id = content_id + 1
        page_ids.append(page_id)
        objects.append(
            b"%d 0 obj\n<< /Length %d >>\nstream\n" % (content_id, len(stream))
            + stream
            + b"\nendstream\nendobj\n"
        )
        objects.append(
            b"%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>\nendobj\n" % (page_id, content_id, font_id)
        )
    kids = " ".join(f"{p} 0 R" for p in page_ids).encode()
    head = [
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        b"2 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n" % (kids, len(page_ids)),
        b"3 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for obj in head + objects:
        offsets.append(len(body))
        body += obj
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    body += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref)
    return body
