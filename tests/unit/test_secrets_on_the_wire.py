"""Every planted secret form, sent through httpx, httpx2 and requests to a loopback server that
mirrors it back, recorded with a budget: neither the cassette nor the ledger holds any of it."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import requests

from contracttape import RecordMode, TapeSession
from contracttape.budget.guard import Budget
from contracttape.budget.ledger import FileLedger
from contracttape.budget.prices import PriceBook
from contracttape.secret_rules import JWT_RE
from contracttape.services import default_catalogue
from tests.integration.loopback_app import LoopbackServer
from tests.secrets_corpus import SECRET_FORMS, Form, secret

Send = Callable[[str, Form], Any]


def _headers(form: Form) -> dict[str, str]:
    headers = {"content-type": form.content_type}
    for name, value in form.headers:
        headers[name] = value
        headers[f"x-mirror-{name}"] = value  # the server answers with it too
    return headers


def send_httpx(url: str, form: Form) -> Any:
    with httpx.Client() as client:
        return client.post(f"{url}/mirror", params=form.params, headers=_headers(form), content=form.body)


def send_httpx2(url: str, form: Form) -> Any:
    with httpx2.Client() as client:
        return client.post(f"{url}/mirror", params=form.params, headers=_headers(form), content=form.body)


def send_requests(url: str, form: Form) -> Any:
    with requests.Session() as client:
        return client.post(f"{url}/mirror", params=form.params, headers=_headers(form), data=form.body)


CLIENTS: dict[str, Send] = {"httpx": send_httpx, "httpx2": send_httpx2, "requests": send_requests}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with LoopbackServer() as running:
        yield running.url


def written(tmp_path: Path) -> str:
    """Everything contracttape wrote, with JWT payloads decoded (a claim must not hide a secret)."""
    texts = [p.read_text("utf-8", "replace") for p in sorted(tmp_path.rglob("*")) if p.is_file()]
    text = "\n".join(texts)
    for token in JWT_RE.findall(text):
        payload = token.split(".")[1]
        text += "\n" + base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("latin-1")
    return text


def record(tmp_path: Path, send: Callable[[], Any]) -> Any:
    spend = Budget(
        ledger=FileLedger(tmp_path / "ledger.json"),
        run_id="r",
        prices=PriceBook.load(),
        catalogue=default_catalogue(),
    )
    with TapeSession(tmp_path / "c.yaml", mode=RecordMode.REWRITE, test_id="t::secrets", budget=spend):
        response = send()
    assert (tmp_path / "c.yaml").exists()
    assert (tmp_path / "ledger.json").exists()
    return response


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("form", SECRET_FORMS, ids=[f.name for f in SECRET_FORMS])
def test_no_planted_secret_is_written(tmp_path: Path, server: str, client: str, form: Form) -> None:
    response = record(tmp_path, lambda: CLIENTS[client](server, form))
    assert response.status_code == 200
    assert response.content == form.body  # the test itself saw the real answer
    text = written(tmp_path)
    assert [f for f in form.fragments if f in text] == []


@pytest.mark.parametrize("client", ["httpx", "requests"])
def test_a_form_the_client_encodes_itself(tmp_path: Path, server: str, client: str) -> None:
    password, api_key = secret("client-mp-pw"), secret("client-mp-key")
    fields = {"user": "ada", "password": password, "api_key": api_key}
    files = {"file": ("a.txt", b"hello", "text/plain")}

    def send() -> Any:
        if client == "httpx":
            with httpx.Client() as c:
                return c.post(f"{server}/upload", data=fields, files=files)
        with requests.Session() as s:
            return s.post(f"{server}/upload", data=fields, files=files)

    record(tmp_path, send)
    text = written(tmp_path)
    assert password not in text
    assert api_key not in text
    assert "<redacted:password>" in text
