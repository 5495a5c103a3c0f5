"""Helpers for AppTest page tests that need a workspace of their own."""

from __future__ import annotations

import os
from contextlib import contextmanager

from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT as ROOT

TIMEOUT = 180


@contextmanager
def own_workspace(data):
    """Point the app at the data folder ``data``, with the app's cached resources cleared before and
    after, so a test module neither sees nor leaves another module's workspace."""
    import streamlit as st

    old = os.environ.get("LAB_DATA_DIR")
    os.environ["LAB_DATA_DIR"] = str(data)
    st.cache_resource.clear()
    try:
        yield data
    finally:
        st.cache_resource.clear()
        if old is None:
            os.environ.pop("LAB_DATA_DIR")
        else:
            os.environ["LAB_DATA_DIR"] = old


def session(page: str = "pages/knowledge_base.py") -> AppTest:
    """A new browser session opened on ``page``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    if page != "pages/home.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def picked_kb(at: AppTest) -> str:
    return at.sidebar.selectbox(key="kb_picker").value


def pick_kb(at: AppTest, name: str) -> None:
    at.sidebar.selectbox(key="kb_picker").select(name).run()
    assert not at.exception, at.exception


def create_kb(at: AppTest, name: str) -> None:
    """Create a knowledge base from the sidebar form of the knowledge-base page."""
    at.sidebar.text_input[0].input(name)
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
