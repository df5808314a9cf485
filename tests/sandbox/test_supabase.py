"""The Supabase sandbox through the real supabase-py client (sync and async): RLS is PostgreSQL's."""

from __future__ import annotations

import gc
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError
from supabase import AsyncClient, Client, create_async_client, create_client
from supabase_auth.errors import AuthApiError

from contracttape.sandbox import Sandbox, SandboxConfig

VECTOR = 1536
SECRET_GUESS = "a-guessed-secret-that-is-long-enough-for-hs256"

# supabase-py's sync clients keep httpx clients it offers no way to close; their sockets are
# collected (below, inside this module) instead of warning in some later test.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module", autouse=True)
def _collect_client_sockets() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(), services=("supabase",)) as running:
        yield running


def signed_in(sandbox: Sandbox, name: str) -> tuple[Client, str]:
    env = sandbox.env()
    client = create_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    response = client.auth.sign_up({"email": email, "password": "correct horse battery"})
    assert response.user is not None
    return client, response.user.id


@pytest.fixture
def ada(sandbox: Sandbox) -> tuple[Client, str]:
    return signed_in(sandbox, "ada")


@pytest.fixture
def bob(sandbox: Sandbox) -> tuple[Client, str]:
    return signed_in(sandbox, "bob")


def service(sandbox: Sandbox) -> Client:
    env = sandbox.env()
    return create_client(env["SUPABASE_URL"], env["SUPABASE_SERVICE_ROLE_KEY"])


def unit(position: int) -> list[float]:
    vector = [0.0] * VECTOR
    vector[position] = 1.0
    return vector


def test_two_users_cannot_see_change_or_delete_each_others_rows(
    ada: tuple[Client, str], bob: tuple[Client, str]
) -> None:
    a, a_id = ada
    b, _ = bob
    doc = a.table("documents").insert({"filename": "a.pdf", "pages": 2}).execute().data[0]
    assert doc["owner_id"] == a_id
    a.table("chunks").insert(
        {"document_id": doc["id"], "idx": 0, "content": "secret", "embedding": unit(0)}
    ).execute()
    assert b.table("documents").select("*").eq("id", doc["id"]).execute().data == []
    assert b.table("chunks").select("*").eq("document_id", doc["id"]).execute().data == []
    assert b.table("documents").update({"filename": "mine now"}).eq("id", doc["id"]).execute().data == []
    assert b.table("documents").delete().eq("id", doc["id"]).execute().data == []
    with pytest.raises(APIError) as info:  # WITH CHECK: bob cannot write a row owned by ada
        b.table("documents").insert({"filename": "x", "owner_id": a_id}).execute()
    assert info.value.code == "42501"
    assert a.table("documents").select("filename").eq("id", doc["id"]).single().execute().data == {
        "filename": "a.pdf"
    }


def test_anon_sees_nothing_and_service_role_sees_all(sandbox: Sandbox, ada: tuple[Client, str]) -> None:
    """Supabase's default grants: anon holds the privileges, RLS decides (no policy: no rows)."""
    env = sandbox.env()
    a, _ = ada
    a.table("documents").insert({"filename": "visible-to-service.pdf"}).execute()
    anon = create_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
    assert anon.table("documents").select("*").execute().data == []
    with pytest.raises(APIError) as info:
        anon.table("documents").insert({"filename": "anon.pdf"}).execute()
    assert info.value.code == "42501"
    assert info.value.message == 'new row violates row-level security policy for table "documents"'
    raw = httpx.post(
        f"{env['SUPABASE_URL']}/rest/v1/documents",
        json={"filename": "anon.pdf"},
        headers={"apikey": env["SUPABASE_ANON_KEY"]},
    )
    assert raw.status_code == 401  # anon: 401, an authenticated role would get 403
    everything = service(sandbox).table("documents").select("filename", count="exact").execute()
    assert "visible-to-service.pdf" in [d["filename"] for d in everything.data]
    assert "anon.pdf" not in [d["filename"] for d in everything.data]
    assert everything.count is not None
    assert everything.count >= 1


