"""Storage as docpipe uses it: signed upload and download URLs, object metadata, expiry, and the
bucket's size limit and MIME rules (docpipe's migration sets them; a real project gets the same)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from storage3.exceptions import StorageApiError

from contracttape import TapeSession
from tests.integration.docpipe_kit import pdf, running_app, settings_for, sign_up, supabase

pytestmark = pytest.mark.contracttape


async def test_signed_upload_then_signed_download_and_metadata(docpipe_env: dict[str, str]) -> None:
    user = sign_up(docpipe_env, "storage@example.com")
    data = pdf("# Report\n\nQuarterly numbers")
    async with running_app(settings_for(docpipe_env)) as app:
        document = await app.upload(user, "report.pdf", data)
    with supabase(docpipe_env, user=user) as client:
        bucket = client.storage.from_("documents")
        folder, name = document["storage_path"].split("/")
        listed = bucket.list(folder)
        signed = bucket.create_signed_url(document["storage_path"], 60)
    assert [(o["name"], o["metadata"]["mimetype"], o["metadata"]["size"]) for o in listed] == [
        (name, "application/pdf", len(data))
    ]
    with httpx.Client() as raw:
        downloaded = raw.get(signed["signedURL"])
        assert downloaded.status_code == 200
        assert downloaded.content == data
        tampered = raw.get(signed["signedURL"][:-4] + "AAAA")  # a forged token is refused
        assert tampered.status_code in (400, 403)


async def test_signed_url_expires(docpipe_env: dict[str, str], tape: TapeSession) -> None:
    user = sign_up(docpipe_env, "expiry@example.com")
    async with running_app(settings_for(docpipe_env)) as app:
        document = await app.upload(user, "short.pdf", pdf("brief"))
    with supabase(docpipe_env, user=user) as client:
        signed = client.storage.from_("documents").create_signed_url(document["storage_path"], 1)
    time.sleep(2.2)  # real in recording, skipped in replay
    with httpx.Client() as raw:
        expired = raw.get(signed["signedURL"])
    assert expired.status_code == 400
    assert "expired" in expired.text.lower()


def test_bucket_rules_size_limit_and_mime_types(docpipe_env: dict[str, str]) -> None:
    with supabase(docpipe_env, "SUPABASE_SERVICE_ROLE_KEY") as admin:
        _check_bucket_rules(admin)


def _check_bucket_rules(admin: Any) -> None:
    documents = admin.storage.get_bucket("documents")
    assert (documents.public, documents.file_size_limit, documents.allowed_mime_types) == (
        False,
        5 * 1024 * 1024,
        ["application/pdf"],
    )
    # the same rules, small enough to test without a 5 MB body in the cassette
    admin.storage.create_bucket(
        "tiny", options={"public": False, "file_size_limit": 1024, "allowed_mime_types": ["application/pdf"]}
    )
    try:
        _check_tiny_bucket(admin.storage.from_("tiny"))
    finally:  # a real project is left as it was
        admin.storage.empty_bucket("tiny")
        admin.storage.delete_bucket("tiny")


def _check_tiny_bucket(tiny: Any) -> None:
    tiny.upload("fits.pdf", b"%PDF-1.4 small", {"content-type": "application/pdf"})
    with pytest.raises(StorageApiError) as too_big:
        tiny.upload("big.pdf", b"%PDF-1.4 " + b"x" * 2048, {"content-type": "application/pdf"})
    assert too_big.value.status in (413, "413")
    assert "maximum allowed size" in too_big.value.message
    with pytest.raises(StorageApiError) as wrong_type:
        tiny.upload("notes.txt", b"plain text", {"content-type": "text/plain"})
    assert wrong_type.value.status in (415, "415")
    assert "mime type text/plain is not supported" in wrong_type.value.message
