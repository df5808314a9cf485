"""docpipe end to end: upload -> parse -> embed -> store -> search finds the right chunk.

Recorded against the sandbox (real PostgreSQL with RLS, real PDF parsing), replayed offline: in
replay the same pipeline code runs, and every service answer comes from the cassette.
"""

from __future__ import annotations

import pytest

from tests.integration.docpipe_kit import pdf, running_app, settings_for, sign_up

pytestmark = pytest.mark.contracttape

DOCUMENTS = {
    "invoice.pdf": (
        "# Invoice 1042\n\nTotal due: 310 EUR for consulting",
        "# Payment\n\nPay within 30 days by bank transfer",
    ),
    "lease.pdf": (
        "# Lease agreement\n\nThe tenant rents the flat at 12 Rue Verte",
        "# Deposit\n\nA deposit of two months rent is due",
    ),
}


async def test_upload_parse_embed_store_search(docpipe_env: dict[str, str]) -> None:
    user = sign_up(docpipe_env, "e2e@example.com")
    async with running_app(settings_for(docpipe_env)) as app:
        ids = {}
        for name, pages in DOCUMENTS.items():
            document = await app.upload(user, name, pdf(*pages))
            assert document["status"] == "pending"
            answer = await app.ingest(user, document["id"])
            assert answer.status_code == 200, answer.text
            done = answer.json()["document"]
            assert (done["status"], done["pages"], done["chunk_count"]) == ("done", 2, 2)
            assert done["cost_usd"] > 0
            ids[name] = document["id"]

        found = await app.http.get(
            "/search", params={"q": "deposit of two months rent", "k": 2}, headers=user.auth
        )
        assert found.status_code == 200, found.text
        best = found.json()["matches"][0]
        assert best["document_id"] == ids["lease.pdf"]
        assert "deposit" in best["content"].lower()

        again = await app.ingest(user, ids["invoice.pdf"])  # done stays done, nothing is paid twice
        assert again.json()["steps"] == ["already done"]
        assert again.json()["spent_usd"] == 0
