"""A LlamaParse-compatible API: v2 (``/api/v2/parse``, as llama-cloud 2.x uses it) and v1
(``/api/parsing/...``, for older clients), with real PDF text extraction (pypdf), jobs that move
PENDING -> RUNNING -> COMPLETED/SUCCESS over a configurable time, credits per page by tier, 402
when the credit balance is spent, 429 over a rate limit, and signed webhooks.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracttape.sandbox import errors, jsonbody
from contracttape.sandbox.config import SandboxConfig
from contracttape.sandbox.errors import ServiceError
from contracttape.sandbox.http import SlidingWindow, bearer
from contracttape.sandbox.llamaparse.pages import ParseFailure, extract_pages
from contracttape.sandbox.llamaparse.webhooks import Delivery, WebhookSender

CREDITS_PER_PAGE = {"fast": 1, "cost_effective": 3, "agentic": 10, "agentic_plus": 45}
V1_MODES = {
    "parse_page_without_llm": "fast",
    "parse_page_with_llm": "cost_effective",
    "parse_page_with_lvm": "agentic",
    "parse_page_with_agent": "agentic",
    "parse_document_with_llm": "agentic",
    "parse_document_with_agent": "agentic_plus",
}
PROJECT_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
CREATED_AT = "2026-01-01T00:00:00Z"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
V2_EVENTS = {"COMPLETED": "parse.success", "FAILED": "parse.error"}


class HttpError(ServiceError):
    """FastAPI's shape: ``{"detail": "..."}``."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, {"detail": detail}, headers)


@dataclass
class Job:
    id: str
    api: str  # "v1" | "v2"
    name: str
    tier: str
    created: float
    ready_at: float
    pages: list[str] = field(default_factory=list)
    failure: ParseFailure | None = None
    reads: int = 0  # status reads so far (the job's clock under SandboxConfig.job_polls)
    announced: bool = False  # a webhook reports it finished at ready_at: reads then agree

    @property
    def credits(self) -> int:
        return 0 if self.failure else CREDITS_PER_PAGE[self.tier] * len(self.pages)


async def _trace_headers(request: Request, call_next: Any) -> Response:
    """Every real answer carries a correlation id and a session id."""
    response: Response = await call_next(request)
    response.headers["x-correlation-id"] = str(uuid.uuid4())
    response.headers["x-session-id"] = str(uuid.uuid4())
    return response