def test_tables_created_later_get_supabases_default_grants(sandbox: Sandbox) -> None:
    """A user's migration creates a table after start: anon and authenticated may use it."""
    assert sandbox.supabase is not None
    table = f"notes_{uuid.uuid4().hex[:8]}"
    with sandbox.supabase.project.db.admin() as cur:
        cur.execute(f"create table public.{table} (id serial primary key, body text)")
    try:
        env = sandbox.env()
        anon = create_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
        assert anon.table(table).insert({"body": "no RLS here"}).execute().data[0]["body"] == "no RLS here"
        assert [r["body"] for r in anon.table(table).select("body").execute().data] == ["no RLS here"]
    finally:
        with sandbox.supabase.project.db.admin() as cur:
            cur.execute(f"drop table public.{table}")


def test_filters_order_limit_and_count(ada: tuple[Client, str]) -> None:
    a, _ = ada
    a.table("documents").insert(
        [{"filename": f"f{i}.pdf", "pages": i, "status": "parsed" if i % 2 else "pending"} for i in range(6)]
    ).execute()
    rows = (
        a.table("documents")
        .select("filename, pages")
        .gte("pages", 2)
        .lt("pages", 5)
        .order("pages", desc=True)
        .execute()
        .data
    )
    assert rows == [
        {"filename": "f4.pdf", "pages": 4},
        {"filename": "f3.pdf", "pages": 3},
        {"filename": "f2.pdf", "pages": 2},
    ]
    assert [
        r["pages"]
        for r in a.table("documents").select("pages").in_("pages", [1, 5]).order("pages").execute().data
    ] == [1, 5]
    assert (
        len(a.table("documents").select("id").ilike("filename", "F%").neq("status", "parsed").execute().data)
        == 3
    )
    assert (
        a.table("documents")
        .select("id")
        .is_("storage_path", "null")
        .limit(2)
        .offset(1)
        .execute()
        .data.__len__()
        == 2
    )
    counted = a.table("documents").select("id", count="exact").like("filename", "f%").limit(1).execute()
    assert counted.count == 6
    assert len(counted.data) == 1


def test_upsert_conflict_and_single(ada: tuple[Client, str]) -> None:
    a, a_id = ada
    doc_id = str(uuid.uuid4())
    a.table("documents").insert({"id": doc_id, "filename": "v1.pdf"}).execute()
    with pytest.raises(APIError) as conflict:
        a.table("documents").insert({"id": doc_id, "filename": "again.pdf"}).execute()
    assert conflict.value.code == "23505"
    merged = (
        a.table("documents").upsert({"id": doc_id, "filename": "v2.pdf", "owner_id": a_id}).execute().data
    )
    assert merged[0]["filename"] == "v2.pdf"
    ignored = (
        a.table("documents")
        .upsert({"id": doc_id, "filename": "v3.pdf", "owner_id": a_id}, ignore_duplicates=True)
        .execute()
    )
    assert ignored.data == []
    assert (
        a.table("documents").select("filename").eq("id", doc_id).single().execute().data["filename"]
        == "v2.pdf"
    )
    with pytest.raises(APIError) as none:
        a.table("documents").select("*").eq("id", str(uuid.uuid4())).single().execute()
    assert none.value.code == "PGRST116"


def test_similarity_search_returns_own_nearest_chunks(
    ada: tuple[Client, str], bob: tuple[Client, str]
) -> None:
    a, _ = ada
    b, _ = bob
    doc = a.table("documents").insert({"filename": "v.pdf"}).execute().data[0]
    a.table("chunks").insert(
        [
            {"document_id": doc["id"], "idx": i, "content": f"chunk {i}", "embedding": unit(i)}
            for i in range(4)
        ]
    ).execute()
    b.table("chunks").insert({"idx": 0, "content": "bob's", "embedding": unit(2)}).execute()
    query = unit(2)
    query[3] = 0.5
    found = a.rpc("match_chunks", {"query_embedding": query, "match_count": 2}).execute().data
    assert [r["content"] for r in found] == ["chunk 2", "chunk 3"]
    assert found[0]["similarity"] > found[1]["similarity"]


