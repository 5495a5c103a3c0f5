"""Test sets for the evaluation lab: the demo's, a fine-tuning dataset's held-out split, or an
uploaded JSONL/CSV file (parsed by ``core.eval.items``, as on the command line)."""

from __future__ import annotations

from dataclasses import dataclass

from core.demo import DATASETS_DIR, DEMO_KB
from core.errors import LabError
from core.eval.items import TestItem, load_test_items


@dataclass(frozen=True)
class TestSet:
    """Questions with the knowledge base they were written for (None when nobody said)."""

    __test__ = False  # not a pytest class
    name: str
    items: list[TestItem]
    kb: str | None

    def mismatch(self, kb: str) -> str | None:
        """One paragraph warning that these questions are about another knowledge base than ``kb``, or None."""
        if self.kb is None or self.kb == kb:
            return None
        return (f"This test set was written for the knowledge base '{self.kb}', and the active one is '{kb}': "
                "RAG, hybrid and the oracle would read documents that do not hold its answers, so every arm would "
                "score low for a reason that says nothing about RAG or fine-tuning. Switch the active knowledge base "
                f"to '{self.kb}' in the sidebar, or pick a test set of '{kb}'.")


def demo_test_set() -> list[TestItem]:
    return load_test_items(DATASETS_DIR / "test.jsonl")


def demo_set() -> TestSet:
    """The shipped demo test set: questions about the demo knowledge base."""
    return TestSet("Demo test set", demo_test_set(), DEMO_KB)


def dataset_test_set(datasets, dataset_id: str) -> list[TestItem]:
    """The held-out split of a fine-tuning dataset as test items (no key facts: scored by F1)."""
    _, test = datasets.load(dataset_id)
    if not test:
        raise LabError("That dataset has no held-out questions; build it with a test share above zero.")
    return [TestItem(question=p.question, answer=p.answer, source=p.source, answerable=p.answerable) for p in test]


def dataset_set(datasets, dataset_id: str) -> TestSet:
    """A dataset's held-out split, belonging to the knowledge base the dataset was built from."""
    info = datasets.get(dataset_id)
    return TestSet(f"{info.name} (held-out)", dataset_test_set(datasets, dataset_id), info.kb_name)
