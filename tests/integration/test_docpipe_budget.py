"""Budgets docpipe enforces: a document over its budget is refused before anything is spent, a
user's spend across documents is capped, and alerts fire at the configured fractions."""

from __future__ import annotations

import dataclasses

import pytest

from tests.integration.docpipe_kit import pdf, running_app, settings_for, sign_up

pytestmark = pytest.mark.contracttape

TWO_PAGES = ("# Budget\n\nPage one", "# More\n\nPage two")  # cost_effective: 6 credits = $0.0075


async def test_a_document_over_its_budget_is_refused_before_spending(docpipe_env: dict[str, str]) -> None:
    user = sign_up(docpipe_env, "over-budget@example.com")
    settings = dataclasses.replace(settings_for(docpipe_env), document_budget_usd=0.005)
    async with running_app(settings) as app:
        submitted: list[str] = []
        submit = app.pipeline.parser.submit

        async def spy(filename: str, data: bytes) -> str:
            submitted.append(filename)
            return await submit(filename, data)

        app.pipeline.parser.submit = spy  # type: ignore[method-assign]
        document = await app.upload(user, "pricey.pdf", pdf(*TWO_PAGES))
        answer = await app.ingest(user, document["id"])
        stored = await app.document(user, document["id"])
    assert answer.status_code == 402
    message = answer.json()["error"]["message"]
    assert "would cost up to $0.007500" in message
    assert "Nothing was sent" in message
    assert submitted == []  # LlamaParse never saw it (in replay, the cassette has no parse either)
    assert (stored["status"], float(stored["cost_usd"])) == ("refused", 0.0)


async def test_user_budget_and_cost_alerts(docpipe_env: dict[str, str]) -> None:
    user = sign_up(docpipe_env, "alerts@example.com")
    settings = dataclasses.replace(
        settings_for(docpipe_env),
        user_budget_usd=0.02,
        alert_fractions=(0.25, 0.5, 0.9),
        alert_webhook_url="http://alerts.test/hook",
    )
    async with running_app(settings) as app:
        outcomes = []
        for n in range(3):  # $0.0075 each: the third would pass $0.02
            document = await app.upload(user, f"doc{n}.pdf", pdf(*TWO_PAGES))
            outcomes.append(await app.ingest(user, document["id"]))
    assert [o.status_code for o in outcomes] == [200, 200, 402]
    assert "the user has spent $0.015" in outcomes[2].json()["error"]["message"]
    user_alerts = [a for a in app.pipeline.costs.alerts if a.scope == "user"]
    assert [a.fraction for a in user_alerts] == [0.25, 0.5]
    assert [a["alert"]["fraction"] for a in app.alerts if a["alert"]["scope"] == "user"] == [0.25, 0.5]
