"""In a real browser: the Evaluate page's HTML report arrives on the first click (the cause of the
first-click 404 is pinned in tests/test_download_buttons.py), and names show as text, with no
Markdown escapes showing.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.harness import ARTIFACTS, CHROMIUM, FLAGS, require_chromium, running_app

require_chromium()
from playwright.sync_api import expect, sync_playwright  # noqa: E402

WAIT = 240_000  # ms: the first load of the models is slow on a busy 2-core machine


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app on a fresh data folder holding one saved evaluation run; yields its URL."""
    from core.eval.runs import RunStore
    from tests.test_decision_guide import make_run

    data = tmp_path_factory.mktemp("downloads-data")
    run = make_run()
    run.results[0].item.source = "customer_service_policy.md"
    RunStore(data / "evals").save(run)
    with running_app(data, "downloads-streamlit.log") as url:
        yield url


def test_the_first_click_on_html_report_downloads_it(app):
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
        page.set_default_timeout(WAIT)
        page.on("console", lambda m: errors.append(m.text) if "source error" in m.text else None)
        try:
            page.goto(f"{app}/evaluate")
            page.get_by_role("tab", name="Results", exact=True).click()
            expect(page.get_by_text("Metrics (95% bootstrap intervals)")).to_be_visible()
            time.sleep(5)  # let the 2-second refreshes tick, as they do while a person reads the page
            with page.expect_download(timeout=60_000) as download:
                page.get_by_role("button", name="HTML report").click()
            body = open(download.value.path(), encoding="utf-8").read()
            assert body.startswith("<!DOCTYPE html>") and "run-licenses" in body
            assert errors == []
            # the reference's source is a name shown as text: no Markdown escapes showing
            page.get_by_text("Question by question").scroll_into_view_if_needed()
            expect(page.get_by_text("customer_service_policy.md").first).to_be_visible()
            assert page.get_by_text("customer\\_service").count() == 0
            page.screenshot(path=str(ARTIFACTS / "downloads_results.png"), full_page=True)
        finally:
            browser.close()
