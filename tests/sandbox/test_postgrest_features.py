"""PostgREST features the pipeline and users rely on, through supabase-py (postgrest-py):
resource embedding, cs/cd/ov, full-text search, or/and trees, Range headers, count=planned|
estimated, HEAD, and rpc with GET. Over real PostgreSQL, under RLS."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import Client, create_client

from contracttape.sandbox import Sandbox

VECTOR = 1536

# supabase-py's sync clients keep httpx clients it offers no way to close (as in test_supabase.py)
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running
    gc.collect()  # supabase-py's clients keep sockets until collected: collect them here, once


@pytest.fixture(scope="module")
def anon(sandbox: Sandbox) -> Client:
    env = sandbox.env()
    return create_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])


@pytest.fixture(scope="module")
def stranger(sandbox: Sandbox) -> Client:
    return signed_in(sandbox)[0]


def signed_in(sandbox: Sandbox) -> tuple[Client, str]:
    env = sandbox.env()
    client = create_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
    email = f"pgrst-{uuid.uuid4().hex[:8]}@example.com"
    session = client.auth.sign_up({"email": email, "password": "a postgrest password"})
    assert session.user is not None
    return client, session.user.id


def unit(position: int) -> list[float]:
    vector = [0.0] * VECTOR
    vector[position] = 1.0
    return vector


@pytest.fixture(scope="module")
def owner(sandbox: Sandbox) -> tuple[Client, dict[str, Any], dict[str, Any]]:
    """A user with two documents: one with three chunks, one with none."""
    client, _ = signed_in(sandbox)
    full = client.table("documents").insert({"filename": "full.pdf", "pages": 3}).execute().data[0]
    empty = client.table("documents").insert({"filename": "empty.pdf", "pages": 0}).execute().data[0]
    client.table("chunks").insert(
        [
            {"document_id": full["id"], "idx": i, "content": text, "embedding": unit(i)}
            for i, text in enumerate(["the quick brown fox", "jumps over the lazy dog", "chunk two of three"])
        ]
    ).execute()
    return client, full, empty


@pytest.fixture(scope="module")
def labels(sandbox: Sandbox) -> Iterator[str]:
    """A table with an array, a jsonb and a text column (a user migration; no RLS)."""
    assert sandbox.supabase is not None
    table = f"labels_{uuid.uuid4().hex[:8]}"
    with sandbox.supabase.project.db.admin() as cur:
        cur.execute(
            f"create table public.{table} (id serial primary key, tags text[], meta jsonb, body text)"
        )
        cur.execute(
            f"insert into public.{table} (tags, meta, body) values "
            "('{a,b}', '{\"kind\": \"invoice\", \"n\": 1}', 'The quick brown fox jumps'), "
            "('{b,c}', '{\"kind\": \"receipt\"}', 'A lazy dog sleeps'), "
            "('{d}', '{\"kind\": \"invoice\", \"n\": 2}', 'Foxes and dogs are friends')"
        )
    yield table
    with sandbox.supabase.project.db.admin() as cur:
        cur.execute(f"drop table public.{table}")


# -- resource embedding ----------------------------------------------------------------------------


def test_one_to_many_embedding(owner: tuple[Client, dict[str, Any], dict[str, Any]]) -> None:
    client, full, _ = owner
    rows = client.table("documents").select("filename, chunks(idx, content)").order("filename").execute().data
    assert rows[0] == {"filename": "empty.pdf", "chunks": []}
    assert rows[1]["filename"] == "full.pdf"
    assert sorted(c["idx"] for c in rows[1]["chunks"]) == [0, 1, 2]
    assert set(rows[1]["chunks"][0]) == {"idx", "content"}
    star = client.table("documents").select("*,chunks(*)").eq("id", full["id"]).execute().data[0]
    assert star["id"] == full["id"]
    assert len(star["chunks"]) == 3
    assert "embedding" in star["chunks"][0]


def test_many_to_one_embedding_aliases_and_inner(
    owner: tuple[Client, dict[str, Any], dict[str, Any]],
) -> None:
    client, full, _ = owner
    chunk = client.table("chunks").select("idx, doc:documents(filename, pages)").eq("idx", 0).execute().data
    assert chunk == [{"idx": 0, "doc": {"filename": "full.pdf", "pages": 3}}]
    named = (
        client.table("documents").select("name:filename, parts:chunks(idx)").eq("id", full["id"]).execute()
    )
    assert named.data[0]["name"] == "full.pdf"
    assert len(named.data[0]["parts"]) == 3
    inner = client.table("documents").select("filename, chunks!inner(idx)").execute().data
    assert [r["filename"] for r in inner] == ["full.pdf"]  # the document without chunks is left out


def test_embedding_obeys_rls_and_names_unknown_relations(
    stranger: Client, owner: tuple[Client, dict[str, Any], dict[str, Any]]
) -> None:
    assert stranger.table("documents").select("*, chunks(*)").execute().data == []
    with pytest.raises(APIError) as info:
        owner[0].table("documents").select("*, pages(*)").execute()
    assert info.value.code == "PGRST200"
    assert "between 'documents' and 'pages'" in (info.value.message or "")


# -- operators and logic ----------------------------------------------------------------------------


def test_contains_contained_by_and_overlaps(anon: Client, labels: str) -> None:
    table = anon.table(labels)

    def ids(builder: Any) -> list[int]:
        return sorted(r["id"] for r in builder.execute().data)

    assert ids(table.select("id").contains("tags", ["b"])) == [1, 2]
    assert ids(table.select("id").contained_by("tags", ["a", "b", "c"])) == [1, 2]
    assert ids(table.select("id").overlaps("tags", ["a", "d"])) == [1, 3]
    assert ids(table.select("id").contains("meta", {"kind": "invoice"})) == [1, 3]
    assert ids(table.select("id").not_.contains("tags", ["b"])) == [3]


def test_full_text_search(anon: Client, labels: str) -> None:
    table = anon.table(labels)

    def ids(builder: Any) -> list[int]:
        return sorted(r["id"] for r in builder.execute().data)

    assert ids(table.select("id").fts("body", "fox & jumps")) == [1]
    assert ids(table.select("id").filter("body", "fts(english)", "fox")) == [1, 3]  # stems: foxes
    assert ids(table.select("id").plfts("body", "lazy dog")) == [2]
    assert ids(table.select("id").phfts("body", "quick brown")) == [1]
    assert ids(table.select("id").filter("body", "wfts(english)", "dog -lazy")) == [3]


def test_or_and_trees(owner: tuple[Client, dict[str, Any], dict[str, Any]]) -> None:
    client, _, _ = owner
    chunks = client.table("chunks").select("idx")

    def idx(builder: Any) -> list[int]:
        return sorted(r["idx"] for r in builder.execute().data)

    assert idx(chunks.or_("idx.eq.0,idx.eq.2")) == [0, 2]
    assert idx(client.table("chunks").select("idx").or_("idx.eq.0,and(idx.gt.0,content.like.*three*)")) == [
        0,
        2,
    ]
    assert idx(client.table("chunks").select("idx").or_("content.ilike.*FOX*,idx.in.(1,2)")) == [0, 1, 2]
    assert idx(client.table("chunks").select("idx").not_.or_("idx.eq.0,idx.eq.1")) == [2]
    with pytest.raises(APIError) as info:
        client.table("chunks").select("idx").or_("idx.eq.0,nosuch.eq.1").execute()
    assert info.value.code == "42703"


# -- ranges and counts --------------------------------------------------------------------------------


def rest(sandbox: Sandbox, client: Client, method: str, path: str, **headers: str) -> httpx.Response:
    env = sandbox.env()
    token = client.auth.get_session()
    assert token is not None
    return httpx.request(
        method,
        f"{env['SUPABASE_URL']}/rest/v1/{path}",
        headers={
            "apikey": env["SUPABASE_ANON_KEY"],
            "authorization": f"Bearer {token.access_token}",
            **headers,
        },
    )


def test_range_headers_partial_content_and_unsatisfiable(
    sandbox: Sandbox, owner: tuple[Client, dict[str, Any], dict[str, Any]]
) -> None:
    client = owner[0]
    part = rest(sandbox, client, "GET", "chunks?select=idx&order=idx", range="0-1", prefer="count=exact")
    assert part.status_code == 206
    assert part.headers["content-range"] == "0-1/3"
    assert [r["idx"] for r in part.json()] == [0, 1]
    whole = rest(sandbox, client, "GET", "chunks?select=idx&order=idx", range="0-9", prefer="count=exact")
    assert whole.status_code == 200
    assert whole.headers["content-range"] == "0-2/3"
    beyond = rest(sandbox, client, "GET", "chunks?select=idx", range="5-9", prefer="count=exact")
    assert beyond.status_code == 416
    assert beyond.json()["code"] == "PGRST103"
    assert beyond.headers["content-range"] == "*/3"
    open_ended = rest(sandbox, client, "GET", "chunks?select=idx&order=idx", range="1-")
    assert [r["idx"] for r in open_ended.json()] == [1, 2]


@pytest.mark.parametrize("method", ["planned", "estimated"])
def test_planned_and_estimated_counts(
    owner: tuple[Client, dict[str, Any], dict[str, Any]], method: str
) -> None:
    client = owner[0]
    result = client.table("chunks").select("idx", count=method).execute()  # type: ignore[arg-type]
    assert isinstance(result.count, int)
    assert result.count >= 0
    if method == "estimated":  # small tables are counted exactly
        assert result.count == 3


def test_head_gives_the_count_and_no_body(
    sandbox: Sandbox, owner: tuple[Client, dict[str, Any], dict[str, Any]]
) -> None:
    client = owner[0]
    result = client.table("chunks").select("*", count="exact", head=True).execute()
    assert result.count == 3
    raw = rest(sandbox, client, "HEAD", "chunks?select=*", prefer="count=exact")
    assert raw.status_code == 200
    assert raw.content == b""
    assert raw.headers["content-range"] == "0-2/3"


def test_rpc_with_get(owner: tuple[Client, dict[str, Any], dict[str, Any]]) -> None:
    client = owner[0]
    literal = "[" + ",".join(str(v) for v in unit(2)) + "]"
    found = (
        client.rpc("match_chunks", {"query_embedding": literal, "match_count": 1}, get=True).execute().data
    )
    assert [r["content"] for r in found] == ["chunk two of three"]


MALFORMED = [
    "or=(",
    "or=()",
    "or=(idx.eq.1",
    "or=(and(",
    "or=(and())",
    "or=(idx)",
    "or=(idx.eq)",
    "or=(nosuch.eq.1)",
    "not.or=x",
    "select=*,chunks(",
    "select=chunks(*))",
    "select=*,chunks(nosuch)",
    "select=a:b:c",
    "idx=fts(english.x",
    "idx=fts(bad lang).x",
    "content=fts(nosuchconfig).x",
    "idx=cs.{1",
    "idx=ov.notarray",
]


@pytest.mark.parametrize("query", MALFORMED)
def test_malformed_features_get_postgrest_errors_never_a_500(
    sandbox: Sandbox, owner: tuple[Client, dict[str, Any], dict[str, Any]], query: str
) -> None:
    answer = rest(sandbox, owner[0], "GET", f"chunks?{query}")
    assert 400 <= answer.status_code < 500, answer.text
    assert set(answer.json()) == {"code", "details", "hint", "message"}


@pytest.mark.parametrize("value", ["abc", "5-2", "-", "0-99999999999999999999"])
def test_a_bad_range_header_is_416(
    sandbox: Sandbox, owner: tuple[Client, dict[str, Any], dict[str, Any]], value: str
) -> None:
    answer = rest(sandbox, owner[0], "GET", "chunks?select=idx", range=value)
    assert answer.status_code == 416
    assert answer.json()["code"] == "PGRST103"
