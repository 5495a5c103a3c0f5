"""The first demo in a real browser, on a fresh workspace: each curated suggestion behaves as its
label says on the arms it names, and a second fresh workspace gives byte-identical answers."""

from __future__ import annotations

import re

import pytest

from core.compare.suggestions import demo_suggestions
from tests.e2e.harness import browser_page, require_chromium, running_app, shot

require_chromium()
from playwright.sync_api import expect  # noqa: E402

ARMS_WITHOUT_ADAPTER = ("base", "rag")  # the panes that answer before any adapter exists, in page order


def answers_on_screen(page) -> list[str]:
    """The answer texts of the newest comparison, in pane order (answer boxes only, not the streaming ones)."""
    boxes = page.locator("div[style*='min-height:2.5rem']")
    return [re.sub(r"\s+", " ", t).strip() for t in boxes.all_inner_texts()][-len(ARMS_WITHOUT_ADAPTER):]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """A fresh workspace as a new user gets it: the demo seeded, the default embedder (int8 where it is
    the default: what a fresh install answers with), no adapter yet (the demo adapter's own test trains it)."""
    with running_app(tmp_path_factory.mktemp("first-demo-data"), "first_demo_streamlit.log",
                     LAB_MODELS__EMBEDDER_BACKEND="auto", LAB_DEMO_ADAPTER__ENABLED="false") as url:
        yield url


@pytest.fixture(scope="module")
def page(app_url):
    with browser_page() as page:
        expect.set_options(timeout=240_000)
        yield page


@pytest.fixture(scope="module")
def shown(page, app_url):
    """Ask every curated suggestion once, by clicking it, and keep what each arm answered."""
    got = {}
    for i, s in enumerate(demo_suggestions()):
        page.goto(f"{app_url}/compare")
        page.get_by_role("button", name=s.question).click()
        expect(page.get_by_text("first token").nth(len(ARMS_WITHOUT_ADAPTER) - 1)).to_be_visible()
        got[s.question] = dict(zip(ARMS_WITHOUT_ADAPTER, answers_on_screen(page)))
        shot(page, f"first_demo_{i}")
        page.get_by_role("button", name="Clear conversation").click()
        expect(page.get_by_role("button", name=s.question)).to_be_visible()
    return got


def test_each_curated_suggestion_behaves_as_its_label_says(shown):
    for s in demo_suggestions():
        for arm in s.expect:
            if arm in ARMS_WITHOUT_ADAPTER:
                assert s.holds_for(arm, shown[s.question][arm]), (s.question, s.shows, arm, shown[s.question][arm])


def test_a_second_fresh_workspace_gives_byte_identical_answers(shown, tmp_path, runtime, monkeypatch):
    from core.compare.engine import CompareEngine
    from core.config import load_settings
    from core.demo import DEMO_KB
    from core.finetune.adapters import AdapterRegistry
    from core.knowledge.embedding.embeddings import load_embedder
    from core.knowledge.service import KnowledgeService
    from core.seed import seed_demo

    monkeypatch.setenv("LAB_MODELS__EMBEDDER_BACKEND", "auto")  # as the app above: a fresh install's default
    settings = load_settings(data_dir=tmp_path / "second")
    knowledge = KnowledgeService(settings, embedder=load_embedder(settings))
    try:
        seed_demo(knowledge)
        engine = CompareEngine(runtime, knowledge, AdapterRegistry(settings.adapters_dir), settings)
        for s in demo_suggestions():
            c = engine.answer(s.question, DEMO_KB, list(ARMS_WITHOUT_ADAPTER), None)
            here = {arm: re.sub(r"\s+", " ", c.arms[arm].text).strip() for arm in ARMS_WITHOUT_ADAPTER}
            assert here == shown[s.question], s.question
    finally:
        knowledge.close()
