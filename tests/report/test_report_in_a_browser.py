"""The HTML report in a real headless Chromium (Debian's, driven by playwright): it renders, the
console stays clean, nothing is requested but the file itself, and every figure it shows is the
one in the JSON it was rendered from. A screenshot is kept in build/test-artifacts/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from contracttape.report import write_report
from contracttape.report.facts import Options, gather
from tests.report.test_report_facts import NOW, project  # noqa: F401  (the known project)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "test-artifacts"


def _chromium() -> str | None:
    """Debian's Chromium: on the machine, or installed from the system packages when we may."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    with FileLock(str(Path("/tmp/contracttape-chromium.lock"))):
        if not shutil.which("chromium"):
            for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
                subprocess.run(command, capture_output=True, check=False, timeout=900)
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium here, and it cannot be installed (apt-get as root is needed)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def _at(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value[part]
    return value


def test_the_page_renders_offline_and_matches_its_json(browser: Any, project: Path) -> None:  # noqa: F811
    doc = gather(project, Options(now=NOW))
    out = project / "report"
    write_report(doc, out, ["html", "json"])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console: list[str] = []
    requests: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.on("request", lambda request: requests.append(request.url))
    page.goto((out / "report.html").as_uri())
    page.wait_for_load_state("load")

    assert page.title() == f"Testing summary: {project.name}"
    assert console == []
    assert requests == [(out / "report.html").as_uri()]  # no font, style, script or image fetched
    assert page.locator("script").count() == 0
    assert page.locator("svg[data-chart]").count() >= 2  # spend per run, cassette age
    assert page.locator("svg[data-chart='spend.by_run'] rect").count() == 2

    shown = page.eval_on_selector_all(
        "[data-figure]", "nodes => nodes.map(n => [n.dataset.figure, n.textContent])"
    )
    assert len(shown) > 20
    saved = json.loads((out / "report.json").read_text())
    for path, text in shown:
        value = _at(saved, path)
        if isinstance(value, bool):
            assert text == ("yes" if value else "no"), path
        elif (isinstance(value, float) and path.endswith("_usd")) or (
            ".by_service." in path and "spend" in path
        ):
            assert text == f"${float(value):.6f}", path
        elif path == "cassettes.live_share":
            assert text == f"{value:.0%}", path
        elif path == "drift.last_observed_live":
            assert text == str(len(value)), path
        else:
            assert text == str(value), path

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    page.close()
