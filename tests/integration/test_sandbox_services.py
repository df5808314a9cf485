"""The real openai and llama-cloud SDKs against the sandbox: recorded once, replayed offline.

These cassettes are also what the committed OpenAI and LlamaParse contracts are built from.
"""

from __future__ import annotations

import llama_cloud
import openai
import pytest

from contracttape import TapeSession
from contracttape.pdf import make_pdf

pytestmark = pytest.mark.contracttape

PAGES = ["Invoice 1042\nTotal due: 310 EUR", "Terms\nPayment within 30 days"]


def test_openai_embeddings_and_chat(contracttape_env: dict[str, str]) -> None:
    env = contracttape_env
    with openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"]) as client:
        vectors = client.embeddings.create(
            model="text-embedding-3-small", input=["invoice total", "payment terms"]
        )
        floats = client.embeddings.create(
            model="text-embedding-3-small", input="x", encoding_format="float", dimensions=8
        )
        chat = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Summarise"}]
        )
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Stream it"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    assert [len(d.embedding) for d in vectors.data] == [1536, 1536]
    assert len(floats.data[0].embedding) == 8
    assert chat.choices[0].message.content == "Sandbox reply: Summarise"
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Sandbox reply: Stream it"
    )
    assert chunks[-1].usage is not None


def test_llamaparse_parses_a_pdf(contracttape_env: dict[str, str], tape: TapeSession) -> None:
    env = contracttape_env
    with llama_cloud.LlamaCloud(
        base_url=env["LLAMA_CLOUD_BASE_URL"], api_key=env["LLAMA_CLOUD_API_KEY"]
    ) as client:
        job = client.parsing.create(
            tier="cost_effective",
            version="latest",
            upload_file=("invoice.pdf", make_pdf(PAGES), "application/pdf"),
        )
        client.parsing.wait_for_completion(job.id, polling_interval=0.1, backoff="constant")
        result = client.parsing.get(job.id, expand=["text", "job_metadata"])
    assert [p.text for p in result.text.pages] == PAGES
    assert result.job_metadata is not None
    assert result.job_metadata["credits_used"] == 6  # 2 pages x 3 credits
    if tape.replaying:
        assert tape.incidents.slept_seconds > 0  # the SDK's polling sleeps were skipped


def test_supabase_auth_rest_and_storage(contracttape_env: dict[str, str], tape: TapeSession) -> None:
    from supabase import create_client

    env = contracttape_env
    client = create_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
    session = client.auth.sign_up({"email": "recorded-user@example.com", "password": "a recorded password"})
    assert session.user is not None
    user_id = session.user.id
    doc = client.table("documents").insert({"filename": "invoice.pdf", "pages": 2}).execute().data[0]
    rows = client.table("documents").select("id, filename, status").eq("id", doc["id"]).execute().data
    bucket = client.storage.from_("documents")
    bucket.upload(f"{user_id}/invoice.pdf", make_pdf(PAGES), {"content-type": "application/pdf"})
    signed = bucket.create_signed_url(f"{user_id}/invoice.pdf", 60)
    assert rows == [{"id": doc["id"], "filename": "invoice.pdf", "status": "pending"}]
    assert "token=" in signed["signedURL"]
    if tape.replaying:
        # the access token was stored with its signature removed; the client still decoded it
        assert session.session is not None
        assert session.session.access_token.endswith(".contracttape-redacted")
