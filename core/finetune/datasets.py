"""Training datasets: parse uploads, split train/test without leakage, and keep them on disk.

Uploads are JSONL (question/answer, instruction/output or chat rows) or CSV with a column
mapping. Each bad row is reported with its row number and skipped; a file that cannot be used
at all raises ``DatasetError``. Pairs generated from a knowledge base live in ``dataset_gen``.
Saved layout: ``<root>/<id>/train.jsonl``, ``test.jsonl`` and ``meta.json``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from core.errors import LabError, RejectedFile
from core.models.abstention import ABSTAIN
from core.knowledge.ingestion.readers import decode_text

MAX_ROWS = 50_000
MAX_CHARS = 4000
IDK = ABSTAIN
SHAPES = "question/answer, instruction/output or messages"


class DatasetError(LabError):
    """A dataset file or operation that cannot be used; the message says why."""


class RefPassage(BaseModel):
    doc_name: str
    text: str
    gold: bool = False  # the passage the answer comes from


class QAPair(BaseModel):
    question: str
    answer: str
    source: str | None = None
    answerable: bool = True
    # An open-book (RAFT) example: the passages the model reads before answering, in prompt
    # order (best-ranked first). None for a closed-book pair.
    passages: list[RefPassage] | None = None


class RowProblem(BaseModel):
    row: int  # 1-based line (JSONL) or spreadsheet row, header = row 1 (CSV)
    message: str


class ParseResult(BaseModel):
    pairs: list[QAPair]
    problems: list[RowProblem]


def normalize(text: str) -> str:
    """Case- and whitespace-insensitive form used for duplicate and leakage checks."""
    return " ".join(text.casefold().split())


# --- parsing ---------------------------------------------------------------------------------
def _text(value) -> str | None:
    """A cell as stripped text; None when it is not text (a list, an object, ...)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value).strip()


def _pair_from_json(obj) -> tuple[str, str] | str:
    """(question, answer) from one JSONL row, or a sentence saying what is wrong with it."""
    if not isinstance(obj, dict):
        return f"Each line must be a JSON object with {SHAPES}."
    if "messages" in obj:
        turns = obj["messages"] if isinstance(obj["messages"], list) else []
        turns = [t for t in turns if isinstance(t, dict) and isinstance(t.get("content"), str)]
        last_bot = max((i for i, t in enumerate(turns) if t.get("role") == "assistant"), default=None)
        if last_bot is None:
            return "The messages have no assistant turn."
        users = [t for t in turns[:last_bot] if t.get("role") == "user"]
        if not users:
            return "The messages have no user turn before the last assistant turn."
        return users[-1]["content"].strip(), turns[last_bot]["content"].strip()
    if "question" in obj and "answer" in obj:
        question, answer = _text(obj["question"]), _text(obj["answer"])
    elif "instruction" in obj and "output" in obj:
        question, answer, extra = _text(obj["instruction"]), _text(obj["output"]), _text(obj.get("input"))
        if question and extra:
            question = f"{question}\n\n{extra}"
    else:
        return f"Unknown row shape: expected {SHAPES}."
    if question is None or answer is None:
        return "The question and the answer must be text."
    return question, answer


class _Collector:
    """Validates rows one by one; keeps the good pairs and a problem for each bad row."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.pairs: list[QAPair] = []
        self.problems: list[RowProblem] = []
        self.seen: dict[tuple[str, str], int] = {}  # normalised (question, answer) -> first row

    def add(self, row: int, parsed: tuple[str, str] | str, source: object = None, answerable: object = True) -> None:
        if isinstance(parsed, str):
            return self.skip(row, parsed)
        question, answer = parsed
        key = (normalize(question), normalize(answer))
        if not question:
            self.skip(row, "The question is empty.")
        elif not answer:
            self.skip(row, "The answer is empty.")
        elif len(question) + len(answer) > self.max_chars:
            self.skip(row, f"Too long: {len(question) + len(answer)} characters of question and answer "
                           f"(the limit is {self.max_chars}).")
        elif key in self.seen:
            self.skip(row, f"Duplicate of row {self.seen[key]}.")
        else:
            self.seen[key] = row
            source = source.strip() if isinstance(source, str) and source.strip() else None
            self.pairs.append(QAPair(question=question, answer=answer, source=source,
                                     answerable=answerable if isinstance(answerable, bool) else True))

    def skip(self, row: int, message: str) -> None:
        self.problems.append(RowProblem(row=row, message=message))

    def result(self, rows: int) -> ParseResult:
        if not self.pairs:
            first = self.problems[0]
            raise DatasetError(f"None of the {rows} rows could be used (row {first.row}: {first.message})")
        return ParseResult(pairs=self.pairs, problems=self.problems)


def _check_size(rows: int) -> None:
    if rows == 0:
        raise DatasetError("The file is empty.")
    if rows > MAX_ROWS:
        raise DatasetError(f"The file has {rows:,} rows; the limit is {MAX_ROWS:,}.")


def parse_jsonl(data: bytes, max_chars: int = MAX_CHARS) -> ParseResult:
    """Pairs from JSONL bytes; blank lines are ignored, every other bad line becomes a problem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError("The file is not UTF-8 text, which JSONL requires.") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    _check_size(len(lines))
    collector = _Collector(max_chars)
    for n, line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            collector.skip(n, "Not valid JSON.")
            continue
        extra = obj if isinstance(obj, dict) else {}
        collector.add(n, _pair_from_json(obj), extra.get("source"), extra.get("answerable", True))
    return collector.result(len(lines))


