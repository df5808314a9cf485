"""Object keys and bucket names as real Supabase storage accepts them, and where their bytes live.

Storage validates keys against S3's safe characters (``isValidKey`` in storage-api's
``limits.ts``); on top of that no segment may be empty, ``.`` or ``..`` and a key is at most
1,024 characters. The file holding an object's bytes is derived only from the *validated*
(bucket, key) pair, by hashing, so no key can name a file outside its own slot whatever it
contains, and RLS on the row is the only thing that decides who reaches it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from contracttape.sandbox.errors import ServiceError
from contracttape.sandbox.supabase.errors import storage_error

MAX_KEY_LENGTH = 1024
MAX_BUCKET_LENGTH = 100
_KEY_CHARS = re.compile(r"[A-Za-z0-9_/!\-.*'() &$@=;:+,?]*")
_BUCKET_CHARS = re.compile(r"[A-Za-z0-9_!\-.*'() &$@=;:+,?]+")


def invalid_key(key: object) -> ServiceError:
    return storage_error(400, "InvalidKey", "invalid_key", f"Invalid key: {key}")


def object_key(key: object) -> str:
    """``key`` if storage would accept it as an object name, else storage's 400 InvalidKey."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise invalid_key(key if isinstance(key, str) else type(key).__name__)
    if not _KEY_CHARS.fullmatch(key) or any(s in ("", ".", "..") for s in key.split("/")):
        raise invalid_key(key)
    return key


def bucket_name(bucket: object) -> str:
    if (
        not isinstance(bucket, str)
        or len(bucket) > MAX_BUCKET_LENGTH
        or not _BUCKET_CHARS.fullmatch(bucket)
        or bucket in (".", "..")
    ):
        raise storage_error(400, "InvalidBucketName", "invalid_bucket_name", f"Bucket name invalid: {bucket}")
    return bucket


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bucket_dir(root: Path, bucket: str) -> Path:
    return root / _digest(bucket_name(bucket))


def object_file(root: Path, bucket: str, key: str) -> Path:
    """The one file that may hold (bucket, key): ``root/<sha256(bucket)>/<sha256(key)>``."""
    return bucket_dir(root, bucket) / _digest(object_key(key))


def keys_in(body: dict[str, Any], *names: str) -> tuple[str, ...]:
    """Several keys of a JSON body, each validated (``sourceKey``, ``destinationKey``...)."""
    return tuple(object_key(body.get(name)) for name in names)
