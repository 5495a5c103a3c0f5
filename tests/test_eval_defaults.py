"""A test set remembers its knowledge base: the Evaluate page warns when it does not match the active
one, and its defaults (test set, arms, adapter) come from the active knowledge base."""

import json

import pytest

from core.demo import DEMO_KB
from core.eval.testsets import TestSet, demo_set
from tests.apptest import create_kb, own_workspace, pick_kb, session

LICENSES = "Open-source licenses"


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    with own_workspace(tmp_path_factory.mktemp("eval-defaults-data")) as data:
        yield data


def fake_adapter(data, adapter_id: str, kb_name: str) -> None:
    """An adapter folder as the registry lists it (the Evaluate page only lists adapters, never loads one)."""
    from core.finetune.adapters import LINEAGE_FILE, WEIGHTS_FILE, Lineage

    folder = data / "adapters" / adapter_id
    folder.mkdir(parents=True)
    (folder / WEIGHTS_FILE).write_bytes(adapter_id.encode())
    lineage = Lineage(name=f"{kb_name} adapter", base_model="m", base_fingerprint="f", kb_name=kb_name)
    (folder / LINEAGE_FILE).write_text(lineage.model_dump_json(), encoding="utf-8")


def warnings(at) -> str:
    return " ".join(w.value.replace("\\", "") for w in at.warning)


def test_a_test_set_knows_its_knowledge_base():
    demo = demo_set()
    assert demo.kb == DEMO_KB and demo.mismatch(DEMO_KB) is None
    assert f"'{DEMO_KB}'" in demo.mismatch(LICENSES)
    assert TestSet("mine.jsonl", [], None).mismatch(LICENSES) is None  # nobody said: no warning


def test_evaluate_defaults_follow_the_active_knowledge_base_and_a_mismatch_is_warned(app_env):
    at = session("pages/evaluate.py")  # seeds the demo and its dataset
    assert at.radio[0].value == "demo" and "written for" not in warnings(at)
    assert set(at.get("button_group")[0].value) == {"base", "rag", "oracle"}  # no adapter: no adapter arms

    fake_adapter(app_env, "demo-adapter-aaaaaa", DEMO_KB)
    fake_adapter(app_env, "licenses-adapter-bbbbbb", LICENSES)
    at = session()
    create_kb(at, "Contracts")
    create_kb(at, LICENSES)
    from ui.resources import finetune
    from core.finetune.datasets import QAPair

    pairs = [QAPair(question=f"Which license is number {i}?", answer=f"License {i}.") for i in range(6)]
    finetune().datasets.save("Licenses Q&A", pairs[:4], pairs[4:], LICENSES, None, "generated")

    at.switch_page("pages/evaluate.py").run()
    assert not at.exception
    assert at.radio[0].value == "dataset"
    assert at.selectbox[0].value == finetune().datasets.list()[0].id  # its own dataset, not the demo's
    assert "written for" not in warnings(at)
    adapter = at.selectbox(key=f"eval_adapter:{LICENSES}")
    assert adapter.value == "licenses-adapter-bbbbbb"
    assert "trained on 'Lumora demo'" in adapter.format_func("demo-adapter-aaaaaa")
    assert set(at.get("button_group")[0].value) == {"base", "rag", "finetuned", "hybrid", "oracle"}
    assert at.selectbox(key=f"fresh_adapter:{LICENSES}").value == "licenses-adapter-bbbbbb"  # the freshness probe too

    at.radio[0].set_value("demo").run()  # the Lumora questions against the licenses
    assert f"written for the knowledge base '{DEMO_KB}'" in warnings(at)

    # an uploaded set belongs to the knowledge base active at upload
    at.radio[0].set_value("upload").run()
    rows = "".join(json.dumps({"question": f"What does clause {i} allow?", "answer": "Copying."}) + "\n" for i in range(3))
    at.file_uploader(key="eval_upload").set_value([("licenses.jsonl", rows.encode(), "application/json")]).run()
    assert "written for" not in warnings(at)
    pick_kb(at, "Contracts")  # nothing of its own: the upload stays, and says whose it is
    assert at.radio[0].value == "upload"
    assert f"written for the knowledge base '{LICENSES}'" in warnings(at)
    assert at.selectbox(key="eval_adapter:Contracts").value is None  # no adapter of another knowledge base
    assert at.selectbox(key="fresh_adapter:Contracts").value is None
    assert set(at.get("button_group")[0].value) == {"base", "rag", "oracle"}

    pick_kb(at, DEMO_KB)
    assert at.radio[0].value == "demo" and "written for" not in warnings(at)
    assert at.selectbox(key=f"eval_adapter:{DEMO_KB}").value == "demo-adapter-aaaaaa"