def test_storage_folders_signed_urls_and_limits(
    sandbox: Sandbox, ada: tuple[Client, str], bob: tuple[Client, str]
) -> None:
    a, a_id = ada
    b, b_id = bob
    bucket = a.storage.from_("documents")
    bucket.upload(f"{a_id}/report.pdf", b"%PDF-1.4 ada", {"content-type": "application/pdf"})
    assert bucket.download(f"{a_id}/report.pdf") == b"%PDF-1.4 ada"
    assert [f["name"] for f in bucket.list(a_id)] == ["report.pdf"]
    with pytest.raises(StorageApiError):
        b.storage.from_("documents").download(f"{a_id}/report.pdf")
    with pytest.raises(StorageApiError) as denied:
        b.storage.from_("documents").upload(f"{a_id}/planted.pdf", b"x", {"content-type": "application/pdf"})
    assert denied.value.status == "403"
    assert b.storage.from_("documents").remove([f"{a_id}/report.pdf"]) == []
    signed = bucket.create_signed_url(f"{a_id}/report.pdf", 60)
    assert httpx.get(signed["signedURL"]).content == b"%PDF-1.4 ada"  # no credentials needed
    tampered = signed["signedURL"].replace(a_id, b_id)
    assert httpx.get(tampered).status_code == 400
    bucket.move(f"{a_id}/report.pdf", f"{a_id}/old/report.pdf")
    assert [f["name"] for f in bucket.list(f"{a_id}/old")] == ["report.pdf"]
    removed = bucket.remove([f"{a_id}/old/report.pdf"])
    assert [r["name"] for r in removed] == [f"{a_id}/old/report.pdf"]


def test_signed_upload_url_works_once_without_credentials(ada: tuple[Client, str]) -> None:
    a, a_id = ada
    bucket = a.storage.from_("documents")
    ticket = bucket.create_signed_upload_url(f"{a_id}/incoming.pdf")
    first = httpx.put(
        ticket["signed_url"], files={"file": ("incoming.pdf", b"%PDF-1.4 up", "application/pdf")}
    )
    assert first.status_code == 200
    assert first.json() == {"Key": f"documents/{a_id}/incoming.pdf"}
    again = httpx.put(
        ticket["signed_url"], files={"file": ("incoming.pdf", b"%PDF-1.4 again", "application/pdf")}
    )
    assert again.status_code == 400
    assert again.json()["statusCode"] == "409"
    assert bucket.download(f"{a_id}/incoming.pdf") == b"%PDF-1.4 up"


def test_expired_signed_url_is_refused(sandbox: Sandbox, ada: tuple[Client, str]) -> None:
    a, a_id = ada
    a.storage.from_("documents").upload(f"{a_id}/short.pdf", b"%PDF-1.4", {"content-type": "application/pdf"})
    assert sandbox.supabase is not None
    signer = sandbox.supabase.project.signer
    now = int(time.time())
    token = signer.sign(
        {"url": f"documents/{a_id}/short.pdf", "scope": "download", "iat": now - 120, "exp": now - 60}
    )
    response = httpx.get(
        f"{sandbox.env()['SUPABASE_URL']}/storage/v1/object/sign/documents/{a_id}/short.pdf?token={token}"
    )
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": "400",
        "code": "InvalidJWT",
        "error": "InvalidJWT",
        "message": "jwt expired",
    }


def test_bucket_limits_and_service_role_buckets(sandbox: Sandbox, ada: tuple[Client, str]) -> None:
    admin = service(sandbox)
    name = f"small-{uuid.uuid4().hex[:6]}"
    admin.storage.create_bucket(
        name, options={"public": False, "file_size_limit": 10, "allowed_mime_types": ["text/plain"]}
    )
    assert admin.storage.get_bucket(name).file_size_limit == 10
    with pytest.raises(StorageApiError) as too_big:
        admin.storage.from_(name).upload("a.txt", b"x" * 11, {"content-type": "text/plain"})
    assert too_big.value.status == "413"
    with pytest.raises(StorageApiError) as wrong_type:
        admin.storage.from_(name).upload("a.pdf", b"x", {"content-type": "application/pdf"})
    assert wrong_type.value.status == "415"
    a, _ = ada
    with pytest.raises(StorageApiError) as not_admin:
        a.storage.create_bucket(f"mine-{uuid.uuid4().hex[:6]}")
    assert not_admin.value.status == "403"
    admin.storage.empty_bucket(name)
    admin.storage.delete_bucket(name)


