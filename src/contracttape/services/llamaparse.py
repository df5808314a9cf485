"""LlamaParse: the v2 parse API (llama-cloud 2.x) and the v1 parsing API (older clients)."""

from __future__ import annotations

from collections.abc import Mapping

from contracttape.endpoints import Route, ServiceProfile, query_values
from contracttape.model import RecordedRequest


def _expand(request: RecordedRequest, params: Mapping[str, str]) -> dict[str, str]:
    expand = sorted(set(query_values(request, "expand")))
    return {"expand": ",".join(expand)} if expand else {}


LLAMAPARSE = ServiceProfile(
    name="llamaparse",
    hosts=("api.cloud.llamaindex.ai", "api.cloud.eu.llamaindex.ai", "llamaparse.sandbox.contracttape.test"),
    routes=(
        Route("POST", "/api/v2/parse"),
        Route("GET", "/api/v2/parse"),
        Route("POST", "/api/v2/parse/upload"),
        Route("GET", "/api/v2/parse/{job_id}", _expand),
        Route("POST", "/api/parsing/upload"),
        Route("GET", "/api/parsing/job/{job_id}"),
        Route("GET", "/api/parsing/job/{job_id}/result/markdown"),
        Route("GET", "/api/parsing/job/{job_id}/result/text"),
        Route("GET", "/api/parsing/job/{job_id}/result/json"),
    ),
)
