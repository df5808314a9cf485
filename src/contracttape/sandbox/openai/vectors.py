"""Deterministic, content-derived unit vectors: texts that share words land near each other."""

from __future__ import annotations

import hashlib
import itertools
import math
import re

_WORD = re.compile(r"\w+", re.UNICODE)


def _features(text: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    grams = [f"{a} {b}" for a, b in itertools.pairwise(words)]
    return words + grams or [text]


def embed(text: str, dims: int) -> list[float]:
    """Feature hashing of words and word pairs into ``dims`` signed buckets, L2-normalised."""
    vector = [0.0] * dims
    for feature in _features(text):
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=16).digest()
        for i in range(0, 16, 4):  # four buckets per feature spread its weight
            bucket = int.from_bytes(digest[i : i + 3], "little") % dims
            vector[bucket] += 1.0 if digest[i + 3] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