def test_auth_refresh_user_logout_and_wrong_password(sandbox: Sandbox) -> None:
    env = sandbox.env()
    client = create_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
    email = f"cy-{uuid.uuid4().hex[:6]}@example.com"
    session = client.auth.sign_up({"email": email, "password": "a long password"}).session
    assert session is not None
    claims = jwt.decode(session.access_token, options={"verify_signature": False})
    assert claims["role"] == "authenticated"
    assert claims["aud"] == "authenticated"
    assert claims["email"] == email
    refreshed = client.auth.refresh_session()
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != session.refresh_token
    assert client.auth.get_user().user.email == email  # type: ignore[union-attr]
    client.auth.sign_out()
    with pytest.raises(AuthApiError) as wrong:
        client.auth.sign_in_with_password({"email": email, "password": "not it"})
    assert wrong.value.code == "invalid_credentials"
    with pytest.raises(AuthApiError) as twice:
        client.auth.sign_up({"email": email, "password": "a long password"})
    assert twice.value.code == "user_already_exists"


def test_functions_verify_the_callers_jwt(sandbox: Sandbox, ada: tuple[Client, str]) -> None:
    a, a_id = ada
    reply = json.loads(a.functions.invoke("hello", {"body": {"name": "Ada"}}))
    assert reply == {"message": "Hello Ada!", "role": "authenticated", "user": a_id}
    env = sandbox.env()
    unknown = httpx.post(
        f"{env['SUPABASE_URL']}/functions/v1/nope", headers={"apikey": env["SUPABASE_ANON_KEY"]}
    )
    assert unknown.status_code == 404
    forged = jwt.encode({"role": "service_role", "sub": a_id}, SECRET_GUESS, algorithm="HS256")
    refused = httpx.post(
        f"{env['SUPABASE_URL']}/functions/v1/hello",
        headers={"apikey": env["SUPABASE_ANON_KEY"], "authorization": f"Bearer {forged}"},
    )
    assert refused.status_code == 401


