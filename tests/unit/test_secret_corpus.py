"""The secrets corpus through the normaliser and the scanner: 0 leaks, 0 false positives.

Each planted form is stored as a cassette would store it (request and mirrored response),
and the written text, with every JWT payload decoded, must hold none of its fragments. The
same forms, written *without* redaction, must each be caught by the scanner; the look-alikes
must pass both untouched.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest

from contracttape import cassettes
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from contracttape.normalize import Normaliser
from contracttape.redact import Redactor
from contracttape.scan import scan_document, scan_text
from contracttape.secret_rules import JWT_RE
from tests.secrets_corpus import BENIGN_JSON, BENIGN_LINES, SECRET_FORMS, Form

IDS = [f.name for f in SECRET_FORMS]


def as_interaction(form: Form) -> Interaction:
    query = ("?" + urlencode(form.params)) if form.params else ""
    headers = (("content-type", form.content_type), *form.headers)
    request = RecordedRequest("POST", f"https://api.example.test/mirror{query}", headers, form.body)
    response = RecordedResponse(200, "OK", headers, form.body)
    return Interaction(request, response)


def with_jwt_payloads(text: str) -> str:
    """The text plus every JWT payload in it decoded (a claim must not hide a secret)."""
    decoded = []
    for token in JWT_RE.findall(text):
        payload = token.split(".")[1]
        decoded.append(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("latin-1"))
    return "\n".join([text, *decoded])


def leaks(text: str, form: Form) -> list[str]:
    searchable = with_jwt_payloads(text)
    return [f for f in form.fragments if f in searchable]


def test_the_corpus_is_large_and_covers_every_container() -> None:
    assert len(SECRET_FORMS) >= 50
    assert {f.container for f in SECRET_FORMS} >= {
        "json",
        "query",
        "header",
        "form",
        "multipart",
        "sse",
        "text",
        "jwt",
    }
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("form", SECRET_FORMS, ids=IDS)
def test_nothing_planted_reaches_the_cassette(form: Form) -> None:
    stored = Normaliser().for_disk(as_interaction(form))
    text = cassettes.dumps([stored], {"test": form.name})
    assert leaks(text, form) == []


@pytest.mark.parametrize("form", SECRET_FORMS, ids=IDS)
def test_the_scanner_catches_every_form_left_unredacted(form: Form) -> None:
    text = cassettes.dumps([as_interaction(form)], {"test": form.name})
    findings = scan_document(with_jwt_payloads(text), Path("leak.yaml"))
    assert findings, f"{form.name}: planted, not caught"
    for fragment in form.fragments:
        assert all(fragment not in str(f) for f in findings)  # reported masked


@pytest.mark.parametrize(("name", "value"), BENIGN_JSON, ids=[n for n, _ in BENIGN_JSON])
def test_look_alikes_are_left_alone(name: str, value: object) -> None:
    redactor = Redactor()
    assert redactor.json_value(value) == value
    text = json.dumps(value)
    assert redactor.text(text) == text
    assert redactor.raw(text.encode()) == text.encode()


@pytest.mark.parametrize("line", BENIGN_LINES)
def test_the_scanner_is_quiet_on_look_alikes(line: str) -> None:
    assert list(scan_text(line, Path("ok.txt"))) == []
    assert scan_document("k: " + json.dumps(line), Path("ok.yaml")) == []


def test_corpus_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """planted / redacted / caught by scan / false positives, as the closing note reports them."""
    redacted = sum(
        not leaks(cassettes.dumps([Normaliser().for_disk(as_interaction(f))], {}), f) for f in SECRET_FORMS
    )
    caught = sum(
        bool(scan_document(with_jwt_payloads(cassettes.dumps([as_interaction(f)], {})), Path("x.yaml")))
        for f in SECRET_FORMS
    )
    false_redactions = sum(Redactor().json_value(v) != v for _n, v in BENIGN_JSON)
    false_findings = sum(bool(list(scan_text(line, Path("x")))) for line in BENIGN_LINES)
    with capsys.disabled():
        print(
            f"\nsecrets corpus: {len(SECRET_FORMS)} planted, {redacted} redacted, {caught} caught by scan; "
            f"{len(BENIGN_JSON)}+{len(BENIGN_LINES)} look-alikes, "
            f"{false_redactions} redacted, {false_findings} flagged"
        )
    assert (redacted, caught, false_redactions, false_findings) == (
        len(SECRET_FORMS),
        len(SECRET_FORMS),
        0,
        0,
    )


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer short1",
        "proxy-authorization=Basic dXNlcjpwYXNz",
        'password: "p@ss w0rd"',
    ],
)
def test_text_forms_with_odd_values(text: str) -> None:
    cleaned = Redactor().text(text)
    assert re.search(r"<redacted:[a-z-]+>", cleaned), cleaned
