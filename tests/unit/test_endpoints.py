from __future__ import annotations

import pytest

from contracttape.model import RecordedRequest
from contracttape.services import default_catalogue
from contracttape.services.profile import Catalogue, Route, ServiceProfile

J = (("content-type", "application/json"),)


@pytest.mark.parametrize(
    ("request_", "status", "slug"),
    [
        (
            RecordedRequest(
                "POST",
                "https://api.openai.com/v1/embeddings",
                J,
                b'{"input":"a","model":"m","encoding_format":"base64"}',
            ),
            200,
            "post_v1_embeddings__encoding_format=base64__2xx",
        ),
        (
            RecordedRequest("POST", "https://api.openai.com/v1/embeddings", J, b'{"input":"a","model":"m"}'),
            200,
            "post_v1_embeddings__encoding_format=float__2xx",
        ),
        (
            RecordedRequest("POST", "https://api.openai.com/v1/chat/completions", J, b'{"stream":true}'),
            200,
            "post_v1_chat_completions__stream=true__2xx",
        ),
        (
            RecordedRequest("POST", "https://api.openai.com/v1/embeddings", J, b"{}"),
            429,
            "post_v1_embeddings__4xx",  # errors are not split by success-shape variants
        ),
        (
            RecordedRequest(
                "GET",
                "https://x.supabase.co/rest/v1/documents?select=status,id&id=eq.1",
                (("accept", "application/vnd.pgrst.object+json"),),
            ),
            200,
            "get_rest_v1_table__accept=object__select=id,status__table=documents__2xx",
        ),
        (
            RecordedRequest("GET", "https://x.supabase.co/rest/v1/chunks?select=*"),
            200,
            "get_rest_v1_table__select=all__table=chunks__2xx",
        ),
        (
            RecordedRequest(
                "POST",
                "https://x.supabase.co/rest/v1/rpc/match_chunks",
                J,
                b'{"query_embedding":[1],"match_count":3}',
            ),
            200,
            "post_rest_v1_rpc_function__args=match_count,query_embedding__function=match_chunks__2xx",
        ),
        (
            RecordedRequest("POST", "https://x.supabase.co/storage/v1/object/sign/documents/u1/deep/a.pdf"),
            200,
            "post_storage_v1_object_sign_bucket_path__2xx",
        ),
        (
            RecordedRequest("POST", "https://x.supabase.co/storage/v1/object/sign/documents"),
            200,
            "post_storage_v1_object_sign_bucket__2xx",
        ),
        (
            RecordedRequest("POST", "https://x.supabase.co/auth/v1/token?grant_type=password"),
            400,
            "post_auth_v1_token__4xx",
        ),
        (
            RecordedRequest("GET", "https://api.cloud.llamaindex.ai/api/v2/parse/abc?expand=text,markdown"),
            200,
            "get_api_v2_parse_job_id__expand=markdown,text__2xx",
        ),
        (
            RecordedRequest("GET", "https://api.cloud.llamaindex.ai/api/parsing/job/abc/result/markdown"),
            200,
            "get_api_parsing_job_job_id_result_markdown__2xx",
        ),
        (RecordedRequest("GET", "https://api.openai.com/v1/files"), 200, "_generic__get_v1_files__2xx"),
    ],
)
def test_catalogue_keys(request_: RecordedRequest, status: int, slug: str) -> None:
    endpoint = default_catalogue().endpoint(request_, status)
    assert endpoint is not None
    assert endpoint.slug == slug


def test_ids_never_become_part_of_the_key() -> None:
    catalogue = default_catalogue()
    a = catalogue.endpoint(RecordedRequest("GET", "https://api.cloud.llamaindex.ai/api/v2/parse/job-1"), 200)
    b = catalogue.endpoint(RecordedRequest("GET", "https://api.cloud.llamaindex.ai/api/v2/parse/job-2"), 200)
    assert a == b


def test_unknown_hosts_have_no_endpoint_and_users_can_add_services() -> None:
    request = RecordedRequest("GET", "https://api.acme.test/widgets/42")
    catalogue = default_catalogue()
    assert catalogue.endpoint(request, 200) is None
    catalogue.register(ServiceProfile("acme", ("api.acme.test",), (Route("GET", "/widgets/{widget_id}"),)))
    endpoint = catalogue.endpoint(request, 200)
    assert endpoint is not None
    assert endpoint.describe() == "acme GET /widgets/{widget_id} 2xx"
    assert Catalogue().endpoint(request, 200) is None


def test_error_contracts_are_keyed_by_status_and_error_code_not_by_success_variants() -> None:
    import json

    from contracttape.model import RecordedResponse
    from contracttape.services import default_catalogue

    def request(encoding: str) -> RecordedRequest:
        body = json.dumps({"model": "nope", "input": "x", "encoding_format": encoding}).encode()
        return RecordedRequest(
            "POST", "https://api.openai.com/v1/embeddings", (("content-type", "application/json"),), body
        )

    def error(status: int, code: str) -> RecordedResponse:
        body = json.dumps({"error": {"message": "m", "type": "invalid_request_error", "code": code}}).encode()
        return RecordedResponse(status, "", (("content-type", "application/json"),), body)

    catalogue = default_catalogue()
    one = catalogue.endpoint(request("float"), 404, error(404, "model_not_found"))
    two = catalogue.endpoint(request("base64"), 404, error(404, "model_not_found"))
    limited = catalogue.endpoint(request("float"), 429, error(429, "rate_limit_exceeded"))
    assert one is not None
    assert limited is not None
    assert one == two
    assert one.slug == "post_v1_embeddings__code=model_not_found__4xx"
    assert limited.slug == "post_v1_embeddings__code=rate_limit_exceeded__4xx"
    ok = catalogue.endpoint(request("base64"), 200, RecordedResponse(200, "OK", (), b"{}"))
    assert ok is not None
    assert ok.slug == "post_v1_embeddings__encoding_format=base64__2xx"
