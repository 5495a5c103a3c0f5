"""Test sets for the evaluation lab: the demo's, a fine-tuning dataset's held-out split, or an
uploaded JSONL/CSV file, with every unusable row reported by its number."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from pydantic import BaseModel

from core.demo import DATASETS_DIR, DEMO_KB
from core.errors import LabError
from core.eval.run import TestItem, load_test_items

MAX_TEST_ITEMS = 2000


class TestSetProblem(BaseModel):
    row: int
    message: str


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


def _flag(value) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False, "": None}.get(text)


def _item(row: dict) -> TestItem | str:
    """A test item from one uploaded row, or why it cannot be one."""
    question = str(row.get("question") or "").strip()
    answer = str(row.get("answer") or row.get("reference") or "").strip()
    not_answerable = _flag(row.get("not_answerable"))
    answerable = _flag(row.get("answerable"))
    answerable = (not not_answerable) if not_answerable is not None else (True if answerable is None else answerable)
    if not question:
        return "it has no question"
    if not answer and answerable:
        return "it has no reference answer (mark it not answerable if the documents cannot answer it)"
    facts = row.get("key_facts") or []
    if isinstance(facts, str):
        facts = [f.strip() for f in facts.split(";") if f.strip()]
    if not isinstance(facts, list):
        return "key_facts must be a list or a ';'-separated text"
    return TestItem(question=question, answer=answer or "I don't know.", source=(str(row.get("source") or "").strip() or None),
                    key_facts=[str(f) for f in facts], answerable=answerable)


def parse_test_set(data: bytes, filename: str) -> tuple[list[TestItem], list[TestSetProblem]]:
    """Test items from an uploaded JSONL or CSV file (question, answer, optional source,
    key_facts and not_answerable), with every unusable row reported by its number."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabError("The test set is not UTF-8 text; save it as UTF-8 JSONL or CSV.") from None
    rows: list[tuple[int, dict | str]] = []
    if filename.lower().endswith(".csv"):
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "question" not in [f.strip().lower() for f in reader.fieldnames]:
            raise LabError("The CSV needs a header row with at least 'question' and 'answer' columns.")
        for i, row in enumerate(reader, start=2):
            rows.append((i, {(k or "").strip().lower(): v for k, v in row.items()}))
    else:
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                rows.append((i, "it is not valid JSON"))
                continue
            rows.append((i, obj if isinstance(obj, dict) else "it is not a JSON object"))
    if len(rows) > MAX_TEST_ITEMS:
        raise LabError(f"The test set has {len(rows):,} rows; the limit is {MAX_TEST_ITEMS:,}.")
    items, problems = [], []
    for i, row in rows:
        result = _item(row) if isinstance(row, dict) else row
        if isinstance(result, TestItem):
            items.append(result)
        else:
            problems.append(TestSetProblem(row=i, message=f"Row {i} was skipped: {result}."))
    if not items:
        raise LabError("No usable question in that file: " + (problems[0].message if problems else "it is empty."))
    return items, problems
