"""Ingestion: claim -> download -> parse -> chunk -> embed -> store -> done, resumable.

Every step is written down in the ``documents`` row before the next one, so a crash anywhere
leaves a state a re-run finishes: the LlamaParse job id is kept (a re-run never pays to parse
twice), chunks are upserted on ``(document_id, idx)`` (never duplicated) and only the chunks not
stored yet are embedded again. Paid steps are estimated and checked against the document's and
the user's budget before they are sent.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from typing import Any

import openai
import pypdf

from docpipe.chunking import Chunk, chunk_markdown, count_tokens
from docpipe.costs import Costs
from docpipe.errors import Busy, PipelineError
from docpipe.parse import Parser
from docpipe.resilience import RateLimiter
from docpipe.settings import Settings
from docpipe.store import UserStore

log = logging.getLogger("docpipe.ingest")
RETRIED = frozenset({408, 409, 429}) | frozenset(range(500, 600))  # what the OpenAI SDK retries


@dataclass
class Outcome:
    document: dict[str, Any]
    parsed_now: bool = False  # False when a previous run's parse job was reused
    embedded: int = 0  # chunks embedded by this run
    embed_calls: int = 0
    spent_usd: float = 0.0
    steps: list[str] = field(default_factory=list)


class Embedder:
    def __init__(self, settings: Settings, limiter: RateLimiter) -> None:
        self.settings = settings
        self.limiter = limiter
        self.client = openai.AsyncOpenAI(
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            max_retries=settings.attempts - 1,
        )

    async def aclose(self) -> None:
        await self.client.close()

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Vectors (in input order) and the tokens OpenAI billed."""
        await self.limiter.acquire()
        try:
            answer = await self.client.embeddings.create(model=self.settings.embedding_model, input=texts)
        except openai.APIStatusError as exc:
            tries = self.settings.attempts if exc.status_code in RETRIED else 1
            raise PipelineError(
                "embed", f"OpenAI answered {exc.status_code} after {tries} attempt(s): {_message(exc)}"
            ) from exc
        except openai.APIConnectionError as exc:  # timeouts included
            raise PipelineError(
                "embed", f"OpenAI could not be reached after {self.settings.attempts} attempt(s): {exc}"
            ) from exc
        ordered = sorted(answer.data, key=lambda d: d.index)
        return [list(d.embedding) for d in ordered], int(answer.usage.total_tokens)


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        return str(body.get("message") or body)
    return exc.message


class Ingestion:
    def __init__(self, settings: Settings, parser: Parser, embedder: Embedder, costs: Costs) -> None:
        self.settings, self.parser, self.embedder, self.costs = settings, parser, embedder, costs

    async def run(self, store: UserStore, document_id: str, user_id: str) -> Outcome:
        document, claimed = await store.claim(document_id)
        outcome = Outcome(document)
        if document["status"] == "done":
            outcome.steps.append("already done")
            return outcome
        if not claimed:  # never two runs on one document: they would pay twice
            raise Busy(
                "claim",
                f"document {document_id} is being ingested ({document['status']}); "
                "retry when it is done, or after 10 minutes if that run died",
            )
        try:
            await self._run(store, outcome, user_id)
        except PipelineError as exc:
            status = "refused" if exc.status == 402 else "failed"
            outcome.document = await store.update_document(document_id, status=status, error=str(exc))
            raise
        return outcome

    async def _run(self, store: UserStore, outcome: Outcome, user_id: str) -> None:
        doc = outcome.document
        doc_id = str(doc["id"])
        spent = float(doc["cost_usd"] or 0)
        if doc.get("parse_job_id"):
            job_id = str(doc["parse_job_id"])
            outcome.steps.append("parse job reused")
        else:
            data = await store.download(str(doc["storage_path"]))
            pages = _pages(data, str(doc["filename"]))
            estimate = self.costs.parse_estimate(pages, self.settings.tier)
            self.costs.check("parse", spent, await store.user_spent(user_id), estimate)
            job_id = await self.parser.submit(str(doc["filename"]), data)
            outcome.parsed_now = True
            doc = await store.update_document(
                doc_id, status="parsing", parse_job_id=job_id, pages=pages, error=None
            )
            outcome.steps.append("parse submitted")
        parsed = await self.parser.result(job_id, str(doc["filename"]))
        if outcome.parsed_now:
            spent = await self._charge(store, doc_id, user_id, spent, self.costs.parse_cost(parsed.credits))
            outcome.spent_usd += self.costs.parse_cost(parsed.credits)
        chunks = chunk_markdown(parsed.markdown, self.settings.chunk_tokens)
        if not chunks:
            raise PipelineError("chunk", f"LlamaParse found no text in {doc['filename']}")
        await store.update_document(doc_id, status="embedding", pages=parsed.pages, cost_usd=spent)
        stored = await store.stored_chunks(doc_id)
        todo = [c for c in chunks if c.idx not in stored]
        estimate = self.costs.embed_cost(sum(count_tokens(c.content) for c in todo))
        self.costs.check("embed", spent, await store.user_spent(user_id), estimate)
        for start in range(0, len(todo), self.settings.embed_batch):
            batch = todo[start : start + self.settings.embed_batch]
            vectors, tokens = await self.embedder.embed([c.content for c in batch])
            outcome.embed_calls += 1
            cost = self.costs.embed_cost(tokens)
            await store.upsert_chunks(_rows(doc_id, batch, vectors))  # stored before it is charged
            spent = await self._charge(store, doc_id, user_id, spent, cost)
            outcome.spent_usd += cost
            outcome.embedded += len(batch)
        await store.drop_chunks_from(doc_id, len(chunks))
        outcome.document = await store.update_document(
            doc_id, status="done", chunk_count=len(chunks), cost_usd=spent, error=None
        )
        outcome.steps.append("done")

    async def _charge(self, store: UserStore, doc_id: str, user_id: str, before: float, cost: float) -> float:
        user_before = await store.user_spent(user_id)
        after = before + cost
        await store.update_document(doc_id, cost_usd=after)
        await self.costs.spent(doc_id, user_id, (before, after), (user_before, user_before + cost))
        return after


def _pages(data: bytes, filename: str) -> int:
    try:
        return len(pypdf.PdfReader(io.BytesIO(data)).pages)
    except Exception as exc:  # pypdf raises many kinds for a broken file
        raise PipelineError(
            "parse", f"{filename} is not a readable PDF ({type(exc).__name__}: {exc})"
        ) from exc


def _rows(doc_id: str, chunks: list[Chunk], vectors: list[list[float]]) -> list[dict[str, Any]]:
    return [
        {"document_id": doc_id, "idx": c.idx, "content": c.content, "tokens": c.tokens, "embedding": v}
        for c, v in zip(chunks, vectors, strict=True)
    ]