def _decode(data: bytes) -> str:
    try:
        return decode_text(data)  # UTF-8, else charset-normalizer's best guess
    except RejectedFile:
        raise DatasetError("The file's text encoding could not be recognised.") from None


def csv_rows(text: str) -> list[list[str]]:
    """All records of CSV text, blank ones included; the delimiter is whichever of , ; tab |
    the first non-blank line uses most."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",;\t|", key=lambda d: (header.count(d), d == ","))
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _csv_table(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(row number, cells)]) with blank rows dropped; the header's row number is 1
    when the file starts with it, as in a spreadsheet."""
    rows = [(n, row) for n, row in enumerate(csv_rows(_decode(data)), start=1) if any(c.strip() for c in row)]
    if not rows:
        raise DatasetError("The file is empty.")
    return [cell.strip() for cell in rows[0][1]], rows[1:]


def csv_columns(data: bytes) -> list[str]:
    """The header row's column names, for the column-mapping widgets."""
    return _csv_table(data)[0]


def parse_csv(data: bytes, question_col: str, answer_col: str, source_col: str | None = None,
              max_chars: int = MAX_CHARS) -> ParseResult:
    """Pairs from CSV bytes with the given column mapping; problems name spreadsheet rows."""
    header, body = _csv_table(data)
    for col in (question_col, answer_col, source_col):
        if col is not None and col not in header:
            raise DatasetError(f"The file has no column named '{col}'.")
    if not body:
        raise DatasetError("The file has a header row but no data rows.")
    _check_size(len(body))
    collector = _Collector(max_chars)
    for n, row in body:
        cells = dict(zip(header, (c.strip() for c in row)))
        collector.add(n, (cells.get(question_col, ""), cells.get(answer_col, "")), cells.get(source_col or ""))
    return collector.result(len(body))


# --- train/test split and leakage ------------------------------------------------------------
def _split_items(items: list[int], fraction: float, rng: random.Random) -> set[int]:
    shuffled = sorted(items)
    rng.shuffle(shuffled)
    return set(shuffled[: round(len(items) * fraction)])


def split_by_document(pairs: list[QAPair], test_fraction: float = 0.2, seed: int = 0
                      ) -> tuple[list[QAPair], list[QAPair]]:
    """(train, test), both in input order. Answerable pairs with a source move as whole documents
    (chosen by ``seed`` to bring the test share closest to ``test_fraction``); pairs without a
    source, and unanswerable pairs, are split pair by pair in the same proportion. With fewer
    than two documents there is nothing to hold out whole, so those pairs are split by pair too."""
    if not 0 < test_fraction < 1:
        raise DatasetError(f"The test fraction must be between 0 and 1, not {test_fraction}.")
    rng = random.Random(seed)
    docs: dict[str, list[int]] = {}
    loose, abstain = [], []
    for i, p in enumerate(pairs):
        if not p.answerable:
            abstain.append(i)
        elif p.source:
            docs.setdefault(p.source, []).append(i)
        else:
            loose.append(i)
    test: set[int] = set()
    if len(docs) >= 2:
        target = test_fraction * sum(len(v) for v in docs.values())
        names = sorted(docs)
        rng.shuffle(names)
        chosen, held = [], 0
        for name in names:  # take a document when it brings the test share closer to the target
            if len(chosen) < len(names) - 1 and abs(held + len(docs[name]) - target) < abs(held - target):
                chosen.append(name)
                held += len(docs[name])
        for name in chosen or [min(names, key=lambda n: len(docs[n]))]:
            test.update(docs[name])
    else:
        loose += [i for ids in docs.values() for i in ids]
    test |= _split_items(loose, test_fraction, rng) | _split_items(abstain, test_fraction, rng)
    return [p for i, p in enumerate(pairs) if i not in test], [p for i, p in enumerate(pairs) if i in test]


def _leak_key(answer: str) -> str:
    return normalize(answer).rstrip(".!")


def leakage(train: list[QAPair], test: list[QAPair]) -> list[str]:
    """Test answers (at least 12 characters, not "I don't know.") that appear verbatim, ignoring
    case and spacing, inside a training question or answer."""
    haystack = "\n".join(normalize(t) for p in train for t in (p.question, p.answer))
    idk = _leak_key(IDK)
    return [p.answer for p in test
            if len(key := _leak_key(p.answer)) >= 12 and key != idk and key in haystack]


