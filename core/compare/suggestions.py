"""Questions the compare page suggests: curated for the demo, drawn from the documents otherwise.

The demo's suggestions are each labelled with what they show and what each named arm does on
a fresh install (checked by tests/e2e/test_browser.py with the bundled model). For any other
knowledge base the suggestions are questions the dataset generator writes from its documents,
so they always fit the knowledge base the user is looking at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from core.demo import DEMO_SUGGESTIONS_PATH
from core.finetune.dataset_gen import generate_pairs
from core.models.prompts import ABSTAIN

MAX_DOCUMENTS_READ = 20  # a large knowledge base is sampled, not read whole, on every page view


@dataclass(frozen=True)
class Suggestion:
    question: str
    shows: str = ""  # what the question demonstrates, in plain words
    # arm -> what its answer does on a fresh install: {"states": fact}, {"lacks": fact} or {"abstains": true}
    expect: dict[str, dict] = field(default_factory=dict)

    def holds_for(self, arm: str, answer: str) -> bool:
        """Whether ``answer`` of ``arm`` behaves as this suggestion says (arms it does not name: always)."""
        rule = self.expect.get(arm, {})
        if "states" in rule and rule["states"].lower() not in answer.lower():
            return False
        if "lacks" in rule and rule["lacks"].lower() in answer.lower():
            return False
        return not rule.get("abstains") or answer.strip() == ABSTAIN


def demo_suggestions() -> list[Suggestion]:
    rows = json.loads(DEMO_SUGGESTIONS_PATH.read_text(encoding="utf-8"))
    return [Suggestion(r["question"], r["shows"], r.get("expect", {})) for r in rows]


def suggestions(knowledge, kb: str, demo_kb: str, limit: int = 3) -> list[Suggestion]:
    """The demo's curated questions for ``demo_kb``; for any other knowledge base up to ``limit``
    generated questions, one per document (answerable ones only), or none."""
    if kb == demo_kb:
        return demo_suggestions()
    out: list[Suggestion] = []
    for doc in sorted(knowledge.documents(kb), key=lambda d: d.name)[:MAX_DOCUMENTS_READ]:
        pairs = [p for p in generate_pairs([(doc.name, knowledge.document_text(kb, doc.doc_id))]) if p.answerable]
        if pairs:
            out.append(Suggestion(pairs[0].question, f"from {doc.name}"))
        if len(out) >= limit:
            break
    return out
