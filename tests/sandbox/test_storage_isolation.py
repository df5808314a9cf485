"""Storage isolation in the sandbox, attacked: a key with ``..``, empty or ``.`` segments, or
characters storage refuses can never reach another user's (or bucket's) bytes.

Each attack runs through supabase-py (storage3) and through raw HTTP (httpx, with dot segments
sent literally and percent-encoded), and afterwards user 2's objects and the public bucket's
object are byte-for-byte intact, and user 1's failed move lost nothing.
"""

from __future__ import annotations

import gc
import http.client
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from storage3.exceptions import StorageApiError
from supabase import Client, create_client

from contracttape.sandbox import Sandbox, SandboxConfig
from contracttape.sandbox.supabase.keys import object_file

pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SECRET_BYTES = b"user 2's private report"
PUBLIC_BYTES = b"<h1>the public page</h1>"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(), services=("supabase",)) as running:
        yield running
    gc.collect()


class User:
    def __init__(self, sandbox: Sandbox, name: str) -> None:
        env = sandbox.env()
        self.url = env["SUPABASE_URL"]
        self.anon = env["SUPABASE_ANON_KEY"]
        self.client: Client = create_client(self.url, self.anon)
        email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
        response = self.client.auth.sign_up({"email": email, "password": "correct horse battery"})
        assert response.user is not None
        assert response.session is not None
        self.id = response.user.id
        self.token = response.session.access_token

    @property
    def bucket(self) -> Any:
        return self.client.storage.from_("documents")

    def http(self, method: str, path: str, **kwargs: Any) -> Raw:
        """Raw HTTP with the path sent exactly as given: http.client does no dot-segment removal
        (httpx would send ``/a/../b`` as ``/b``)."""
        headers = {"apikey": self.anon, "authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        body = kwargs.pop("content", None)
        if "json" in kwargs:
            body = json.dumps(kwargs.pop("json")).encode()
            headers["content-type"] = "application/json"
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            connection.request(method, f"/storage/v1{path}", body=body, headers=headers)
            answer = connection.getresponse()
            return Raw(answer.status, answer.read())
        finally:
            connection.close()


class Raw:
    def __init__(self, status: int, content: bytes) -> None:
        self.status_code, self.content = status, content
        self.text = content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


@pytest.fixture
def world(sandbox: Sandbox) -> Iterator[dict[str, Any]]:
    """User 1 (attacker), user 2 (victim, with a report), a public bucket with a page."""
    u1, u2 = User(sandbox, "mallory"), User(sandbox, "victim")
    u2.bucket.upload(f"{u2.id}/report.txt", SECRET_BYTES, {"content-type": "text/plain"})
    env = sandbox.env()
    admin = create_client(env["SUPABASE_URL"], env["SUPABASE_SERVICE_ROLE_KEY"])
    public = f"site-{uuid.uuid4().hex[:6]}"
    admin.storage.create_bucket(public, options={"public": True})
    admin.storage.from_(public).upload("index.html", PUBLIC_BYTES, {"content-type": "text/html"})
    yield {"u1": u1, "u2": u2, "admin": admin, "public": public, "sandbox": sandbox}
    gc.collect()


def intact(world: dict[str, Any]) -> None:
    u2: User = world["u2"]
    assert u2.bucket.download(f"{u2.id}/report.txt") == SECRET_BYTES
    assert world["admin"].storage.from_(world["public"]).download("index.html") == PUBLIC_BYTES
    names = [o["name"] for o in u2.bucket.list(u2.id)]
    assert names == ["report.txt"]


def traversals(u1: str, u2: str, public: str) -> list[str]:
    return [
        f"{u1}/../{u2}/report.txt",
        f"{u1}/%2E%2E/{u2}/report.txt",
        f"{u1}/%2e%2e/{u2}/report.txt",
        f"{u1}/./../{u2}/report.txt",
        f"{u1}//{u2}/report.txt",
        f"{u1}/../../{public}/index.html",
        f"{u1}/..%2F{u2}%2Freport.txt",
        f"{u1}/x/../../{u2}/report.txt",
    ]


def refused_by_storage3(action: Callable[[], object]) -> None:
    """storage3 refuses dot segments itself for some calls (ValueError) and the server the rest;
    where storage3 rewrites a name first (``a//b`` -> ``a/b``, inside the caller's own folder)
    the call may succeed, and must still yield nothing of anyone else's."""
    result: object = None
    status: object = None
    try:
        result = action()
    except ValueError:
        return
    except StorageApiError as error:
        status = error.status
    if status is not None:
        assert status in (400, "400", 403, "403", 404, "404")
        return
    assert SECRET_BYTES not in repr(result).encode()
    assert PUBLIC_BYTES not in repr(result).encode()


def test_reads_through_planted_names_are_refused(world: dict[str, Any]) -> None:
    u1, u2 = world["u1"], world["u2"]
    for name in traversals(u1.id, u2.id, world["public"]):
        # storage3, which quotes the name
        refused_by_storage3(lambda name=name: u1.bucket.download(name))
        refused_by_storage3(lambda name=name: u1.bucket.create_signed_url(name, 60))
        refused_by_storage3(lambda name=name: u1.bucket.copy(name, f"{u1.id}/stolen.txt"))
        # raw HTTP, the path as written
        for path in (f"/object/authenticated/documents/{name}", f"/object/documents/{name}"):
            response = u1.http("GET", path)
            assert response.status_code < 500
            assert SECRET_BYTES not in response.content
            assert PUBLIC_BYTES not in response.content
        sign = u1.http("POST", f"/object/sign/documents/{name}", json={"expiresIn": 60})
        assert sign.status_code in (400, 404)
    assert u1.bucket.list(u1.id) == []
    intact(world)


def test_writes_moves_and_deletes_through_planted_names_are_refused(world: dict[str, Any]) -> None:
    u1, u2 = world["u1"], world["u2"]
    u1.bucket.upload(f"{u1.id}/mine.txt", b"mine", {"content-type": "text/plain"})
    for name in traversals(u1.id, u2.id, world["public"]):
        refused_by_storage3(
            lambda name=name: u1.bucket.upload(
                name, b"overwritten", {"content-type": "text/plain", "upsert": "true"}
            )
        )
        refused_by_storage3(lambda name=name: u1.bucket.move(f"{u1.id}/mine.txt", name))
        for method in ("POST", "PUT"):
            response = u1.http(
                method, f"/object/documents/{name}", content=b"overwritten", headers={"x-upsert": "true"}
            )
            assert response.status_code == 400, response.text
            assert response.json()["code"] == "InvalidKey"
        moved = u1.http(
            "POST",
            "/object/move",
            json={"bucketId": "documents", "sourceKey": name, "destinationKey": f"{u1.id}/x"},
        )
        assert moved.status_code == 400
        u1.bucket.remove([name])  # names nothing u1 may delete: nothing happens
        signed = u1.http("POST", f"/object/upload/sign/documents/{name}")
        assert signed.status_code == 400
    # the public bucket refuses direct writes too
    public = u1.http("POST", f"/object/{world['public']}/index.html", content=b"defaced")
    assert public.status_code in (400, 403)
    # user 1's own object survived every failed move, and no ".." folder row appeared
    assert u1.bucket.download(f"{u1.id}/mine.txt") == b"mine"
    names = {o["name"] for o in u1.bucket.list(u1.id)}
    # storage3 rewrites "u1//u2/report.txt" to "u1/u2/report.txt": a folder inside u1's own
    assert names <= {"mine.txt", u2.id}
    assert "mine.txt" in names
    assert [o["name"] for o in u1.bucket.list()] == [u1.id]
    intact(world)


def test_a_failed_move_changes_nothing(world: dict[str, Any]) -> None:
    u1 = world["u1"]
    u1.bucket.upload(f"{u1.id}/a.txt", b"A", {"content-type": "text/plain"})
    u1.bucket.upload(f"{u1.id}/b.txt", b"B", {"content-type": "text/plain"})
    refused_by_storage3(lambda: u1.bucket.move(f"{u1.id}/a.txt", f"{world['u2'].id}/a.txt"))  # RLS
    with pytest.raises(StorageApiError):
        u1.bucket.move(f"{u1.id}/a.txt", f"{u1.id}/b.txt")  # exists
    for bad in ({}, 5, None, "", f"{u1.id}/", f"{u1.id}/a\x00.txt", "x" * 1025):
        response = u1.http(
            "POST",
            "/object/move",
            json={"bucketId": "documents", "sourceKey": f"{u1.id}/a.txt", "destinationKey": bad},
        )
        assert response.status_code == 400, (bad, response.text)
        assert "psycopg" not in response.text
    assert u1.bucket.download(f"{u1.id}/a.txt") == b"A"
    assert u1.bucket.download(f"{u1.id}/b.txt") == b"B"
    assert sorted(o["name"] for o in u1.bucket.list(u1.id)) == ["a.txt", "b.txt"]
    # and a good move moves the bytes with the row
    u1.bucket.move(f"{u1.id}/a.txt", f"{u1.id}/c.txt")
    assert u1.bucket.download(f"{u1.id}/c.txt") == b"A"
    intact(world)


def test_bytes_live_only_where_bucket_and_key_say(world: dict[str, Any]) -> None:
    sandbox: Sandbox = world["sandbox"]
    u2: User = world["u2"]
    assert sandbox.supabase is not None
    root = sandbox.supabase.storage.root
    path = object_file(root, "documents", f"{u2.id}/report.txt")
    assert path.read_bytes() == SECRET_BYTES
    assert path.parent.parent == root
    assert ".." not in path.parts


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        (None, ["a.txt", "b.txt", "c.txt"]),  # name, ascending
        ({"column": "name", "order": "desc"}, ["c.txt", "b.txt", "a.txt"]),
        ({"column": "created_at", "order": "asc"}, ["b.txt", "c.txt", "a.txt"]),  # upload order
        ({"column": "created_at", "order": "desc"}, ["a.txt", "c.txt", "b.txt"]),
    ],
)
def test_listing_order_follows_sort_by(
    sandbox: Sandbox, sort_by: dict[str, str] | None, expected: list[str]
) -> None:
    user = User(sandbox, "lister")
    for name in ("b.txt", "c.txt", "a.txt"):
        user.bucket.upload(f"{user.id}/{name}", b"x", {"content-type": "text/plain"})
    options = {"sortBy": sort_by} if sort_by else None
    assert [o["name"] for o in user.bucket.list(user.id, options)] == expected


def test_an_unknown_sort_column_is_refused(sandbox: Sandbox) -> None:
    user = User(sandbox, "badsort")
    with pytest.raises(StorageApiError) as refused:
        user.bucket.list(user.id, {"sortBy": {"column": "size", "order": "asc"}})
    assert "sortBy must be" in refused.value.message
