"""One vocabulary: the arm table, the one abstention test, and typed per-arm summaries that old
saved runs still get."""

from __future__ import annotations

import json
import re

import pytest

from core.compare.arms import ARM_TABLE, ARMS_BY_NAME, known, retrieving, using_adapter
from core.compare.results import ARM_LABELS, ARMS, EVAL_ARMS, OPEN_BOOK
from core.config import REPO_ROOT
from core.models.abstention import ABSTAIN, is_abstention


def test_the_table_says_what_each_arm_does():
    assert [a.name for a in ARM_TABLE] == ["base", "rag", "finetuned", "hybrid", "oracle"]
    assert [a.name for a in ARM_TABLE if a.retrieves] == ["rag", "hybrid"]
    assert [a.name for a in ARM_TABLE if a.uses_adapter] == ["finetuned", "hybrid"]
    assert ARMS == ("base", "rag", "finetuned", "hybrid") and EVAL_ARMS == ARMS + ("oracle",)
    assert OPEN_BOOK == ("rag", "hybrid", "oracle") and ARM_LABELS["finetuned"] == "Fine-tuned"
    assert known(["hybrid", "nope", "base"]) == ["base", "hybrid"]
    assert using_adapter(["rag", "hybrid"]) and not using_adapter(["base", "rag", "oracle"])
    assert retrieving(["hybrid"]) and not retrieving(["base", "finetuned", "oracle"])
    assert len({a.icon for a in ARM_TABLE}) == len(ARM_TABLE) and ARMS_BY_NAME["oracle"].reads_gold


def test_the_table_names_each_arm_for_people_once():
    from core.compare.arms import called, label

    assert [a.approach for a in ARM_TABLE] == [None, "RAG", "Fine-tuning", "Hybrid", None]  # the decision's choices
    assert (label("finetuned"), called("finetuned"), called("hybrid")) == ("Fine-tuned", "the fine-tuned model", "the hybrid")
    assert (label("retired-arm"), called("retired-arm")) == ("retired-arm", "retired-arm")  # a name from an old saved run
    assert len({a.color for a in ARM_TABLE}) == len(ARM_TABLE)  # one colour per arm in every chart


def test_no_module_spells_out_which_arms_use_the_adapter_or_retrieve():
    spelled = re.compile(r"""\(\s*["'](finetuned|rag|base)["']\s*,\s*["'](hybrid|finetuned|rag)["']\s*\)""")
    offenders = [f"{p.relative_to(REPO_ROOT)}:{n}" for folder in ("core", "ui", "pages")
                 for p in (REPO_ROOT / folder).rglob("*.py") if p.name != "arms.py"
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if spelled.search(line)]
    assert offenders == [], "ask core.compare.arms instead: " + ", ".join(offenders)


@pytest.mark.parametrize("text", [ABSTAIN, "The passages do not contain the answer.", "I’m not sure.",
                                  "There is no information about pets in the documents."])
def test_every_way_of_not_knowing_is_one_abstention(text):
    assert is_abstention(text)


def test_an_old_saved_run_loads_and_gets_typed_summaries_by_arm_name(tmp_path):
    from core.eval.runs import RunStore
    from core.eval.summary import ArmSummary, summarize

    score = {"text": "Within 14 days.", "f1": 1.0, "key_fact_recall": 1.0, "key_fact_hit": 1.0, "wall_s": 0.5,
             "prompt_tokens": 300, "completion_tokens": 5}
    saved = {"id": "old-run", "name": "saved before typed summaries", "created": "2026-11-20T10:00:00", "kb": "demo",
             "kb_version": "v1", "model_fingerprint": "abc", "adapter_id": None, "adapter_fingerprint": None, "arms": ["base", "rag"], "decoding": {}, "top_k": 4,
             "results": [{"item": {"question": "Refund?", "answer": "Within 14 days.", "key_facts": ["14 days"]},
                          "arms": {"base": {**score, "text": "I don't know.", "key_fact_hit": 0.0, "abstained": True},
                                   "rag": score}}]}
    (tmp_path / "old-run.json").write_text(json.dumps(saved), encoding="utf-8")
    run = RunStore(tmp_path).get("old-run")
    summary = summarize(run)
    assert set(summary) == {"base", "rag"} and all(isinstance(s, ArmSummary) for s in summary.values())
    assert summary["rag"].key_fact_hit[0] == 1.0 and summary["base"].key_fact_hit[0] == 0.0
    assert summary["rag"].prompt_tokens == 300.0
