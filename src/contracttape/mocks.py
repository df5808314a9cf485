"""Contract-checked mocks: respx routes that cannot drift from the real API.

Unit tests mock HTTP by hand, and hand-written mocks drift: a mock keeps answering a field the
real API renamed a year ago. Here every mocked response is checked against the committed
contract of its endpoint (found through the service catalogue, as replayed responses are), and a
response the contract forbids fails the test with the message a replay violation gets::

    mocks = ContractMocks.for_project()            # or the ``contracttape_mocks`` fixture
    with mocks.router() as router:                 # a respx router: httpx clients are patched
        router.post("https://api.openai.com/v1/embeddings").mock(
            return_value=mocks.recorded(endpoint="openai POST /v1/embeddings",
                                        overrides={"data[0].embedding": [0.5] * 1536})
        )
        client = openai.OpenAI(api_key="x", http_client=httpx2.Client(transport=mocks.httpx2(router)))

respx patches httpx; openai 3.x talks httpx2, so ``mocks.httpx2(router)`` serves the same routes
through an httpx2 mock transport. Responses can come from reality: a recorded answer (by cassette
and index, or the latest sample of an endpoint) with overrides, or the service's own error answer
(the one fault injection serves).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import respx

from contracttape.bodies import FRAMING_HEADERS, decoded, parse_json
from contracttape.cassettes import CassetteCache
from contracttape.contracts.book import ContractBook, Violation
from contracttape.errors import ConfigError, ContractViolation
from contracttape.faults.answers import status_answer
from contracttape.faults.spec import Fault
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from contracttape.services.profile import Catalogue

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class CheckedRouter(respx.MockRouter):
    """A respx router whose every response is checked against its endpoint's contract."""

    def __init__(self, mocks: ContractMocks, **options: Any) -> None:
        super().__init__(**options)
        self.mocks = mocks

    def handler(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = super().handler(request)
        self.mocks.check(request, response)
        return response

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await super().async_handler(request)
        self.mocks.check(request, response)
        return response


class ContractMocks:
    def __init__(
        self,
        contracts: ContractBook,
        catalogue: Catalogue,
        cassettes: Path,
        *,
        where: str = "mock",
        uncovered: str = "report",
    ) -> None:
        if uncovered not in ("report", "error"):
            raise ConfigError(f"uncovered= is 'report' or 'error', not {uncovered!r}")
        self.contracts, self.catalogue, self.cassettes = contracts, catalogue, cassettes
        self.where, self.uncovered_policy = where, uncovered
        self.violations: list[ContractViolation] = []
        self.uncovered: list[str] = []  # mocked responses no contract covers
        self._cache = CassetteCache()
        self._lock = threading.Lock()

    @classmethod
    def for_project(cls, root: Path | None = None, **options: Any) -> ContractMocks:
        """Mocks checked against a project's committed contracts (its ``[tool.contracttape]``)."""
        from contracttape.run import Run  # the one place that wires a run

        run = Run.build((root or Path.cwd()).resolve())
        return cls(run.contracts, run.catalogue, run.cassettes, **options)

    # -- routers -----------------------------------------------------------------------------------

    def router(self, **options: Any) -> CheckedRouter:
        """A respx router (``with mocks.router() as router:`` patches httpx), checked."""
        return CheckedRouter(self, **options)

    def httpx2(self, router: respx.MockRouter) -> Any:
        """An httpx2 transport serving ``router``'s routes (openai 3.x talks httpx2, which respx
        does not patch): ``httpx2.Client(transport=mocks.httpx2(router))``."""
        import httpx2

        def handle(request: Any) -> Any:
            response = router.handler(
                httpx.Request(
                    request.method,
                    str(request.url),
                    headers=list(request.headers.multi_items()),
                    content=request.read(),
                )
            )
            return httpx2.Response(
                response.status_code,
                headers=[
                    (k, v) for k, v in response.headers.multi_items() if k.lower() not in FRAMING_HEADERS
                ],
                content=response.content,
            )

        return httpx2.MockTransport(handle)

    # -- the check -----------------------------------------------------------------------------------

    def check(self, request: httpx.Request, response: httpx.Response) -> None:
        interaction = Interaction(_recorded_request(request), _recorded_response(response))
        found = self.contracts.check_covered(interaction)
        shown = f"{request.method} {request.url}"
        if found is None:
            with self._lock:
                self.uncovered.append(shown)
            if self.uncovered_policy == "error":
                raise self._failure(
                    f"{self.where}: the mock for {shown} answers {response.status_code}, and no committed "
                    "contract covers that endpoint: record it (contracttape record) and build the contracts, "
                    "or mock it with uncovered='report'"
                )
            return
        if found:
            raise self._failure(_message(self.where, shown, found[0]))

    def _failure(self, message: str) -> ContractViolation:
        error = ContractViolation(message)
        with self._lock:
            self.violations.append(error)
        return error

    # -- responses from reality -------------------------------------------------------------------------

    def recorded(
        self,
        cassette: str | Path | None = None,
        index: int | None = None,
        *,
        endpoint: str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """A recorded answer: interaction ``index`` of ``cassette`` (a path under the cassette
        root), or the latest recorded sample of ``endpoint`` (``"openai POST /v1/embeddings"``),
        with ``overrides`` (``{"data[0].embedding": [...]}``) applied to its JSON body."""
        found = self._find(cassette, index, endpoint)
        answer = decoded(found.response)
        body = answer.body
        if overrides:
            ok, parsed = parse_json(body)
            if not ok:
                raise ConfigError(
                    f"overrides need a JSON answer; {found.request.describe()} answered another kind"
                )
            for path, value in overrides.items():
                parsed = _set(parsed, path, value)
            body = json.dumps(parsed).encode()
        return httpx.Response(answer.status, headers=list(answer.headers), content=body)

    def _find(self, cassette: str | Path | None, index: int | None, endpoint: str | None) -> Interaction:
        if cassette is not None:
            path = Path(cassette) if Path(cassette).is_absolute() else self.cassettes / cassette
            loaded = self._cache.load(path)
            if loaded is None or not loaded.interactions:
                raise ConfigError(f"{path}: no such cassette, or it holds no interaction")
            position = index if index is not None else len(loaded.interactions) - 1
            if not -len(loaded.interactions) <= position < len(loaded.interactions):
                raise ConfigError(f"{path} holds {len(loaded.interactions)} interaction(s), not #{position}")
            return loaded.interactions[position]
        if endpoint is None:
            raise ConfigError("recorded() needs a cassette (and index) or an endpoint")
        latest: Interaction | None = None
        for path in sorted(self.cassettes.rglob("*.yaml")):
            loaded = self._cache.load(path)
            for interaction in loaded.interactions if loaded else ():
                found = self.catalogue.endpoint(
                    interaction.request, interaction.response.status, interaction.response
                )
                if found is not None and _names(found.describe(), endpoint):
                    latest = interaction
        if latest is None:
            raise ConfigError(f"no recorded answer of {endpoint!r} under {self.cassettes}")
        return latest

    def error(self, method: str, url: str, status: int, retry_after: float | None = None) -> httpx.Response:
        """The service's own error answer for ``status`` (what fault injection serves)."""
        fault = Fault(status, retry_after=retry_after).checked()
        answer = status_answer(self.catalogue, RecordedRequest(method.upper(), url), fault)
        return httpx.Response(answer.status, headers=list(answer.headers), content=answer.body)


def _names(described: str, wanted: str) -> bool:
    """``openai POST /v1/embeddings [encoding_format=float] 2xx`` is named by its first words."""
    return described == wanted or described.startswith(wanted + " ")


def _set(document: Any, path: str, value: Any) -> Any:
    steps = [int(index) if index else key for key, index in _STEP.findall(path)]
    if not steps:
        raise ConfigError(f"override {path!r} names no field")
    root = copy.deepcopy(document)
    node = root
    for step in steps[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            raise ConfigError(f"override {path!r}: the recorded answer has no {step!r} there") from None
    try:
        node[steps[-1]] = value
    except (IndexError, TypeError):
        raise ConfigError(f"override {path!r}: cannot set {steps[-1]!r} there") from None
    return root


def _message(where: str, shown: str, violation: Violation) -> str:
    return (
        f"{where}: {violation}\n  the mock for {shown} answers what the real API's contract forbids. "
        "Fix the mock (build it from a recording: mocks.recorded(...)), or if the API really changed, "
        "re-record and rebuild the contracts"
    )


def _recorded_request(request: httpx.Request) -> RecordedRequest:
    return RecordedRequest(
        request.method, str(request.url), tuple(request.headers.multi_items()), request.read()
    )


def _recorded_response(response: httpx.Response) -> RecordedResponse:
    headers = tuple((k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding")
    return RecordedResponse(response.status_code, response.reason_phrase, headers, response.read())
