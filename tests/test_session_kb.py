"""The active knowledge base belongs to the browser session: two sessions switch independently,
creating a knowledge base switches this session to it, and a new session starts on the workspace's default."""

import pytest

from tests.apptest import create_kb as create, own_workspace, picked_kb as picked, session
from core.demo import DEMO_KB


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    with own_workspace(tmp_path_factory.mktemp("session-kb-data")) as data:
        yield data


def test_two_sessions_switch_independently_and_create_switches(app_env):
    alice, bob = session(), session()
    assert picked(alice) == picked(bob) == DEMO_KB

    create(alice, "Open-source licenses")
    assert picked(alice) == "Open-source licenses"
    assert alice.metric[0].value == "0"  # the page shows the new, empty one
    confirmation = [s.value.replace("\\", "") for s in alice.success if "licenses" in s.value]
    assert confirmation and "Open-source licenses" in confirmation[0] and "active" in confirmation[0]

    bob.run()
    assert picked(bob) == DEMO_KB and bob.metric[0].value == "7"  # bob's tab did not move

    bob.sidebar.selectbox(key="kb_picker").select("Open-source licenses").run()
    alice.sidebar.selectbox(key="kb_picker").select(DEMO_KB).run()
    bob.run()
    assert picked(alice) == DEMO_KB and picked(bob) == "Open-source licenses"
    assert not [s for s in alice.success if "Created" in s.value]  # the confirmation goes once she moves on

    # the choice follows the session across pages; a new session starts on the workspace default
    bob.switch_page("pages/home.py").run()
    assert any(m.value == "Open-source licenses" for m in bob.metric)
    assert picked(session("pages/home.py")) == DEMO_KB


def test_confirmation_stays_visible_across_reruns(app_env):
    at = session()
    create(at, "Contracts")
    at.run()
    at.run()
    assert any("Contracts" in s.value for s in at.success)
    assert picked(at) == "Contracts"