def remove_leaks(train: list[QAPair], test: list[QAPair]) -> list[QAPair]:
    """The test pairs without those whose answer leaks into the training set."""
    leaked = set(leakage(train, test))
    return [p for p in test if p.answer not in leaked]


# --- saved datasets --------------------------------------------------------------------------
class DatasetInfo(BaseModel):
    id: str
    name: str
    hash: str  # first 12 hex digits of sha256(train.jsonl + NUL + test.jsonl)
    train_count: int
    test_count: int
    kb_name: str | None = None
    kb_version: str | None = None
    origin: str  # "upload", "generated", "cpt", ...
    created_at: str
    # Generated datasets: the prose sentences the generator read, and how many yielded a question.
    sentences: int | None = None
    sentences_asked: int | None = None


def _row(pair: QAPair) -> dict:
    return pair.model_dump(exclude={"passages"} if pair.passages is None else set())


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


class DatasetStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def save(self, name: str, pairs: list[QAPair], test_pairs: list[QAPair], kb_name: str | None = None,
             kb_version: str | None = None, origin: str = "upload", sentences: tuple[int, int] | None = None
             ) -> DatasetInfo:
        """Write a question/answer dataset; its folder appears complete or not at all. ``sentences``:
        (read, asked) for a generated dataset."""
        return self._write(name, [_row(p) for p in pairs], [_row(p) for p in test_pairs],
                           kb_name, kb_version, origin, sentences)

    def save_texts(self, name: str, texts: list[str], kb_name: str | None = None,
                   kb_version: str | None = None) -> DatasetInfo:
        """Write plain texts for continued pre-training as ``{"text": ...}`` rows (origin "cpt")."""
        return self._write(name, [{"text": t} for t in texts], [], kb_name, kb_version, "cpt")

    def _write(self, name: str, train: list[dict], test: list[dict], kb_name: str | None,
               kb_version: str | None, origin: str, sentences: tuple[int, int] | None = None) -> DatasetInfo:
        name = (name or "").strip()
        if not 1 <= len(name) <= 80:
            raise DatasetError("A dataset name needs 1 to 80 characters.")
        if not train:
            raise DatasetError("A dataset needs at least one training row.")
        train_bytes, test_bytes = _jsonl(train), _jsonl(test)
        slug = (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "dataset")[:40]
        info = DatasetInfo(
            id=f"{slug}-{uuid.uuid4().hex[:6]}", name=name,
            hash=hashlib.sha256(train_bytes + b"\0" + test_bytes).hexdigest()[:12],
            train_count=len(train), test_count=len(test), kb_name=kb_name, kb_version=kb_version,
            origin=origin, created_at=datetime.now(UTC).isoformat(),
            sentences=sentences[0] if sentences else None, sentences_asked=sentences[1] if sentences else None,
        )
        staging = self.root / f".{info.id}.partial"
        staging.mkdir()
        (staging / "train.jsonl").write_bytes(train_bytes)
        (staging / "test.jsonl").write_bytes(test_bytes)
        (staging / "meta.json").write_text(info.model_dump_json(indent=2), encoding="utf-8")
        staging.rename(self.root / info.id)
        return info

    def list(self) -> list[DatasetInfo]:
        """All saved datasets, newest first (unreadable folders are skipped)."""
        infos = [info for folder in self.root.iterdir() if (info := self._read(folder.name))]
        return sorted(infos, key=lambda d: (d.created_at, d.id), reverse=True)

    def _read(self, dataset_id: str) -> DatasetInfo | None:
        meta = self.root / dataset_id / "meta.json"
        if not re.fullmatch(r"[a-z0-9-]+", dataset_id or "") or not meta.is_file():
            return None
        try:
            return DatasetInfo.model_validate_json(meta.read_text(encoding="utf-8"))
        except ValueError:
            return None

    def get(self, dataset_id: str) -> DatasetInfo:
        info = self._read(dataset_id)
        if info is None:
            raise DatasetError(f"There is no dataset '{dataset_id}'.")
        return info

    def _rows(self, dataset_id: str, split: str) -> list[dict]:
        path = self.root / dataset_id / f"{split}.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def load(self, dataset_id: str) -> tuple[list[QAPair], list[QAPair]]:
        """(train, test) pairs of a question/answer dataset."""
        if self.get(dataset_id).origin == "cpt":
            raise DatasetError("This dataset holds plain texts for continued pre-training, not question-answer pairs.")
        return tuple([QAPair.model_validate(r) for r in self._rows(dataset_id, s)] for s in ("train", "test"))

    def load_texts(self, dataset_id: str) -> list[str]:
        """The texts of a continued pre-training dataset."""
        if self.get(dataset_id).origin != "cpt":
            raise DatasetError("This dataset holds question-answer pairs, not texts for continued pre-training.")
        return [r["text"] for r in self._rows(dataset_id, "train")]

    def delete(self, dataset_id: str) -> None:
        shutil.rmtree(self.root / self.get(dataset_id).id)
