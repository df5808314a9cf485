"""A project's own Supabase schema in the sandbox: supabase/migrations (a table with RLS, a
bucket with a policy) and supabase/seed.sql, applied as on a real project, recorded and replayed
through supabase-py. A broken migration is one message naming the file."""

from __future__ import annotations

import sys

import pytest

MIGRATION = """
create table public.notes (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null default auth.uid(),
  body text not null
);
alter table public.notes enable row level security;
create policy "own notes" on public.notes for all to authenticated
  using (owner_id = auth.uid()) with check (owner_id = auth.uid());

create table public.plans (name text primary key, price int);

insert into storage.buckets (id, name, public) values ('avatars', 'avatars', false);
create policy "own avatar folder" on storage.objects for all to authenticated
  using (bucket_id = 'avatars' and (storage.foldername(name))[1] = auth.uid()::text)
  with check (bucket_id = 'avatars' and (storage.foldername(name))[1] = auth.uid()::text);
"""
EDGE = """
async def shout(body, claims, project):
    return {"shout": body["text"].upper(), "user": claims.get("sub")}

FUNCTIONS = {"shout": shout}
"""
SEED = "insert into public.plans (name, price) values ('free', 0), ('pro', 20);\n"
TEST = """
import pytest
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError
from supabase import create_client

pytestmark = [
    pytest.mark.contracttape,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def test_my_schema(contracttape_env):
    env = contracttape_env
    client = create_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
    assert [p["name"] for p in client.table("plans").select("name").order("name").execute().data] == ["free", "pro"]
    user = client.auth.sign_up({"email": "me@example.com", "password": "my own password"}).user
    note = client.table("notes").insert({"body": "hello"}).execute().data[0]
    assert note["owner_id"] == user.id
    assert client.table("notes").select("body").execute().data == [{"body": "hello"}]
    avatars = client.storage.from_("avatars")
    avatars.upload(f"{user.id}/me.png", b"png bytes", {"content-type": "image/png"})
    with pytest.raises(StorageApiError):
        avatars.upload("someone-else/me.png", b"png bytes", {"content-type": "image/png"})
    shouted = client.functions.invoke("shout", {"body": {"text": "hi"}})  # the project's own function
    assert b'"shout":"HI"' in shouted.replace(b" ", b"")
    with pytest.raises(APIError) as info:  # the built-in pipeline schema is not there
        client.table("documents").select("*").execute()
    assert info.value.code == "PGRST205"
"""


def project(pytester: pytest.Pytester, migration: str = MIGRATION) -> None:
    (pytester.path / "tox.ini").unlink(missing_ok=True)
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\naddopts = "-p no:recording"\n\n[tool.contracttape]\n\n'
        '[tool.contracttape.sandbox]\nfunctions = "edge:FUNCTIONS"\n'
    )
    pytester.makepyfile(edge=EDGE)
    migrations = pytester.path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20260101000000_notes.sql").write_text(migration)
    (pytester.path / "supabase" / "seed.sql").write_text(SEED)
    pytester.makepyfile(test_app=TEST)


@pytest.mark.slow
def test_a_projects_migrations_and_seed_record_and_replay(pytester: pytest.Pytester) -> None:
    project(pytester)
    recorded = pytester.run(
        sys.executable, "-m", "pytest", "--record-mode=rewrite", "-p", "no:cacheprovider", timeout=300
    )
    assert recorded.ret == 0, recorded.stdout.str()[-3000:]
    cassette = (pytester.path / "cassettes" / "test_app" / "test_my_schema.yaml").read_text()
    assert "/rest/v1/notes" in cassette
    assert "/storage/v1/object/avatars/" in cassette
    replayed = pytester.run(
        sys.executable, "-m", "pytest", "--block-network", "-p", "no:cacheprovider", timeout=300
    )
    assert replayed.ret == 0, replayed.stdout.str()[-3000:]
    assert "cassettes replayed: 1" in replayed.stdout.str()


@pytest.mark.slow
def test_a_broken_migration_is_one_message_naming_the_file(pytester: pytest.Pytester) -> None:
    project(pytester, migration="create tabel public.notes (id int);\n")
    result = pytester.run(
        sys.executable, "-m", "pytest", "--record-mode=rewrite", "-p", "no:cacheprovider", timeout=300
    )
    output = result.stdout.str() + result.stderr.str()
    assert result.ret != 0
    assert "20260101000000_notes.sql: the migration could not be applied" in output
    assert 'syntax error at or near "tabel"' in output
    assert "Traceback" not in output
    assert output.count("the migration could not be applied") <= 2  # the error, and its summary line
