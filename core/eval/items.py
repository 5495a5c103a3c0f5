"""Test items and the one parser of the test-set format, shared by the Evaluate page (an upload)
and the command line (``python -m core.eval --test-set FILE``): the same file gives the same items
both ways.

The format, JSONL or CSV: ``question``, ``answer`` (or ``reference``), optional ``source``,
``key_facts`` and ``not_answerable`` (or ``answerable``). A key fact is a short string the answer
must state; a list in its place gives the acceptable phrasings of one fact, any one of which
counts (``["30 days", "thirty days", "one month"]``). In CSV, facts are separated by ``;`` and
the phrasings of one fact by ``|``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from pydantic import BaseModel, Field

from core.errors import LabError

MAX_TEST_ITEMS = 2000

KeyFact = str | list[str]  # one fact, or its acceptable phrasings


class TestItem(BaseModel):
    __test__ = False  # not a pytest class
    question: str
    answer: str
    source: str | None = None
    key_facts: list[KeyFact] = Field(default_factory=list)
    answerable: bool = True

    def fact_phrasings(self) -> list[list[str]]:
        """Each key fact as the list of its acceptable phrasings."""
        return [[f] if isinstance(f, str) else list(f) for f in self.key_facts]


class TestSetProblem(BaseModel):
    row: int
    message: str


def _flag(value) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False, "": None}.get(text)


def _facts(value) -> list[KeyFact] | str:
    """Key facts from a JSON list (strings, or lists of phrasings) or a CSV text; or why not."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        facts = []
        for fact in value.split(";"):
            phrasings = [p.strip() for p in fact.split("|") if p.strip()]
            if phrasings:
                facts.append(phrasings[0] if len(phrasings) == 1 else phrasings)
        return facts
    if not isinstance(value, list):
        return "key_facts must be a list or a ';'-separated text"
    facts = []
    for fact in value:
        if isinstance(fact, list):
            phrasings = [str(p).strip() for p in fact if str(p).strip()]
            if not phrasings:
                return "a key fact's list of phrasings is empty"
            facts.append(phrasings[0] if len(phrasings) == 1 else phrasings)
        elif isinstance(fact, (str, int, float)) and str(fact).strip():
            facts.append(str(fact).strip())
        else:
            return "each key fact must be a text or a list of texts"
    return facts


def item_from_row(row: dict) -> TestItem | str:
    """A test item from one row, or why it cannot be one."""
    question = str(row.get("question") or "").strip()
    answer = str(row.get("answer") or row.get("reference") or "").strip()
    not_answerable = _flag(row.get("not_answerable"))
    answerable = _flag(row.get("answerable"))
    answerable = (not not_answerable) if not_answerable is not None else (True if answerable is None else answerable)
    if not question:
        return "it has no question"
    if not answer and answerable:
        return "it has no reference answer (mark it not answerable if the documents cannot answer it)"
    facts = _facts(row.get("key_facts"))
    if isinstance(facts, str):
        return facts
    return TestItem(question=question, answer=answer or "I don't know.", source=(str(row.get("source") or "").strip() or None),
                    key_facts=facts, answerable=answerable)


def parse_test_set(data: bytes, filename: str) -> tuple[list[TestItem], list[TestSetProblem]]:
    """Test items from a JSONL or CSV file, with every unusable row reported by its number."""
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
        result = item_from_row(row) if isinstance(row, dict) else row
        if isinstance(result, TestItem):
            items.append(result)
        else:
            problems.append(TestSetProblem(row=i, message=f"Row {i} was skipped: {result}."))
    if not items:
        raise LabError("No usable question in that file: " + (problems[0].message if problems else "it is empty."))
    return items, problems


def load_test_items(path: Path) -> list[TestItem]:
    """The items of a test-set file, read by ``parse_test_set``; a file with an unusable row is
    refused with the row's message (a shipped or scripted set should have none)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LabError(f"Cannot read the test set {path}: {exc.strerror or exc}.") from None
    items, problems = parse_test_set(data, path.name)
    if problems:
        raise LabError(problems[0].message + (f" ({len(problems) - 1} more rows too.)" if len(problems) > 1 else ""))
    return items
