"""End to end in a real browser: a large upload runs as a background job and is switched in.

A fresh workspace (the demo knowledge base), 25 files dropped on the knowledge-base page: the page
says they are being added in the background with a progress bar and a Cancel button, the
knowledge base keeps its 7 documents meanwhile, and once the job's worker has built the new state
the page switches it in by itself and shows one result line per file and the new counts.
"""

from __future__ import annotations

import pytest

from tests.e2e.harness import LONG, browser_page, require_chromium, running_app, shot

require_chromium()
from playwright.sync_api import expect  # noqa: E402

expect.set_options(timeout=LONG)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("e2e-bulk"), "streamlit-bulk.log", LAB_INGEST__BACKGROUND_FILES="20") as url:
        yield url


def test_a_large_upload_is_added_in_the_background_and_switched_in(app_url, tmp_path):
    files = []
    for i in range(25):
        path = tmp_path / f"note_{i:02d}.txt"
        path.write_text(f"Note {i}.\nRoom {100 + i} holds archive box {i}, with the invoices of year {2000 + i}.\n")
        files.append(str(path))
    with browser_page() as page:
        page.goto(f"{app_url}/knowledge_base")
        page.locator("input[type=file]").first.set_input_files(files)
        expect(page.get_by_test_id("stFileChipName").filter(has_text="note_24.txt")).to_be_attached()
        expect(page.get_by_test_id("stFileChipIconSpinner")).to_have_count(0)
        page.get_by_role("button", name="Add to knowledge base").click()
        busy = page.get_by_text("25 files are being added to 'Lumora demo' in the background")
        expect(busy.first).to_be_visible()
        expect(busy).to_have_count(2)  # the page's notice, and the sidebar's (every page with the picker shows it)
        expect(page.get_by_role("button", name="Cancel")).to_be_visible()
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("7")  # unchanged until switched in
        shot(page, "bulk_1_running")
        expect(page.get_by_text("25 files indexed, 0 rejected, 0 unchanged.")).to_be_visible()
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("32")
        expect(page.get_by_text("being added")).to_have_count(0)
        shot(page, "bulk_2_switched_in")
