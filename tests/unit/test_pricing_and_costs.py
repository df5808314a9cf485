"""Prices as data, and estimates that are never below what the sandbox reports."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import llama_cloud
import openai
import pytest

from contracttape import RecordMode, TapeSession
from contracttape.budget.guard import Budget
from contracttape.budget.ledger import FileLedger
from contracttape.budget.prices import PriceBook
from contracttape.errors import BudgetExceeded, PricingError
from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.pdf import make_pdf
from contracttape.sandbox import AI_SERVICES, Sandbox, SandboxConfig
from contracttape.services import default_catalogue

JSON = (("content-type", "application/json"),)


def chat_request(model: str) -> RecordedRequest:
    return RecordedRequest(
        "POST",
        "https://api.openai.com/v1/chat/completions",
        JSON,
        b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}]}' % model.encode(),
    )


@pytest.mark.parametrize("capped", [True, False], ids=["cap", "no-cap"])
def test_a_model_with_no_price_is_refused_under_a_cap_and_recorded_without_one(
    tmp_path: Path, capped: bool
) -> None:
    """Under a cap no worst case can be reserved, so it is refused, naming the missing price;
    with no cap it is sent (a `model_not_found` test can be recorded) and its cost is unknown."""
    budget = Budget(
        ledger=FileLedger(tmp_path / "l.json"),
        run_id="r",
        prices=PriceBook.load(),
        catalogue=default_catalogue(),
        cap=1.0 if capped else None,
    )
    if capped:
        with pytest.raises(BudgetExceeded) as info:
            budget.reserve("t::x", chat_request("gpt-7-turbo"))
        assert "no price for 'gpt-7-turbo' under openai.chat in contracttape/data/prices.yaml" in str(
            info.value
        )
        assert "Nothing was sent" in str(info.value)
        (entry,) = FileLedger(tmp_path / "l.json").entries()
        assert entry.state == "refused"
        return
    reservation = budget.reserve("t::x", chat_request("gpt-7-turbo"))
    assert reservation.priced.unpriced
    assert "no price for 'gpt-7-turbo'" in reservation.entry.basis
    answer = RecordedResponse(200, "OK", (), b'{"usage": {"prompt_tokens": 5, "completion_tokens": 7}}')
    cost = budget.settle(reservation, chat_request("gpt-7-turbo"), answer)
    assert cost.basis.startswith("cost unknown: no price for 'gpt-7-turbo'")


def test_a_user_price_file_overrides_and_extends(tmp_path: Path) -> None:
    override = tmp_path / "prices.yaml"
    override.write_text(
        "openai:\n  chat:\n    gpt-7-turbo: {input_per_1m: 1.0, output_per_1m: 2.0, max_output_tokens: 100}\n"
        "llamaparse:\n  usd_per_1000_credits: 2.5\n"
    )
    prices = PriceBook.load(override)
    assert prices.number("openai", "chat", "gpt-7-turbo", "output_per_1m") == 2.0
    assert prices.number("llamaparse", "usd_per_1000_credits") == 2.5
    assert prices.number("openai", "embeddings", "text-embedding-3-small", "input_per_1m") == 0.02
    budget = Budget(
        ledger=FileLedger(tmp_path / "l.json"), run_id="r", prices=prices, catalogue=default_catalogue()
    )
    assert budget.reserve("t::x", chat_request("gpt-7-turbo")).entry.estimate == pytest.approx(
        (7 * 1.1 * 1.0 + 100 * 2.0) / 1e6
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("format: 2\n", "price file format 2"),
        ("- a list\n", "a price file is a mapping"),
        ("openai: [unclosed\n", r"p\.yaml: cannot read the price file"),
        ("a:\n\tb: 1\n", r"p\.yaml: cannot read the price file"),
        ("a: !!python/object:os.system 1\n", r"p\.yaml: cannot read the price file"),  # safe loading only
    ],
)
def test_bad_price_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(PricingError, match=message):
        PriceBook.load(path)


def test_a_price_file_that_is_not_utf8_is_one_message(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"openai: \xff\xfe\n")
    with pytest.raises(PricingError, match=r"p\.yaml: cannot read the price file"):
        PriceBook.load(path)


def test_the_packaged_prices_read_the_same_with_the_pure_python_loader() -> None:
    from importlib import resources

    import yaml

    text = resources.files("contracttape").joinpath("data/prices.yaml").read_text(encoding="utf-8")
    assert PriceBook.load().data == yaml.load(text, Loader=yaml.SafeLoader)


def test_cap_refuses_before_sending_and_then_refuses_everything(tmp_path: Path) -> None:
    budget = Budget(
        ledger=FileLedger(tmp_path / "l.json"),
        run_id="r",
        prices=PriceBook.load(),
        catalogue=default_catalogue(),
        cap=0.015,
    )
    budget.reserve("t::a", chat_request("gpt-4o-mini"))  # worst case ~$0.0098 (16384 output tokens)
    with pytest.raises(BudgetExceeded) as info:
        budget.reserve("t::b", chat_request("gpt-4o-mini"))
    message = str(info.value)
    assert message.startswith(
        "t::b: refused before sending POST https://api.openai.com/v1/chat/completions: worst-case estimate $0.009"
    )
    assert "cap of $0.0150: $0.005" in message
    with pytest.raises(BudgetExceeded, match="already refused, so this run records nothing more"):
        budget.reserve("t::c", RecordedRequest("GET", "https://api.openai.com/v1/models"))


def random_text(rng: random.Random, words: int) -> str:
    vocabulary = [
        "invoice",
        "total",
        "due",
        "ünïcode",
        "数字",
        "42",
        "the",
        "quick",
        "fox",
        "tokens",
        "!",
        "\n",
    ]
    return " ".join(rng.choice(vocabulary) for _ in range(words))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_estimates_are_never_below_what_the_sandbox_reports(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    ledger = FileLedger(tmp_path / "ledger.json")
    with Sandbox(SandboxConfig(job_seconds=0.05), services=AI_SERVICES) as sandbox:
        env = sandbox.env()
        budget = Budget(ledger=ledger, run_id="r", prices=PriceBook.load(), catalogue=default_catalogue())
        from contracttape.normalize import Normaliser

        norm = Normaliser(origins=sandbox.origins())
        with (
            TapeSession(tmp_path / "c.yaml", mode=RecordMode.REWRITE, normaliser=norm, budget=budget),
            openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"]) as oai,
            llama_cloud.LlamaCloud(
                base_url=env["LLAMA_CLOUD_BASE_URL"], api_key=env["LLAMA_CLOUD_API_KEY"]
            ) as llama,
        ):
            for _ in range(3):
                oai.embeddings.create(
                    model=rng.choice(["text-embedding-3-small", "text-embedding-3-large"]),
                    input=[random_text(rng, rng.randint(1, 300)) for _ in range(rng.randint(1, 4))],
                )
                max_tokens = rng.choice([None, rng.randint(1, 40)])
                kwargs = {"max_tokens": max_tokens} if max_tokens else {}
                oai.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[
                        {"role": "system", "content": random_text(rng, 20)},
                        {"role": "user", "content": random_text(rng, rng.randint(1, 200))},
                    ],
                    **kwargs,
                )
                list(
                    oai.chat.completions.create(
                        model="gpt-4.1-mini",
                        stream=True,
                        stream_options={"include_usage": rng.random() < 0.5},
                        messages=[{"role": "user", "content": random_text(rng, 50)}],
                        **kwargs,
                    )
                )
                pdf = make_pdf([random_text(rng, 10) for _ in range(rng.randint(1, 5))])
                tier = rng.choice(["fast", "cost_effective", "agentic", "agentic_plus"])
                job = llama.parsing.create(
                    tier=tier, version="latest", upload_file=("d.pdf", pdf, "application/pdf")
                )
                llama.parsing.wait_for_completion(job.id, polling_interval=0.02, backoff="constant")
                llama.parsing.get(job.id, expand=["job_metadata"])
            with httpx.Client(
                base_url=env["LLAMA_CLOUD_BASE_URL"],
                headers={"authorization": f"Bearer {env['LLAMA_CLOUD_API_KEY']}"},
            ) as v1:
                v1.post(
                    "/api/parsing/upload",
                    files={"file": ("d.pdf", make_pdf(["a", "b"]), "application/pdf")},
                    data={"parse_mode": "parse_page_with_agent"},
                )
    entries = ledger.entries()
    assert len(entries) >= 3 * 5 + 1  # every request sent has an entry (polls vary in number)
    priced = [e for e in entries if e.actual]
    assert priced, "the sandbox should have charged something"
    for entry in entries:
        assert entry.state == "settled"
        assert entry.actual is not None
        assert entry.estimate >= entry.actual, (
            f"{entry.request}: estimate {entry.estimate} < actual {entry.actual}"
        )
    v1_upload = next(e for e in entries if e.request.endswith("/api/parsing/upload"))
    assert v1_upload.actual == pytest.approx(2 * 10 * 1.25 / 1000)  # 2 pages, agentic
