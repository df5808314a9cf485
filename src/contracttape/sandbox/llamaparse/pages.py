"""Text per page of an uploaded PDF, as LlamaParse extracts it, and its failure codes."""

from __future__ import annotations

from contracttape.pdf import UNREADABLE, PdfUnreadable, open_pdf


class ParseFailure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def extract_pages(data: bytes) -> list[str]:
    """Text of every page; ``ParseFailure`` for a non-PDF, an unreadable PDF, or no text at all."""
    if not data.lstrip()[:5] == b"%PDF-":
        raise ParseFailure("INVALID_FILE", "The uploaded file is not a valid PDF document.")
    try:
        pages = [(page.extract_text() or "").strip() for page in open_pdf(data).pages]
    except (PdfUnreadable, *UNREADABLE) as exc:
        raise ParseFailure("INVALID_FILE", f"The PDF could not be read: {exc}") from exc
    if not pages or not any(pages):
        raise ParseFailure("NO_DATA_FOUND_IN_FILE", "No text could be extracted from the document.")
    return pages
