"""LlamaParse as docpipe uses it: multi-page PDFs the tests build, tiers and their credits, and a
corrupt file failing cleanly (refused before it is sent, or failed by the service)."""

from __future__ import annotations

import dataclasses

import pytest

from docpipe.errors import PipelineError
from docpipe.parse import JobEvents, Parser
from docpipe.resilience import RateLimiter
from tests.integration.docpipe_kit import pdf, running_app, settings_for, sign_up

pytestmark = pytest.mark.contracttape

PAGES = [f"# Section {n}\n\nLine {n} of a multi-page report" for n in range(1, 6)]


@pytest.mark.parametrize(("tier", "credits_per_page"), [("fast", 1), ("cost_effective", 3), ("agentic", 10)])
async def test_tiers_parse_every_page_and_bill_their_credits(
    docpipe_env: dict[str, str], tier: str, credits_per_page: int
) -> None:
    settings = settings_for(docpipe_env, tier=tier)
    parser = Parser(settings, RateLimiter(50), JobEvents())
    try:
        job = await parser.submit(f"report-{tier}.pdf", pdf(*PAGES))
        parsed = await parser.result(job, f"report-{tier}.pdf")
    finally:
        await parser.aclose()
    assert parsed.pages == len(PAGES)
    assert [line for line in parsed.markdown.splitlines() if line.startswith("# ")] == [
        f"# Section {n}" for n in range(1, 6)
    ]
    assert parsed.credits == credits_per_page * len(PAGES)


async def test_a_corrupt_file_fails_cleanly(docpipe_env: dict[str, str]) -> None:
    user = sign_up(docpipe_env, "corrupt@example.com")
    broken = pdf("fine")[:120]  # a PDF cut short
    async with running_app(settings_for(docpipe_env)) as app:
        document = await app.upload(user, "broken.pdf", broken)
        answer = await app.ingest(user, document["id"])
        assert answer.status_code == 502
        assert answer.json()["error"]["step"] == "parse"
        assert "broken.pdf is not a readable PDF" in answer.json()["error"]["message"]
        stored = await app.document(user, document["id"])
    assert (stored["status"], stored["parse_job_id"], float(stored["cost_usd"])) == ("failed", None, 0.0)


async def test_a_file_the_service_cannot_parse_fails_with_its_reason(docpipe_env: dict[str, str]) -> None:
    """Past docpipe's own check, LlamaParse fails the job: the pipeline says so, naming the file."""
    settings = dataclasses.replace(settings_for(docpipe_env), parse_timeout_seconds=5)
    parser = Parser(settings, RateLimiter(50), JobEvents())
    try:
        job = await parser.submit("garbage.pdf", b"%PDF-1.7\nthis is not really a pdf\n%%EOF\n")
        with pytest.raises(PipelineError) as failed:
            await parser.result(job, "garbage.pdf")
    finally:
        await parser.aclose()
    assert str(failed.value).startswith("parse: LlamaParse could not parse garbage.pdf: ")
