"""Contracts as OpenAPI 3.1, one document per service, for oasdiff, Schemathesis and friends.

Each endpoint template becomes a path (``{path*}`` as a plain ``{path}`` parameter), each status
class a ``2XX``-style response, each contract a component schema. Variants of one operation and
status (PostgREST column selections, OpenAI encoding formats) are offered as ``anyOf``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from contracttape.contracts.book import ContractFile, strip_annotations

OPENAPI_VERSION = "3.1.0"


def _path(template: str) -> str:
    return template.replace("*}", "}")


def _parameters(template: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{([a-z_]+)\*?\}", template)
    ]


def _component_name(contract: ContractFile) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", contract.endpoint.slug)


def document(service: str, contracts: Iterable[ContractFile]) -> dict[str, Any]:
    operations: dict[tuple[str, str], dict[str, list[ContractFile]]] = defaultdict(lambda: defaultdict(list))
    schemas: dict[str, Any] = {}
    for contract in sorted(contracts, key=lambda c: c.endpoint):
        endpoint = contract.endpoint
        operations[(endpoint.template, endpoint.method.lower())][endpoint.status_class.upper()].append(
            contract
        )
        schema = strip_annotations(contract.schema)
        schema["title"] = endpoint.describe()
        schemas[_component_name(contract)] = schema
    paths: dict[str, Any] = {}
    for (template, method), by_status in sorted(operations.items()):
        responses = {}
        for status, group in sorted(by_status.items()):
            refs = [{"$ref": f"#/components/schemas/{_component_name(c)}"} for c in group]
            media = sorted({m for c in group for m in c.media_types}) or ["application/json"]
            schema = refs[0] if len(refs) == 1 else {"anyOf": refs}
            seen = sum(c.samples for c in group)
            responses[status] = {
                "description": f"{status} responses seen in {seen} recorded sample(s)",
                "content": {m: {"schema": schema} for m in media},
            }
        operation: dict[str, Any] = {
            "operationId": f"{method}_{re.sub(r'[^a-z0-9]+', '_', template.lower()).strip('_')}",
            "responses": responses,
        }
        if any(c.endpoint.generic for g in by_status.values() for c in g):
            operation["x-contracttape-generic"] = True
        parameters = _parameters(template)
        if parameters:
            operation["parameters"] = parameters
        paths.setdefault(_path(template), {})[method] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": f"{service} (as recorded by contracttape)", "version": "recorded"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
