"""What real recordings showed the LlamaParse stand-in got wrong (round 2)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import llama_cloud
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracttape.budget.prices import PriceBook
from contracttape.model import RecordedRequest
from contracttape.pdf import make_pdf
from contracttape.sandbox import Sandbox
from contracttape.sandbox.server import ServerThread
from contracttape.services.llamaparse import LlamaParseCosts

PAGES = ["Delivery note 7", "Signed on arrival"]


@pytest.fixture(scope="module")
def documents() -> Iterator[str]:
    """A loopback file server, as a signed storage URL would be."""

    async def pdf(request: Request) -> Response:
        return Response(make_pdf(PAGES), media_type="application/pdf")

    with ServerThread(Starlette(routes=[Route("/note.pdf", pdf)]), "documents") as server:
        yield server.url


@pytest.fixture
def v1(sandbox: Sandbox) -> Iterator[httpx.Client]:
    env = sandbox.env()
    with httpx.Client(
        base_url=env["LLAMA_CLOUD_BASE_URL"],
        headers={"authorization": f"Bearer {env['LLAMA_CLOUD_API_KEY']}"},
    ) as client:
        yield client


def _finished(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (status := client.get(f"/api/parsing/job/{job_id}").json())["status"] == "PENDING":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return status  # type: ignore[no-any-return]


def test_a_v1_upload_by_input_url_is_accepted_and_parsed(v1: httpx.Client, documents: str) -> None:
    upload = v1.post("/api/parsing/upload", data={"input_url": f"{documents}/note.pdf"}, files={})
    assert upload.status_code == 200
    job = upload.json()
    assert job == {"id": job["id"], "status": "PENDING"}
    assert _finished(v1, job["id"]) == {
        "id": job["id"],
        "status": "SUCCESS",
        "error_code": None,
        "error_message": None,
    }
    text = v1.get(f"/api/parsing/job/{job['id']}/result/text").json()
    assert text["text"].split("\n---\n") == PAGES


def test_a_v1_input_url_the_sandbox_cannot_reach_fails_the_job_not_the_upload(v1: httpx.Client) -> None:
    upload = v1.post("/api/parsing/upload", data={"input_url": "https://example.com/report.pdf"}, files={})
    assert upload.status_code == 200  # accepted at once, as the real service does
    status = _finished(v1, upload.json()["id"])
    assert status["status"] == "ERROR"
    assert status["error_code"] == "INPUT_URL_UNREACHABLE"
    assert "example.com" in status["error_message"]


def test_v1_jobs_carry_null_error_fields_and_results_no_credits_max(v1: httpx.Client) -> None:
    job = v1.post("/api/parsing/upload", files={"file": ("n.pdf", make_pdf(PAGES), "application/pdf")}).json()
    pending = v1.get(f"/api/parsing/job/{job['id']}").json()
    assert pending["error_code"] is None
    assert pending["error_message"] is None
    _finished(v1, job["id"])
    metadata = v1.get(f"/api/parsing/job/{job['id']}/result/markdown").json()["job_metadata"]
    assert "credits_max" not in metadata
    assert metadata["credits_used"] == 6


def test_v2_metadata_still_carries_credits_max(llama: llama_cloud.LlamaCloud) -> None:
    job = llama.parsing.create(
        tier="fast", version="latest", upload_file=("n.pdf", make_pdf(PAGES), "application/pdf")
    )
    llama.parsing.wait_for_completion(job.id, polling_interval=0.05, backoff="constant")
    result = llama.parsing.get(job.id, expand=["job_metadata"])
    assert result.job_metadata is not None
    assert result.job_metadata["credits_max"] == 2


def test_every_answer_carries_correlation_and_session_ids(
    v1: httpx.Client, llama: llama_cloud.LlamaCloud
) -> None:
    answers = [
        v1.get("/api/parsing/job/no-such-job"),  # errors too
        v1.post("/api/parsing/upload", files={"file": ("n.pdf", make_pdf(PAGES), "application/pdf")}),
    ]
    raw = llama.parsing.with_raw_response.create(
        tier="fast", version="latest", upload_file=("n.pdf", make_pdf(PAGES), "application/pdf")
    )
    for headers in [a.headers for a in answers] + [raw.headers]:
        assert len(headers["x-correlation-id"]) == 36
        assert len(headers["x-session-id"]) == 36


def _upload(fields: dict[str, str], file: bytes | None) -> RecordedRequest:
    request = httpx.Request(
        "POST",
        "https://api.cloud.llamaindex.ai/api/parsing/upload",
        data=fields,
        files={"file": ("d.pdf", file, "application/pdf")} if file is not None else {"x": ("", b"")},
    )
    return RecordedRequest("POST", str(request.url), tuple(request.headers.items()), request.read())


def test_an_input_url_upload_is_not_priced_as_one_page() -> None:
    """Its pages are unknown until the job reports them: unpriced (refused under a cap, settled
    from the job's report without one), never a 1-page guess."""
    costs, prices = LlamaParseCosts(), PriceBook.load()
    assert costs.estimate(_upload({"input_url": "https://example.com/big.pdf"}, None), prices) is None
    with_file = costs.estimate(_upload({}, make_pdf(["a", "b", "c"])), prices)
    assert with_file is not None
    assert with_file.basis.startswith("3 page(s)")
