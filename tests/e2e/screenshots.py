"""The README's screenshots of the pages no browser test photographs, taken from the real app on a fresh workspace
(the demo knowledge base seeded, no adapter): the knowledge base's Documents and Test retrieval tabs and the Models
page. The other screenshots come from the browser tests themselves (test-artifacts/e2e/ after `make test`).

Run: `make screenshots` (or .venv/bin/python -m tests.e2e.screenshots [--out docs/screenshots]); needs chromium.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from core.config import REPO_ROOT
from tests.e2e.harness import browser_page, running_app

QUERY = "How many paid sick days do employees get?"


def take(out: Path) -> list[Path]:
    from playwright.sync_api import expect

    out.mkdir(parents=True, exist_ok=True)
    taken = []
    with tempfile.TemporaryDirectory() as data, running_app(Path(data), "screenshots_streamlit.log",
                                                           LAB_DEMO_ADAPTER__ENABLED="false") as url, \
            browser_page() as page:
        expect.set_options(timeout=240_000)

        def shot(name: str) -> None:
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=True)
            taken.append(path)

        page.goto(f"{url}/knowledge_base")
        page.get_by_role("tab", name="Documents", exact=True).click()
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("7")  # the demo's documents
        shot("knowledge_base_documents")
        page.get_by_role("tab", name="Test retrieval", exact=True).click()
        box = page.get_by_label("Query", exact=True)
        box.fill(QUERY)
        box.press("Enter")
        expect(page.get_by_text("hr_handbook.docx", exact=False).first).to_be_visible()
        shot("knowledge_base_test_retrieval")
        page.goto(f"{url}/models")
        expect(page.get_by_text("Suggested instruction-tuned models")).to_be_visible()
        expect(page.get_by_text("Measured on", exact=False).first).to_be_visible()
        shot("models")
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    for path in take(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
