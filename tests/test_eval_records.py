"""Each arm's measured record, as the compare page shows it next to an answer."""

from core.eval.records import latest_records
from core.eval.run import ArmScore, EvalRun, QuestionResult, TestItem


def _run(run_id: str, kb: str, adapter_id: str | None, hits: dict[str, list[float]], stopped: bool = False) -> EvalRun:
    n = len(next(iter(hits.values())))
    results = [QuestionResult(item=TestItem(question=f"q{i}?", answer="a", key_facts=["a"]),
                              arms={arm: ArmScore(text="a", key_fact_hit=v[i]) for arm, v in hits.items()})
               for i in range(n)]
    return EvalRun(id=run_id, name=run_id, kb=kb, kb_version="v1", model_fingerprint="m", adapter_id=adapter_id,
                   adapter_fingerprint=None, decoding={}, top_k=3, arms=list(hits), results=results, stopped=stopped)


def test_each_arm_gets_its_newest_record_on_this_knowledge_base_and_adapter():
    newest_other_kb = _run("other", "licenses", "ad1", {"rag": [1.0, 1.0]})
    cancelled = _run("cancelled", "demo", "ad1", {"rag": [0.0, 0.0]}, stopped=True)
    new = _run("new", "demo", "ad2", {"rag": [1.0, 0.0, 0.0, 0.0], "hybrid": [1.0, 1.0, 1.0, 1.0]})
    old = _run("old", "demo", "ad1", {"base": [0.0, 0.0], "rag": [1.0, 1.0], "hybrid": [0.0, 1.0]})
    records = latest_records([newest_other_kb, cancelled, new, old], "demo", "ad1")
    assert records["rag"].run_id == "new" and records["rag"].right == 0.25 and records["rag"].questions == 4
    assert records["hybrid"].run_id == "old" and records["hybrid"].right == 0.5  # ad2's hybrid says nothing of ad1
    assert records["base"].run_id == "old"
    assert "finetuned" not in records
    assert latest_records([new], "demo", None).keys() == {"rag"}  # no adapter selected: no adapter arm records
    line = records["rag"].sentence("v2")
    assert line.startswith("Right on 25% [") and "of 4 test questions" in line and "earlier version" in line
