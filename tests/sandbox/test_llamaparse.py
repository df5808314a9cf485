from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import llama_cloud
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracttape.pdf import make_pdf
from contracttape.sandbox import AI_SERVICES, Sandbox, SandboxConfig
from contracttape.sandbox.llamaparse.webhooks import verify
from contracttape.sandbox.server import ServerThread

PAGES = ["Quarterly report\nRevenue grew 12 percent", "Costs\nTravel fell by half", "Outlook: steady"]


class Receiver:
    """A webhook endpoint on loopback that fails the first ``failures`` deliveries."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.server = ServerThread(
            Starlette(routes=[Route("/hook", self.hook, methods=["POST"])]), "receiver"
        )

    async def hook(self, request: Request) -> JSONResponse:
        self.received.append((dict(request.headers), await request.body()))
        if len(self.received) <= self.failures:
            return JSONResponse({"error": "try later"}, status_code=503)
        return JSONResponse({"ok": True})

    def wait(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver(failures=1)
    with hook.server:
        yield hook


def parse(llama: llama_cloud.LlamaCloud, data: bytes, tier: str = "fast", **kwargs: Any) -> Any:
    job = llama.parsing.create(
        tier=tier, version="latest", upload_file=("report.pdf", data, "application/pdf"), **kwargs
    )
    llama.parsing.wait_for_completion(job.id, polling_interval=0.05, max_interval=0.1, backoff="constant")
    return llama.parsing.get(job.id, expand=["text", "markdown", "job_metadata", "usage"])


@pytest.mark.parametrize(
    ("tier", "per_page"), [("fast", 1), ("cost_effective", 3), ("agentic", 10), ("agentic_plus", 45)]
)
def test_multi_page_pdf_is_really_parsed(llama: llama_cloud.LlamaCloud, tier: str, per_page: int) -> None:
    result = parse(llama, make_pdf(PAGES), tier)
    assert result.job.status == "COMPLETED"
    assert [p.text for p in result.text.pages] == PAGES
    assert [p.page_number for p in result.markdown.pages] == [1, 2, 3]
    assert result.job_metadata["job_pages"] == 3
    assert result.job_metadata["credits_used"] == 3 * per_page
    assert result.job.usage.credits == 3 * per_page


def test_job_moves_through_states(sandbox: Sandbox, llama: llama_cloud.LlamaCloud) -> None:
    job = llama.parsing.create(
        tier="fast", version="latest", upload_file=("a.pdf", make_pdf(["x"]), "application/pdf")
    )
    seen = [job.status]
    while seen[-1] not in ("COMPLETED", "FAILED"):
        time.sleep(0.02)
        seen.append(llama.parsing.get(job.id).job.status)
    assert seen[0] == "PENDING"
    assert "RUNNING" in seen
    assert seen[-1] == "COMPLETED"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not a pdf", "not a valid PDF"),
        (make_pdf(["x"])[:200], "could not be read"),
        (make_pdf([""]), "No text"),
    ],
)
def test_corrupt_or_empty_documents_fail_cleanly(
    llama: llama_cloud.LlamaCloud, data: bytes, message: str
) -> None:
    job = llama.parsing.create(
        tier="fast", version="latest", upload_file=("bad.pdf", data, "application/pdf")
    )
    with pytest.raises(llama_cloud.PollingError) as info:
        llama.parsing.wait_for_completion(job.id, polling_interval=0.05, max_interval=0.1, backoff="constant")
    assert message in str(info.value)
    failed = llama.parsing.get(job.id)
    assert failed.job.status == "FAILED"
    assert message in (failed.job.error_message or "")


def test_signed_webhook_arrives_after_a_retry(
    sandbox: Sandbox, llama: llama_cloud.LlamaCloud, receiver: Receiver
) -> None:
    url = f"{receiver.server.url}/hook"
    parse(
        llama,
        make_pdf(PAGES),
        webhook_configurations=[
            {"webhook_url": url, "webhook_events": ["parse.success"], "webhook_headers": {"X-Tenant": "acme"}}
        ],
    )
    receiver.wait(2)
    assert len(receiver.received) == 2  # the first delivery got a 503, the retry a 200
    headers, body = receiver.received[-1]
    assert verify(sandbox.config.webhook_secret, headers, body)
    assert not verify("another-secret", headers, body)
    assert headers["x-tenant"] == "acme"
    assert b'"event_type": "parse.success"' in body


def test_credits_run_out_with_a_402() -> None:
    with Sandbox(SandboxConfig(llama_credits=5, job_seconds=0.05), services=AI_SERVICES) as limited:
        env = limited.env()
        with llama_cloud.LlamaCloud(
            base_url=env["LLAMA_CLOUD_BASE_URL"], api_key=env["LLAMA_CLOUD_API_KEY"], max_retries=0
        ) as client:
            parse(client, make_pdf(PAGES))  # 3 credits
            with pytest.raises(llama_cloud.APIStatusError) as info:
                client.parsing.create(
                    tier="fast", version="latest", upload_file=("b.pdf", make_pdf(PAGES), "application/pdf")
                )
    assert info.value.status_code == 402
    assert "Insufficient credits" in str(info.value)


def test_rate_limit_429() -> None:
    with Sandbox(SandboxConfig(llama_rpm=2), services=AI_SERVICES) as limited:
        env = limited.env()
        with llama_cloud.LlamaCloud(
            base_url=env["LLAMA_CLOUD_BASE_URL"], api_key=env["LLAMA_CLOUD_API_KEY"], max_retries=0
        ) as client:
            job = client.parsing.create(
                tier="fast", version="latest", upload_file=("a.pdf", make_pdf(["x"]), "application/pdf")
            )
            client.parsing.get(job.id)
            with pytest.raises(llama_cloud.RateLimitError) as info:
                client.parsing.get(job.id)
    assert info.value.response.headers["retry-after"] == "60"


def test_wrong_key_is_refused(sandbox: Sandbox) -> None:
    with (
        llama_cloud.LlamaCloud(
            base_url=sandbox.env()["LLAMA_CLOUD_BASE_URL"], api_key="llx-" + "z" * 30, max_retries=0
        ) as client,
        pytest.raises(llama_cloud.AuthenticationError),
    ):
        client.parsing.get("anything")


@pytest.mark.parametrize(
    ("files", "data", "status"),
    [
        ({"file": ("a.pdf", b"%PDF-", "application/pdf")}, {"configuration": "{not json"}, 422),
        (
            {"file": ("a.pdf", b"%PDF-", "application/pdf")},
            {"configuration": '{"tier": "gold", "version": "latest"}'},
            422,
        ),
        (None, {"configuration": '{"tier": "fast", "version": "latest"}'}, 400),
    ],
)
def test_bad_uploads_get_errors_not_500(
    sandbox: Sandbox, files: Any, data: dict[str, str], status: int
) -> None:
    env = sandbox.env()
    headers = {"authorization": f"Bearer {env['LLAMA_CLOUD_API_KEY']}"}
    if files is None:
        response = httpx.post(
            f"{env['LLAMA_CLOUD_BASE_URL']}/api/v2/parse/upload",
            data=data,
            headers=headers,
            files={"other": ("x", b"x")},
        )
    else:
        response = httpx.post(
            f"{env['LLAMA_CLOUD_BASE_URL']}/api/v2/parse/upload", data=data, files=files, headers=headers
        )
    assert response.status_code == status
    assert "detail" in response.json()


def test_v1_endpoints_serve_an_old_style_client(sandbox: Sandbox, receiver: Receiver) -> None:
    env = sandbox.env()
    with httpx.Client(
        base_url=env["LLAMA_CLOUD_BASE_URL"],
        headers={"authorization": f"Bearer {env['LLAMA_CLOUD_API_KEY']}"},
    ) as client:
        upload = client.post(
            "/api/parsing/upload",
            files={"file": ("r.pdf", make_pdf(PAGES), "application/pdf")},
            data={
                "language": "en",
                "from_python_package": "true",
                "parse_mode": "parse_page_with_agent",
                "webhook_url": f"{receiver.server.url}/hook",
            },
        )
        job = upload.json()
        assert job["status"] == "PENDING"
        while (status := client.get(f"/api/parsing/job/{job['id']}").json())["status"] == "PENDING":
            time.sleep(0.02)
        assert status == {"id": job["id"], "status": "SUCCESS", "error_code": None, "error_message": None}
        text = client.get(f"/api/parsing/job/{job['id']}/result/text").json()
        markdown = client.get(f"/api/parsing/job/{job['id']}/result/markdown").json()
        pages = client.get(f"/api/parsing/job/{job['id']}/result/json").json()["pages"]
        failed = client.post(
            "/api/parsing/upload", files={"file": ("x.txt", b"plain text", "text/plain")}
        ).json()
        time.sleep(0.25)
        error = client.get(f"/api/parsing/job/{failed['id']}").json()
    assert text["text"].split("\n---\n") == PAGES
    assert markdown["job_metadata"]["credits_used"] == 30  # agentic: 10 credits a page
    assert [p["page"] for p in pages] == [1, 2, 3]
    assert error["status"] == "ERROR"
    assert error["error_code"] == "INVALID_FILE"
    receiver.wait(2)
    assert b'"txt": "Quarterly report' in receiver.received[-1][1]


def test_v2_json_create_fetches_a_loopback_source_url(
    sandbox: Sandbox, llama: llama_cloud.LlamaCloud
) -> None:
    pdf = make_pdf(PAGES)

    async def serve(request: Request) -> Response:
        return Response(pdf, media_type="application/pdf")

    with ServerThread(Starlette(routes=[Route("/doc.pdf", serve)]), "files") as files:
        job = llama.parsing.create(tier="fast", version="latest", source_url=f"{files.url}/doc.pdf")
        llama.parsing.wait_for_completion(job.id, polling_interval=0.05, backoff="constant")
    assert [p.text for p in llama.parsing.get(job.id, expand=["text"]).text.pages] == PAGES
    with pytest.raises(llama_cloud.UnprocessableEntityError, match="only fetches loopback"):
        llama.parsing.create(tier="fast", version="latest", source_url="https://example.com/doc.pdf")
