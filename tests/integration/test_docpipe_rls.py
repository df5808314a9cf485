"""Row-level security, as an isolation matrix: two users, anon and the service role, against
documents, chunks and stored objects. Every cell is asserted, so a policy that leaks (or one
that locks the owner out) fails here with the cell that changed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.docpipe_kit import User, pdf, running_app, settings_for, sign_up, supabase

pytestmark = pytest.mark.contracttape

EXPECTED = {
    # who: (sees A's document, sees A's chunks, can download A's file, can change A's document)
    "owner": (True, True, True, True),
    "other user": (False, False, False, False),
    "anon": (False, False, False, False),
    "service role": (True, True, True, True),
}


def _cells(client: Any, document: dict[str, Any], new_name: str) -> tuple[bool, bool, bool, bool]:
    from storage3.exceptions import StorageApiError

    sees_doc = bool(client.table("documents").select("id").eq("id", document["id"]).execute().data)
    sees_chunks = bool(client.table("chunks").select("idx").eq("document_id", document["id"]).execute().data)
    try:
        downloads = bool(client.storage.from_("documents").download(document["storage_path"]))
    except StorageApiError:
        downloads = False
    changed = client.table("documents").update({"filename": new_name}).eq("id", document["id"]).execute().data
    return sees_doc, sees_chunks, downloads, bool(changed)


async def test_isolation_matrix(docpipe_env: dict[str, str]) -> None:
    owner = sign_up(docpipe_env, "rls-owner@example.com")
    other = sign_up(docpipe_env, "rls-other@example.com")
    async with running_app(settings_for(docpipe_env)) as app:
        document = await app.upload(owner, "private.pdf", pdf("# Private\n\nSalary review notes"))
        assert (await app.ingest(owner, document["id"])).status_code == 200
        found = {}
        callers: dict[str, tuple[str, User | None]] = {
            "owner": ("SUPABASE_ANON_KEY", owner),
            "other user": ("SUPABASE_ANON_KEY", other),
            "anon": ("SUPABASE_ANON_KEY", None),
            "service role": ("SUPABASE_SERVICE_ROLE_KEY", None),
        }
        for who, (key, user) in callers.items():
            with supabase(docpipe_env, key, user=user) as client:
                found[who] = _cells(client, document, f"renamed by {who}.pdf")
        assert found == EXPECTED

        # the other user cannot ingest, read, or search it through the API either
        assert (await app.ingest(other, document["id"])).status_code == 404
        assert (await app.http.get(f"/documents/{document['id']}", headers=other.auth)).status_code == 404
        search = await app.http.get("/search", params={"q": "salary review"}, headers=other.auth)
        assert search.json()["matches"] == []


def test_writes_are_refused_across_users_and_for_anon(docpipe_env: dict[str, str]) -> None:
    from postgrest.exceptions import APIError
    from storage3.exceptions import StorageApiError

    owner = sign_up(docpipe_env, "rls-writer@example.com")
    other = sign_up(docpipe_env, "rls-intruder@example.com")
    with supabase(docpipe_env, user=owner) as client:
        mine = client.table("documents").insert({"filename": "mine.pdf"}).execute().data[0]
    with supabase(docpipe_env, user=other) as client:
        with pytest.raises(APIError) as forged_owner:
            client.table("documents").insert({"filename": "x.pdf", "owner_id": owner.id}).execute()
        with pytest.raises(APIError) as foreign_chunk:
            client.table("chunks").insert(
                {"document_id": mine["id"], "idx": 0, "content": "planted"}
            ).execute()
        with pytest.raises(StorageApiError) as foreign_file:
            client.storage.from_("documents").upload(
                f"{owner.id}/planted.pdf", pdf("x"), {"content-type": "application/pdf"}
            )
    assert forged_owner.value.code == "42501"
    assert foreign_chunk.value.code == "42501"
    assert foreign_file.value.status in (403, "403")
    with supabase(docpipe_env) as anon:
        assert anon.table("documents").select("id").execute().data == []
        with pytest.raises(APIError) as anon_insert:
            anon.table("documents").insert({"filename": "anon.pdf"}).execute()
    assert anon_insert.value.code in ("42501", "23502")  # RLS, or no auth.uid() for owner_id