def rest(sandbox: Sandbox, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    env = sandbox.env()
    headers = {"apikey": env["SUPABASE_ANON_KEY"], **kwargs.pop("headers", {})}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return httpx.request(method, f"{env['SUPABASE_URL']}/rest/v1/{path}", headers=headers, **kwargs)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        (
            "POST",
            "documents",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "PGRST102",
        ),
        ("GET", "documents?select=id,nope", {}, 400, "42703"),
        ("GET", "documents?nope=eq.1", {}, 400, "42703"),
        ("GET", "documents?filename=eq.x';drop table documents;--", {}, 200, None),
        ("GET", 'documents?select=id";drop table documents;--', {}, 400, "42703"),
        ("GET", "documents?pages=eq.notanumber", {}, 400, "22P02"),
        ("GET", "documents?pages=between.1", {}, 400, "PGRST100"),
        ("GET", "no_such_table", {}, 404, "PGRST205"),
        ("POST", "rpc/no_such_function", {"json": {}}, 404, "PGRST202"),
    ],
)
def test_bad_input_gets_postgrest_errors_never_500(
    sandbox: Sandbox,
    ada: tuple[Client, str],
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    a, _ = ada
    token = a.auth.get_session().access_token  # type: ignore[union-attr]
    response = rest(sandbox, method, path, token, **kwargs)
    assert response.status_code == status, response.text
    if code:
        assert response.json()["code"] == code
        assert set(response.json()) == {"code", "details", "hint", "message"}
    assert rest(sandbox, "GET", "documents?select=id", token).status_code == 200  # the table survived


def test_forged_jwt_and_missing_api_key(sandbox: Sandbox, ada: tuple[Client, str]) -> None:
    _, a_id = ada
    forged = jwt.encode({"role": "service_role", "sub": a_id}, SECRET_GUESS, algorithm="HS256")
    response = rest(sandbox, "GET", "documents", forged)
    assert response.status_code == 401
    assert response.json()["code"] == "PGRST301"
    no_key = httpx.get(f"{sandbox.env()['SUPABASE_URL']}/rest/v1/documents")
    assert no_key.status_code == 401
    assert no_key.json()["message"] == "No API key found in request"


async def test_async_client_gets_the_same_isolation(sandbox: Sandbox) -> None:
    env = sandbox.env()
    first: AsyncClient = await create_async_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
    second: AsyncClient = await create_async_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
    await first.auth.sign_up(
        {"email": f"as1-{uuid.uuid4().hex[:6]}@example.com", "password": "async password"}
    )
    await second.auth.sign_up(
        {"email": f"as2-{uuid.uuid4().hex[:6]}@example.com", "password": "async password"}
    )
    doc = (await first.table("documents").insert({"filename": "async.pdf"}).execute()).data[0]
    assert (await second.table("documents").select("*").eq("id", doc["id"]).execute()).data == []
    assert (await first.table("documents").select("filename").eq("id", doc["id"]).execute()).data == [
        {"filename": "async.pdf"}
    ]


def test_revision_2_changes_auth_and_storage_shapes() -> None:
    with Sandbox(SandboxConfig(revision=2), services=("supabase",)) as r2:
        env = r2.env()
        body = {"email": f"r2-{uuid.uuid4().hex[:6]}@example.com", "password": "revision two"}
        session = httpx.post(
            f"{env['SUPABASE_URL']}/auth/v1/signup", json=body, headers={"apikey": env["SUPABASE_ANON_KEY"]}
        ).json()
        client = create_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
        user = client.auth.sign_in_with_password(body).user
        assert user is not None
        uploaded = httpx.post(
            f"{env['SUPABASE_URL']}/storage/v1/object/documents/{user.id}/a.txt",
            files={"file": ("a.txt", b"hi", "text/plain")},
            headers={
                "apikey": env["SUPABASE_ANON_KEY"],
                "authorization": f"Bearer {session['access_token']}",
            },
        ).json()
    assert session["expires_in"] == "3600"  # type changed
    assert session["token_type"] == "Bearer"  # enum value added
    assert "is_anonymous" not in session["user"]  # field removed
    assert session["user"]["last_sign_in_at"] is None  # made nullable
    assert uploaded["Version"] == "1"  # field added


def test_copy_and_many_signed_urls(ada: tuple[Client, str], bob: tuple[Client, str]) -> None:
    a, a_id = ada
    _, b_id = bob
    bucket = a.storage.from_("documents")
    bucket.upload(f"{a_id}/one.pdf", b"%PDF-1.4 one", {"content-type": "application/pdf"})
    bucket.copy(f"{a_id}/one.pdf", f"{a_id}/two.pdf")
    assert bucket.download(f"{a_id}/two.pdf") == b"%PDF-1.4 one"
    signed = bucket.create_signed_urls([f"{a_id}/one.pdf", f"{a_id}/two.pdf", f"{b_id}/not-mine.pdf"], 60)
    assert [s["error"] is None for s in signed] == [True, True, False]
    assert httpx.get(signed[1]["signedURL"]).content == b"%PDF-1.4 one"


def test_an_existing_server_via_database_url() -> None:
    from contracttape.sandbox.supabase.app import SupabaseApp
    from tests.embedded_pg import embedded_server

    with embedded_server() as server:
        first = SupabaseApp(database_url=server.get_uri())
        second = SupabaseApp(database_url=server.get_uri())  # migrations are idempotent
        with second.db.admin() as cur:
            cur.execute("select count(*) as n from storage.buckets where id = 'documents'")
            assert cur.fetchone() == {"n": 1}
        first.close()
        second.close()


async def test_async_storage_rpc_and_errors(sandbox: Sandbox) -> None:
    env = sandbox.env()
    owner: AsyncClient = await create_async_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
    other: AsyncClient = await create_async_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
    signed_up = await owner.auth.sign_up(
        {"email": f"as3-{uuid.uuid4().hex[:6]}@example.com", "password": "async password"}
    )
    await other.auth.sign_up(
        {"email": f"as4-{uuid.uuid4().hex[:6]}@example.com", "password": "async password"}
    )
    assert signed_up.user is not None
    uid = signed_up.user.id
    await owner.storage.from_("documents").upload(
        f"{uid}/a.pdf", b"%PDF-1.4 async", {"content-type": "application/pdf"}
    )
    assert await owner.storage.from_("documents").download(f"{uid}/a.pdf") == b"%PDF-1.4 async"
    with pytest.raises(StorageApiError):
        await other.storage.from_("documents").download(f"{uid}/a.pdf")
    await owner.table("chunks").insert({"idx": 0, "content": "near", "embedding": unit(7)}).execute()
    found = (await owner.rpc("match_chunks", {"query_embedding": unit(7), "match_count": 1}).execute()).data
    assert [(r["content"], r["similarity"]) for r in found] == [("near", 1)]
    assert (
        await other.rpc("match_chunks", {"query_embedding": unit(7), "match_count": 1}).execute()
    ).data == []
    with pytest.raises(APIError) as none:
        await owner.table("documents").select("*").eq("filename", "missing").single().execute()
    assert none.value.code == "PGRST116"
