"""`mu report` in a real browser: Debian's headless Chromium, driven by Playwright.

The page must load with no console error and no request but its own file, show every
receipt of a three-link chain with its signer, approver and changes, fit an A4 page
when printed, and print to a PDF. A full-page screenshot and the PDF are kept as test
artefacts (`$MU_TEST_ARTIFACTS`, else `test-artifacts/` at the repository root).

Playwright drives the system Chromium through `executable_path` (nothing is
downloaded); `.ci/run` installs `chromium` where it is missing. Only where no browser
can be started is the test skipped, with the reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.chain import Built, Mu
from tests.conftest import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow


def _artifacts() -> Path:
    directory = Path(os.environ.get("MU_TEST_ARTIFACTS") or REPO / "test-artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Chromium, or a skip naming what is missing."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("the `playwright` package (the `test` extra) is not installed")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no Chromium on PATH: install Debian's `chromium` package (see .ci/run)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable, headless=True)
        except Error as exc:
            pytest.skip(f"Chromium at `{executable}` cannot start: {exc.message.splitlines()[0]}")
        try:
            yield launched
        finally:
            launched.close()


def test_the_report_in_chromium(
    mu: Mu, built_three: Built, tmp_path: Path, browser: Browser
) -> None:
    out = tmp_path / "audit.html"
    run = mu("report", "--out", str(out), root=built_three.root)
    assert run.code == 0, run.out + run.err
    url = out.as_uri()

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")

    assert errors == []
    assert requests == [url]  # the file itself, and nothing else
    assert page.title() == "Audit report — acme/payments-policy"

    # Every receipt: its section, who signed it, who approved it, what it changed.
    links = page.locator("section.link")
    assert links.count() == 3
    for sequence in (1, 2, 3):
        link = page.locator(f"#link-{sequence}")
        assert link.is_visible()
        assert link.locator("tr.signer td.who").all_inner_texts() == ["release-bot"]
        assert link.locator("tr.signer td.hex").inner_text() in page.content()
        assert link.locator("tr.approver td.who").all_inner_texts() == ["alice"]
        assert "✓ verified" in link.locator("h3").inner_text()
    first = page.locator("#link-1")
    assert "nothing to compare against" in first.inner_text()
    relabel = page.locator('#link-2 tr.delta[data-key="approval_over_1m"]')
    assert "need the CFO" in relabel.locator("td").nth(2).inner_text()
    assert "need the chief financial officer" in relabel.locator("td").nth(3).inner_text()
    assert "changed approval_over_1m" in page.locator("#link-2 li.change").all_inner_texts()
    assert "added notify_cfo_on_review" in page.locator("#link-3 li.change").all_inner_texts()
    assert page.locator("#link-3 tr.flip").count() > 0
    # The timeline names every receipt, and the trust root's versions are listed.
    assert page.locator('tr.event[data-kind="Receipt"]').count() == 3
    assert page.locator("#trust-1").is_visible() and page.locator("#trust-2").is_visible()

    artifacts = _artifacts()
    page.screenshot(path=str(artifacts / "audit-report.png"), full_page=True)
    assert (artifacts / "audit-report.png").stat().st_size > 10_000

    # Printed on A4, nothing is wider than the page (no table cut at the margin).
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 700, "height": 1000})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    pdf = page.pdf(format="A4", print_background=False)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
    (artifacts / "audit-report.pdf").write_bytes(pdf)
    assert requests == [url]
