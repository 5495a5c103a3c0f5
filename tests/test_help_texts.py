"""Jargon gets a one-line help where it appears, and advanced training settings fold under "Advanced"."""

import pytest

from tests.apptest import own_workspace, session


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    with own_workspace(tmp_path_factory.mktemp("help-texts-data")) as data:
        yield data


def test_training_jargon_has_help_and_advanced_settings_are_folded(app_env):
    at = session("pages/finetune.py")
    advanced = next(e for e in at.expander if e.label.startswith("Advanced"))
    inside = {n.label: n for n in advanced.number_input}
    for label in ("Rank r", "Alpha", "Dropout", "Learning rate", "Batch size", "Gradient accumulation"):
        assert inside[label].help, label
    assert advanced.multiselect[0].label == "Target modules" and "q_proj" in advanced.multiselect[0].help
    outside = [n.label for n in at.number_input if n.label not in inside]
    assert "Max steps (0 = use epochs)" in outside and "Epochs" in outside  # the two a person sets first
    raft = [m for m in at.markdown if "RAFT" in m.value]
    assert raft and raft[0].help and "passages" in raft[0].help


def test_train_form_does_not_cover_inputs_with_press_enter(app_env):
    at = session("pages/finetune.py")
    forms = [b for b in at.get("form") if b.proto.form.form_id == "train_form"]
    assert forms and forms[0].proto.form.enter_to_submit is False


def test_evaluation_jargon_has_help(app_env):
    at = session("pages/evaluate.py")
    arms = at.get("button_group")[0]
    assert "perfect retrieval" in arms.help  # the oracle
    assert "fingerprint" in at.sidebar.caption[0].help.lower() or "code" in at.sidebar.caption[0].help
