"""Chunking: bounded, complete, deterministic (property-based over arbitrary markdown)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from docpipe.chunking import chunk_markdown, count_tokens

words = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30
)
paragraphs = st.lists(words, min_size=1, max_size=40).map(" ".join)
blocks = st.one_of(paragraphs, paragraphs.map(lambda p: "# " + p[:40]))
documents = st.lists(blocks, min_size=0, max_size=12).map("\n\n".join)


def _letters(text: str) -> str:
    return re.sub(r"\s+", "", text)


@settings(max_examples=150, deadline=None)
@given(documents, st.integers(min_value=5, max_value=120))
def test_chunks_are_bounded_ordered_and_lose_nothing(markdown: str, limit: int) -> None:
    chunks = chunk_markdown(markdown, limit)
    assert [c.idx for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.content.strip()
        assert chunk.tokens == count_tokens(chunk.content)
        assert chunk.tokens <= limit + 2  # a cut block re-tokenises within a token or two
    assert _letters("".join(c.content for c in chunks)) == _letters(markdown)
    assert chunk_markdown(markdown, limit) == chunks  # a re-run makes the same chunks


def test_a_heading_starts_a_new_chunk() -> None:
    chunks = chunk_markdown("# One\n\nalpha\n\n# Two\n\nbeta", 200)
    assert [c.content for c in chunks] == ["# One\n\nalpha", "# Two\n\nbeta"]
