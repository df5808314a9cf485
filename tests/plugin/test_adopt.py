"""`contracttape adopt` on a pytest-recording tree with planted secrets: scan finds them before,
scan is clean after, the suite replays, contracts exist, and adopting again changes nothing."""

from __future__ import annotations

import gzip
import json
import sys

import pytest
import yaml

from tests.secrets_corpus import openai_key, secret

TEST = """
import httpx, pytest

@pytest.mark.contracttape
def test_embed():
    with httpx.Client(base_url="http://127.0.0.1:8000") as client:
        answer = client.post(
            "/v1/embeddings",
            json={"model": "text-embedding-3-small", "input": "hello"},
            headers={"authorization": "Bearer PLACEHOLDER"},
        ).json()
    assert answer["data"][0]["embedding"] == [0.5]
"""


def pytest_recording_cassette(api_key: str, leaked: str, password: str) -> str:
    """What pytest-recording wrote (vcrpy, default filters off): secrets and gzip included."""
    answer = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.5]}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
        "debug": {"api_key": leaked, "note": f"account password={password}"},
    }
    document = {
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": "http://127.0.0.1:8000/v1/embeddings",
                    "body": json.dumps({"model": "text-embedding-3-small", "input": "hello"}),
                    "headers": {
                        "content-type": ["application/json"],
                        "authorization": [f"Bearer {api_key}"],
                        "user-agent": ["python-httpx/0.27.0"],
                    },
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {
                        "content-type": ["application/json"],
                        "content-encoding": ["gzip"],
                        "x-request-id": ["req_8f2a"],
                        "date": ["Tue, 03 Mar 2026 10:00:00 GMT"],
                    },
                    "body": {"string": gzip.compress(json.dumps(answer).encode(), mtime=0)},
                },
            }
        ],
        "version": 1,
    }
    return yaml.dump(document)


@pytest.mark.slow
def test_adopt_a_pytest_recording_tree(pytester: pytest.Pytester) -> None:
    api_key, leaked, password = openai_key("adopt-key"), openai_key("adopt-leak"), secret("adopt-pw")
    pytester.makepyprojecttoml('[tool.contracttape]\ncassettes = "tests/cassettes"\n')
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests/test_api.py").write_text(TEST.replace("PLACEHOLDER", api_key))
    cassette = pytester.path / "tests/cassettes/test_api/test_embed.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text(pytest_recording_cassette(api_key, leaked, password))

    def ct(*args: str) -> pytest.RunResult:
        return pytester.run(sys.executable, "-m", "contracttape", *args, timeout=120)

    before = ct("scan", "tests/cassettes")
    assert before.ret == 1  # the planted key in the header is found (the rest hides in gzip)

    adopted = ct("adopt", "--origin", "http://127.0.0.1:8000=https://api.openai.com")
    output = adopted.stdout.str()
    assert adopted.ret == 0, output + adopted.stderr.str()
    assert "adopted " in output
    assert "authorization" in output  # what was removed is reported, by kind
    text = cassette.read_text()
    for planted in (api_key, leaked, password):
        assert planted not in text
    data = yaml.safe_load(text)
    assert data["contracttape"]["adopted_from"] == "vcrpy"
    response = data["interactions"][0]["response"]
    assert "content-encoding" not in response["headers"]  # decoded for readability
    assert response["headers"]["x-request-id"] == ["req_normalised"]
    assert data["interactions"][0]["request"]["uri"] == "https://api.openai.com/v1/embeddings"
    assert ct("scan", "tests/cassettes").ret == 0
    assert list((pytester.path / "contracts/openai").glob("post_v1_embeddings*.schema.json"))

    again = ct("adopt", "--check", "--origin", "http://127.0.0.1:8000=https://api.openai.com")
    assert again.ret == 0, again.stdout.str()
    assert "0 to change" in again.stdout.str()
    assert cassette.read_text() == text


@pytest.mark.slow
def test_adopted_cassettes_replay(pytester: pytest.Pytester) -> None:
    api_key = openai_key("adopt-replay")
    pytester.makepyprojecttoml('[tool.contracttape]\ncassettes = "tests/cassettes"\n')
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests/test_api.py").write_text(TEST.replace("PLACEHOLDER", api_key))
    cassette = pytester.path / "tests/cassettes/test_api/test_embed.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text(pytest_recording_cassette(api_key, openai_key("l"), secret("p")))
    assert pytester.run(sys.executable, "-m", "contracttape", "adopt", timeout=120).ret == 0
    replayed = pytester.run(
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--block-network", timeout=120
    )
    assert replayed.ret == 0, replayed.stdout.str()
    replayed.stdout.fnmatch_lines(["*1 passed*"])