class LlamaParseApp:
    def __init__(self, config: SandboxConfig, rate_window: float = 60.0) -> None:
        self.config = config
        self.rate_window = rate_window
        self.jobs: dict[str, Job] = {}
        self.credits_left = config.llama_credits
        self._recent = SlidingWindow(rate_window)
        self._lock = threading.Lock()  # jobs and credits
        self.webhooks = WebhookSender(
            config.webhook_secret, config.webhook_attempts, config.webhook_backoff_seconds
        )
        self.app = Starlette(
            routes=[
                Route("/api/v2/parse/upload", self.v2_upload, methods=["POST"]),
                Route("/api/v2/parse", self.v2_create, methods=["POST"]),
                Route("/api/v2/parse/{job_id}", self.v2_get, methods=["GET"]),
                Route("/api/parsing/upload", self.v1_upload, methods=["POST"]),
                Route("/api/v1/parsing/upload", self.v1_upload, methods=["POST"]),
                Route("/api/parsing/job/{job_id}", self.v1_status, methods=["GET"]),
                Route("/api/v1/parsing/job/{job_id}", self.v1_status, methods=["GET"]),
                Route("/api/parsing/job/{job_id}/result/{kind}", self.v1_result, methods=["GET"]),
                Route("/api/v1/parsing/job/{job_id}/result/{kind}", self.v1_result, methods=["GET"]),
            ],
            middleware=[Middleware(BaseHTTPMiddleware, dispatch=_trace_headers)],
        )
        errors.install(self.app)

    def shutdown(self) -> None:
        self.webhooks.shutdown()

    # -- plumbing ---------------------------------------------------------------------------------

    def _admit(self, request: Request) -> None:
        if bearer(request.headers) != self.config.llama_api_key:
            raise HttpError(401, "Invalid authentication credentials")
        if self.config.llama_rpm is None:
            return
        with self._recent.lock:
            if self._recent.count() >= self.config.llama_rpm:
                wait = max(1, int(self._recent.wait() + 0.999))
                raise HttpError(
                    429,
                    f"Rate limit exceeded: {self.config.llama_rpm} requests per minute",
                    {"retry-after": str(wait)},
                )
            self._recent.add()

    def _job(self, job_id: str, read: bool = False) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise HttpError(404, f"Job {job_id} not found")
        if read:
            with self._lock:
                job.reads += 1
        return job

    async def _file(self, form: Any) -> tuple[str, bytes]:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HttpError(400, "A file must be uploaded in the 'file' form field")
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise HttpError(413, f"File too large: the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
        return upload.filename or "upload", data

    def _start(self, api: str, name: str, tier: str, data: bytes, failure: ParseFailure | None = None) -> Job:
        pages: list[str] = []
        if failure is None:
            try:
                pages = extract_pages(data)
            except ParseFailure as error:
                failure = error
        # the job's clock starts once it is accepted (extraction can be slow on a loaded machine)
        now = time.monotonic()
        job = Job(str(uuid.uuid4()), api, name, tier, now, now + self.config.job_seconds)
        job.pages, job.failure = pages, failure
        with self._lock:
            if self.credits_left is not None:
                if job.credits > self.credits_left:
                    raise HttpError(
                        402,
                        f"Insufficient credits: this job needs {job.credits}, "
                        f"{self.credits_left:g} left. Upgrade your plan or add credits.",
                    )
                self.credits_left -= job.credits
            self.jobs[job.id] = job
        return job

    def _state(self, job: Job) -> str:
        if self.config.job_polls is not None:  # a clock of status reads: recordings do not churn
            progress = job.reads / max(self.config.job_polls, 1)
            if job.announced and time.monotonic() >= job.ready_at:
                progress = 1.0  # its webhook said so: a read after the delivery must agree
        else:
            progress = (time.monotonic() - job.created) / max(self.config.job_seconds, 1e-9)
        if progress < 0.5:
            return "QUEUED" if (self.config.revision == 2 and job.api == "v2") else "PENDING"
        if progress < 1:
            return "RUNNING" if job.api == "v2" else "PENDING"
        if job.api == "v2":
            return "FAILED" if job.failure else "COMPLETED"
        return "ERROR" if job.failure else "SUCCESS"

    def _metadata(self, job: Job) -> dict[str, Any]:
        pages: Any = len(job.pages) if self.config.revision == 1 else str(len(job.pages))  # r2: type changed
        metadata: dict[str, Any] = {
            "credits_used": float(job.credits),
            "job_credits_usage": job.credits,
            "job_pages": pages,
            "job_auto_mode_triggered_pages": 0,
            "job_is_cache_hit": False,
        }
        if job.api == "v2":
            metadata["credits_max"] = job.credits  # v1 results do not carry it
        return metadata

    # -- v2 ------------------------------------------------------------------------------------------

    def _v2_job(self, job: Job) -> dict[str, Any]:
        status = self._state(job)
        body: dict[str, Any] = {
            "id": job.id,
            "project_id": PROJECT_ID,
            "status": status,
            "created_at": CREATED_AT,
            "updated_at": CREATED_AT,
            "error_message": job.failure and str(job.failure) if status == "FAILED" else None,
            "name": job.name,
            "tier": job.tier,
        }
        if self.config.revision == 2:
            body["priority"] = "normal"  # a field added
            del body["tier"]  # a field removed
            body["name"] = None  # a field made nullable
        return body

    def _configure(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise HttpError(422, "configuration must be a JSON object")
        tier = raw.get("tier")
        if not isinstance(tier, str) or tier not in CREDITS_PER_PAGE:
            raise HttpError(422, f"tier must be one of {', '.join(CREDITS_PER_PAGE)}; got {tier!r}")
        if not isinstance(raw.get("version", "latest"), str):
            raise HttpError(422, "version must be a string")
        hooks = raw.get("webhook_configurations") or []
        if not isinstance(hooks, list) or not all(
            isinstance(h, dict)
            and isinstance(h.get("webhook_url"), str)
            and isinstance(h.get("webhook_headers") or {}, dict)
            and isinstance(h.get("webhook_events") or [], list)
            for h in hooks
        ):
            raise HttpError(422, "webhook_configurations must be a list of objects with a webhook_url")
        return raw

    def _schedule_v2_webhooks(self, job: Job, hooks: list[dict[str, Any]]) -> None:
        final = "FAILED" if job.failure else "COMPLETED"
        event = V2_EVENTS[final]
        for hook in hooks:
            wanted = hook.get("webhook_events")
            if wanted and event not in wanted:
                continue
            payload = {
                "event_type": event,
                "job_id": job.id,
                "status": final,
                "timestamp": CREATED_AT,
                "data": {"job_id": job.id, "status": final, "tier": job.tier, "pages": len(job.pages)},
            }
            headers = {str(k): str(v) for k, v in (hook.get("webhook_headers") or {}).items()}
            job.announced = True
            self.webhooks.send_at(job.ready_at, Delivery(hook["webhook_url"], payload, headers))

    async def v2_upload(self, request: Request) -> Response:
        self._admit(request)
        async with request.form() as form:
            try:
                config = self._configure(jsonbody.loads(str(form.get("configuration") or "{}")))
            except ValueError:
                raise HttpError(422, "configuration must be a JSON string") from None
            name, data = await self._file(form)
        job = self._start("v2", name, config["tier"], data)
        self._schedule_v2_webhooks(job, config.get("webhook_configurations") or [])
        return JSONResponse(self._v2_job(job))

    async def v2_create(self, request: Request) -> Response:
        self._admit(request)
        try:
            config = self._configure(jsonbody.loads(await request.body()))
        except ValueError:
            raise HttpError(422, "the request body must be JSON") from None
        source_url = config.get("source_url")
        if config.get("file_id"):
            raise HttpError(
                422,
                "the sandbox has no files API: upload the file (POST /api/v2/parse/upload) "
                "or pass a loopback source_url",
            )
        if not isinstance(source_url, str) or not source_url:
            raise HttpError(422, "provide file_id or source_url")
        data = await self._fetch(source_url)
        name = source_url.rsplit("/", 1)[-1].split("?", 1)[0] or "document"
        job = self._start("v2", name, config["tier"], data)
        self._schedule_v2_webhooks(job, config.get("webhook_configurations") or [])
        return JSONResponse(self._v2_job(job))

    @staticmethod
    async def _fetch(url: str) -> bytes:
        """Download a source_url; only loopback hosts (e.g. a sandbox signed URL), never the internet."""
        host = (urlsplit(url).hostname or "").lower()
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise HttpError(422, f"the sandbox only fetches loopback source_url documents, not {host!r}")
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            raise HttpError(422, f"source_url could not be fetched: {exc}") from exc
        if response.status_code != 200:
            raise HttpError(422, f"source_url answered {response.status_code}")
        return response.content

    async def v2_get(self, request: Request) -> Response:
        self._admit(request)
        job = self._job(request.path_params["job_id"], read=True)
        expand = {
            part.strip() for value in request.query_params.getlist("expand") for part in value.split(",")
        }
        body: dict[str, Any] = {"job": self._v2_job(job)}
        if body["job"]["status"] == "COMPLETED":
            if "text" in expand:
                body["text"] = {"pages": [{"page_number": n, "text": t} for n, t in enumerate(job.pages, 1)]}
                body["text_full"] = "\n\n".join(job.pages)
            if "markdown" in expand:
                body["markdown"] = {
                    "pages": [
                        {"page_number": n, "markdown": t, "success": True, "header": None, "footer": None}
                        for n, t in enumerate(job.pages, 1)
                    ]
                }
                body["markdown_full"] = "\n\n".join(job.pages)
            if "job_metadata" in expand:
                body["job_metadata"] = self._metadata(job)
            if "usage" in expand:
                body["job"]["usage"] = {"credits": float(job.credits)}
        return JSONResponse(body)

    # -- v1 ------------------------------------------------------------------------------------------

    async def v1_upload(self, request: Request) -> Response:
        self._admit(request)
        async with request.form() as form:
            mode = str(form.get("parse_mode") or "")
            if form.get("premium_mode") == "true":
                tier = "agentic_plus"
            elif form.get("fast_mode") == "true":
                tier = "fast"
            elif mode:
                if mode not in V1_MODES:
                    raise HttpError(400, f"Unknown parse_mode {mode!r}")
                tier = V1_MODES[mode]
            else:
                tier = "cost_effective"
            webhook = str(form.get("webhook_url") or "")
            input_url = str(form.get("input_url") or "")
            if input_url and not isinstance(form.get("file"), UploadFile):
                name, data, failure = await self._download(input_url)
            else:
                (name, data), failure = await self._file(form), None
        job = self._start("v1", name, tier, data, failure)
        if webhook and not job.failure:
            payload = {
                "txt": "\n---\n".join(job.pages),
                "md": "\n---\n".join(job.pages),
                "json": [{"page": n, "text": t, "md": t, "images": []} for n, t in enumerate(job.pages, 1)],
                "images": [],
            }
            job.announced = True
            self.webhooks.send_at(job.ready_at, Delivery(webhook, payload))
        return JSONResponse({"id": job.id, "status": "PENDING"})

    async def _download(self, url: str) -> tuple[str, bytes, ParseFailure | None]:
        """A v1 ``input_url``: accepted at once like the real service; a document the sandbox
        cannot fetch (it only reaches loopback) makes the job fail, as a dead link does."""
        name = url.rsplit("/", 1)[-1].split("?", 1)[0] or "document"
        try:
            return name, await self._fetch(url), None
        except HttpError as refused:
            return name, b"", ParseFailure("INPUT_URL_UNREACHABLE", str(refused.body["detail"]))

    async def v1_status(self, request: Request) -> Response:
        self._admit(request)
        job = self._job(request.path_params["job_id"], read=True)
        status = self._state(job)
        failed = status == "ERROR" and job.failure is not None
        body: dict[str, Any] = {
            "id": job.id,
            "status": status,
            # present, null, on every job (as in 2026 recordings); set when the job failed
            "error_code": job.failure.code if failed and job.failure else None,
            "error_message": str(job.failure) if failed else None,
        }
        return JSONResponse(body)

    async def v1_result(self, request: Request) -> Response:
        self._admit(request)
        job = self._job(request.path_params["job_id"])
        kind = request.path_params["kind"]
        status = self._state(job)
        if status != "SUCCESS":
            raise HttpError(400, f"Job {job.id} is not complete (status {status})")
        metadata = self._metadata(job)
        if kind == "text":
            return JSONResponse({"text": "\n---\n".join(job.pages), "job_metadata": metadata})
        if kind == "markdown":
            return JSONResponse({"markdown": "\n---\n".join(job.pages), "job_metadata": metadata})
        if kind == "json":
            pages = [
                {
                    "page": n,
                    "text": t,
                    "md": t,
                    "images": [],
                    "items": [{"type": "text", "value": t, "md": t}],
                    "status": "OK",
                    "width": 612,
                    "height": 792,
                }
                for n, t in enumerate(job.pages, 1)
            ]
            return JSONResponse({"pages": pages, "job_metadata": metadata})
        raise HttpError(404, f"Unknown result type {kind!r}")
