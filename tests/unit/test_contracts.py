"""Contracts on realistic bodies: build, validate with precise messages, rebuild byte-identically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from contracttape.cassettes import dumps
from contracttape.contracts.book import (
    ContractBook,
    ContractFile,
    contract_path,
    contracts_from,
    observations_in,
    observe,
    write_contracts,
)
from contracttape.contracts.openapi import document
from contracttape.errors import ContractError
from contracttape.model import Interaction
from contracttape.services import default_catalogue
from tests.unit.realistic import chat, chat_stream, documents, embeddings, llama_job, realistic_set

SERVICES = ["openai", "llamaparse", "supabase"]


def build(tmp_path: Path, interactions: list[Interaction]) -> ContractBook:
    contracts = contracts_from(observe(interactions, default_catalogue(), "2026-01-02T00:00:00+00:00"))
    write_contracts(contracts, tmp_path, SERVICES)
    return ContractBook(tmp_path, default_catalogue())


def mutate(interaction: Interaction, change: dict[str, object]) -> Interaction:
    body = json.loads(interaction.response.body)
    body.update(change)
    return Interaction(interaction.request, interaction.response.with_(body=json.dumps(body).encode()))


def test_every_realistic_response_satisfies_its_own_contract(tmp_path: Path) -> None:
    book = build(tmp_path, realistic_set())
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json")) == [
        "llamaparse/get_api_v2_parse_job_id__expand=job_metadata,text__2xx.schema.json",
        "openai/post_v1_chat_completions__stream=false__2xx.schema.json",
        "openai/post_v1_chat_completions__stream=true__2xx.schema.json",
        "openai/post_v1_embeddings__encoding_format=base64__2xx.schema.json",
        "openai/post_v1_embeddings__encoding_format=float__2xx.schema.json",
        "supabase/get_rest_v1_table__select=created_at,filename,id,owner_id,pages,status__table=documents__2xx.schema.json",
        "supabase/post_storage_v1_object_sign_bucket_path__2xx.schema.json",
    ]
    assert all(book.check(i) == [] for i in realistic_set())


def test_shapes_learned_from_realistic_bodies(tmp_path: Path) -> None:
    build(tmp_path, realistic_set())
    b64 = json.loads(
        (tmp_path / "openai/post_v1_embeddings__encoding_format=base64__2xx.schema.json").read_text()
    )
    item = b64["properties"]["data"]["items"]
    assert item["properties"]["embedding"]["contentEncoding"] == "base64"
    assert b64["x-contracttape"]["samples"] == 3
    rows = json.loads(next((tmp_path / "supabase").glob("get_rest*")).read_text())
    assert rows["type"] == "array"
    assert rows["items"]["properties"]["pages"]["type"] == ["integer", "null"]
    assert rows["items"]["properties"]["id"]["format"] == "uuid"
    assert rows["items"]["properties"]["created_at"]["format"] == "date-time"
    assert rows["x-contracttape"]["samples"] == 2
    job = json.loads(next((tmp_path / "llamaparse").glob("*.json")).read_text())
    assert job["properties"]["job"]["properties"]["error_message"]["type"] == "null"
    assert job["properties"]["text"]["type"] == ["object", "null"]
    stream = json.loads(
        (tmp_path / "openai/post_v1_chat_completions__stream=true__2xx.schema.json").read_text()
    )
    assert stream["items"]["properties"]["usage"]["x-evidence"] == {
        "present": 2,
        "of": 8,
        "null": 0,
        "empty_array": 0,
    }


@pytest.mark.parametrize(
    ("broken", "path", "expected"),
    [
        (
            mutate(embeddings(7), {"usage": {"prompt_tokens": "8", "total_tokens": 8}}),
            "$.usage.prompt_tokens",
            'type "integer"',
        ),
        (mutate(chat(7), {"choices": None}), "$.choices", 'type "array"'),
        (mutate(chat(7), {"id": 12}), "$.id", 'type "string"'),
        (
            mutate(
                llama_job("0b6f4c1e-0000-4000-8000-000000000009", "COMPLETED"), {"job": {"id": "not-a-uuid"}}
            ),
            "$.job",
            "required",
        ),
    ],
)
def test_a_mutated_response_is_caught_precisely(
    tmp_path: Path, broken: Interaction, path: str, expected: str
) -> None:
    book = build(tmp_path, realistic_set())
    violations = book.check(broken)
    assert violations, "the mutation went unnoticed"
    first = violations[0]
    assert first.json_path == path
    assert expected in first.expected
    assert str(first.contract).startswith(str(tmp_path))
    assert f"at {path}: " in str(first)
    assert "expected:" in str(first)
    assert "contract:" in str(first)


def test_format_violation_names_value(tmp_path: Path) -> None:
    book = build(tmp_path, realistic_set())
    bad = documents(1)
    rows = json.loads(bad.response.body)
    rows[0]["id"] = "not-a-uuid"
    (violation,) = book.check(Interaction(bad.request, bad.response.with_(body=json.dumps(rows).encode())))
    assert violation.json_path == "$[0].id"
    assert violation.expected == 'format "uuid"'
    assert violation.actual == '"not-a-uuid"'


def test_stream_events_are_validated(tmp_path: Path) -> None:
    book = build(tmp_path, realistic_set())
    stream = chat_stream(3)
    broken = stream.response.body.replace(b'"completion_tokens": 1', b'"completion_tokens": "one"')
    (violation,) = book.check(Interaction(stream.request, stream.response.with_(body=broken)))
    assert violation.json_path == "$[3].usage.completion_tokens"


def test_unchanged_rebuild_is_byte_identical(tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    (cassettes / "t").mkdir(parents=True)
    (cassettes / "t" / "a.yaml").write_text(
        dumps(realistic_set()[:8], {"recorded_at": "2026-01-01T00:00:00+00:00"})
    )
    (cassettes / "t" / "b.yaml").write_text(
        dumps(realistic_set()[8:], {"recorded_at": "2026-01-03T00:00:00+00:00"})
    )
    out = tmp_path / "contracts"
    first = write_contracts(contracts_from(observations_in(cassettes, default_catalogue())), out, SERVICES)
    texts = {p: p.read_text() for p in first.written}
    second = write_contracts(contracts_from(observations_in(cassettes, default_catalogue())), out, SERVICES)
    assert second.written == []
    assert second.removed == []
    assert sorted(second.unchanged) == sorted(first.written)
    assert {p: p.read_text() for p in second.unchanged} == texts


def test_one_cassette_at_a_time_equals_all_at_once(tmp_path: Path) -> None:
    interactions = realistic_set()
    catalogue = default_catalogue()
    whole = contracts_from(observe(interactions, catalogue, "2026-01-01"))
    halves = [
        contracts_from(observe(part, catalogue, "2026-01-01"))
        for part in (interactions[::2], interactions[1::2])
    ]
    for endpoint, contract in whole.items():
        parts = [h[endpoint] for h in halves if endpoint in h]
        merged = parts[0] if len(parts) == 1 else parts[0].merged(parts[1])
        assert merged.to_json() == contract.to_json()


def test_stale_contracts_are_removed_and_bad_files_refused(tmp_path: Path) -> None:
    build(tmp_path, realistic_set())
    stale = contract_path(tmp_path, next(iter(contracts_from(observe([embeddings(1)], default_catalogue())))))
    result = write_contracts(contracts_from(observe([chat(1)], default_catalogue())), tmp_path, SERVICES)
    assert stale in result.removed
    assert not stale.exists()
    newer = tmp_path / "x.schema.json"
    newer.write_text(json.dumps({"x-contracttape": {"format": 99}}))
    with pytest.raises(ContractError, match="newer contracttape"):
        ContractFile.from_json(newer.read_text(), newer)


def test_openapi_export_is_valid(tmp_path: Path) -> None:
    build(tmp_path, realistic_set())
    for service in SERVICES:
        contracts = [ContractFile.from_json(p.read_text(), p) for p in (tmp_path / service).glob("*.json")]
        doc = document(service, contracts)
        validate(doc)
        assert doc["openapi"] == "3.1.0"
    openai_doc = document(
        "openai", [ContractFile.from_json(p.read_text(), p) for p in (tmp_path / "openai").glob("*.json")]
    )
    chat_200 = openai_doc["paths"]["/v1/chat/completions"]["post"]["responses"]["2XX"]
    assert set(chat_200["content"]) == {"application/json", "text/event-stream"}
    assert len(chat_200["content"]["application/json"]["schema"]["anyOf"]) == 2


def _download(status: int, body: bytes, content_type: str | None) -> Interaction:
    from contracttape.model import RecordedRequest, RecordedResponse

    headers = (("content-type", content_type),) if content_type else ()
    return Interaction(
        request=RecordedRequest(
            "GET", "http://supabase.sandbox.contracttape.test/storage/v1/object/docs/a.pdf", (), b""
        ),
        response=RecordedResponse(status, "OK", headers, body),
    )


@pytest.mark.parametrize(
    ("recorded", "later", "violates"),
    [
        ([(b"%PDF-1.4 x", "application/pdf")], (b"%PDF-1.4 y", "application/pdf"), False),
        ([(b"%PDF-1.4 x", "application/pdf")], (b"", None), False),  # an empty body is always allowed
        ([(b"%PDF-1.4 x", "application/pdf")], (b"<html>", "text/html"), True),
        ([(b"%PDF-1.4 x", "application/pdf")], (b'{"a": 1}', "application/json"), True),
        ([(b"", None)], (b"", None), False),  # 204s and return=minimal writes
        ([(b"", None)], (b"binary", "application/octet-stream"), True),
    ],
)
def test_an_endpoint_with_no_json_body_is_covered_by_its_media_types(
    tmp_path: Path, recorded: list[tuple[bytes, str | None]], later: tuple[bytes, str | None], violates: bool
) -> None:
    book = build(tmp_path, [_download(200, body, ctype) for body, ctype in recorded])
    response = _download(200, *later)
    assert book.covers(response)
    found = book.check_covered(response)
    assert found is not None
    assert bool(found) is violates
    if violates:
        assert found[0].json_path == "$"
        assert "no JSON body" in found[0].evidence
