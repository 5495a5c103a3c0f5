"""Question/answer pairs and pre-training texts built from knowledge-base documents, no LLM.

Rules, applied line by line so the output order follows the documents:
- a heading followed by prose -> "What does <title> say about <heading>?" -> its first 1-2 sentences;
- FAQ lines ("Q: ... A: ...", or a line ending in "?" and the line after it) -> that pair;
- key-value lines ("Key: value", "Key — value", "Key = value") -> "What is the <key> (in <doc>)?";
- CSV documents -> one pair per row about its first column's value;
- every other prose sentence -> the first question ``question_writer`` writes for it that passes
  ``question_check.well_formed`` and was not asked before ("How many days after delivery can
  unopened products be returned for a full refund?"), answered by the sentence itself; a sentence
  with no such question is dropped, and ``generate`` counts how many sentences yielded one.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from core.finetune.datasets import IDK, QAPair, csv_rows, normalize
from core.finetune.question_check import well_formed
from core.finetune.question_writer import candidate_questions, names_in

CPT_CHARS = 1200
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
_NUMBERED_HEADING = re.compile(r"^\d+\.\s+(\w[^.:;!?]{0,50})$")  # "4. Filter replacement"
_UNDERLINE = re.compile(r"^(=+|-+)$")
_Q = re.compile(r"^Q\s*[:.]\s*(.+?)(?:\s+A\s*[:.]\s*(.+))?$")
_A = re.compile(r"^A\s*[:.]\s*(.*)$")
_KV = re.compile(r"^([^:=—–]{1,40}?)\s*(?::|=|\s[—–])\s+(\S.{0,199})$")
_BULLET = re.compile(r"^(?:[-*•]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")
_DANGLING = {"to", "for", "of", "in", "on", "by", "with", "at", "from", "include", "includes"}

# Topics no demo document covers, asked three ways; the answer teaches abstention.
ABSENT_TOPICS = [
    "pet insurance", "company cars", "cryptocurrency payments", "tuition reimbursement", "gym memberships",
    "sabbatical leave", "stock options", "relocation bonuses", "on-site childcare", "bicycle parking",
    "lottery syndicates", "drone deliveries", "international franchising", "vending machine refunds",
    "employee housing", "trade-in of competitor products", "gift wrapping", "engraving services",
    "extended warranties bought from third parties", "smart fridge support", "lifetime memberships",
    "in-store cooking classes", "carbon offset purchases", "volunteer days", "language courses",
    "travel insurance", "rental of appliances", "sponsorship requests", "personal shopping assistants",
    "mobile phone subsidies",
]
ABSENT_FRAMES = [
    "What is the company's policy on {}?",
    "Does the company offer {}?",
    "Where can I find the rules for {}?",
]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _lower_first(text: str) -> str:
    """Lower-case the first word so it can follow "What is the" or "say about" (not "AeroPure", "VPN")."""
    word = text.split(" ", 1)[0]
    return text[0].lower() + text[1:] if word != "I" and (len(word) == 1 or word[1:].islower()) else text


def _is_prose(text: str) -> bool:
    """Whole sentences: not a fragment cut from a wrapped line, a list lead-in or a label."""
    return not text[0].islower() and text[-1] in ".!?。"


def _heading(line: str, nxt: str) -> tuple[int, str] | None:
    """(level, text) when ``line`` is a Markdown, underlined or short numbered heading."""
    if match := _MD_HEADING.match(line):
        level, text = len(match.group(1)), match.group(2)
    elif line and _UNDERLINE.match(nxt) and not _UNDERLINE.match(line):
        level, text = (1 if nxt[0] == "=" else 2), line
    elif match := _NUMBERED_HEADING.match(line):
        level, text = 2, match.group(1)
    else:
        return None
    text = re.sub(r"^\d+(?:\.\d+)*\.?\s+", "", text.strip())
    if text.isupper():  # "PASSWORDS" -> "Passwords"
        text = text.title() if level == 1 else text.capitalize()
    return level, text


def _key_value(line: str) -> tuple[str, str] | None:
    """(key, value) for a "Key: value" line; None for prose that merely contains a colon."""
    match = _KV.match(line)
    if not match or line.endswith("?") or re.search(r"[.!?]\s+[A-Z]", match.group(2)):
        return None
    key, value = match.group(1).strip(), match.group(2).strip()
    if len(key) < 2 or len(key.split()) > 5 or re.search(r"[.,;!?]", key) or not key[0].isalnum():
        return None
    return key, value


def _faq_answer(lines: list[str], i: int, inline: str | None) -> tuple[str, int]:
    """The answer to the "Q:" on line ``i`` ("" if none) and the index of its last line; the
    "A:" may follow after a blank line and runs on until a blank line, question or heading."""
    if inline:
        return inline, i
    j = i + 1 if lines[i + 1] else i + 2
    answer = _A.match(lines[j]) if j < len(lines) else None
    if not answer:
        return "", i
    parts = [answer.group(1)]
    while lines[j + 1] and not _Q.match(lines[j + 1]) and not _heading(lines[j + 1], lines[j + 2]):
        j += 1
        parts.append(lines[j])
    return " ".join(parts), j


def _blocks(text: str):
    """Yield ("heading", level, text), ("faq", q, a), ("kv", key, value) and ("para", text) in order."""
    lines = [line.strip() for line in text.splitlines()] + ["", ""]
    para: list[str] = []
    i = 0
    while i < len(lines) - 2:
        line, nxt = lines[i], lines[i + 1]
        heading, question = _heading(line, nxt), _Q.match(line)
        if para and (not line or heading or question or _BULLET.match(line)):
            yield ("para", " ".join(para))
            para = []
        if heading:
            yield ("heading", *heading)
            i += 1 if _UNDERLINE.match(nxt) else 0
        elif question:
            answer, i = _faq_answer(lines, i, question.group(2))
            if answer:
                yield ("faq", question.group(1), answer)
        elif line.endswith("?") and nxt and not nxt.endswith("?") and not _heading(nxt, lines[i + 2]):
            answer = _A.match(nxt)
            yield ("faq", line, answer.group(1) if answer else nxt)
            i += 1
        elif not para and not nxt[:1].islower() and (kv := _key_value(line)):  # not wrapped prose
            yield ("kv", *kv)
        elif line and not _UNDERLINE.match(line):
            para.append(_BULLET.sub("", line))
        i += 1
    if para:
        yield ("para", " ".join(para))


def _csv_pairs(doc: str, text: str) -> list[QAPair]:
    """Raw CSV with a header row, or the reader's 'col: value; col: value' lines."""
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and all(": " in part for part in lines[0].split("; ")):
        rows = [[tuple(part.split(": ", 1)) for part in line.split("; ")] for line in lines]
    else:
        records = [r for r in csv_rows(text) if any(c.strip() for c in r)]
        header = [h.strip() for h in records[0]] if records else []
        rows = [list(zip(header, (c.strip() for c in r))) for r in records[1:]]
    pairs = []
    for row in rows:
        row = [(k, v) for k, v in row if v]
        if len(row) >= 2:
            (key, value), rest = row[0], row[1:]
            pairs.append(QAPair(question=f"What does {doc} list for {key} {value}?",
                                answer="; ".join(f"{k}: {v}" for k, v in rest), source=doc))
    return pairs


def _kv_pair(key: str, value: str, doc: str) -> QAPair:
    key, value = _lower_first(key), value.rstrip(".")
    if key.split()[-1].lower() in _DANGLING:  # "Applies to: all employees"
        return QAPair(question=f"What does {doc} say about \"{key}\"?",
                      answer=f"{key[0].upper()}{key[1:]}: {value}.", source=doc)
    verb = "are" if re.search(r"[^su]s$", key) else "is"  # "hours are", "address is"
    return QAPair(question=f"What {verb} the {key} (in {doc})?", answer=f"The {key} {verb} {value}.", source=doc)


def _document_items(doc: str, text: str) -> list[QAPair | str]:
    """The document's pairs from headings, FAQ, key-value lines and CSV rows, and its prose
    sentences (plain strings, for the question writer), in document order."""
    if doc.lower().endswith(".csv"):
        return _csv_pairs(doc, text)
    title, heading, pending, pairs = doc, None, False, []
    for block in _blocks(text):
        kind = block[0]
        if kind == "heading":
            if block[1] == 1 and heading is None:
                title = block[2]
            heading, pending = block[2], True
        elif kind == "faq":
            pairs.append(QAPair(question=block[1], answer=block[2], source=doc))
            pending = False  # the section's body is its questions, not prose
        elif kind == "kv":
            pairs.append(_kv_pair(block[1], block[2], doc))
        else:
            sentences = _sentences(block[1])
            if pending and _is_prose(block[1]):
                question = f"What is {title} about?" if heading == title else \
                    f"What does {title} say about {_lower_first(heading)}?"
                pairs.append(QAPair(question=question, answer=" ".join(sentences[:2]), source=doc))
                pending = False
            pairs += sentences
    return pairs


@dataclass
class Generated:
    pairs: list[QAPair]
    sentences: int  # prose sentences read
    written: list[QAPair]  # the pairs written from one of those sentences (answer = the sentence)


def generate(docs: list[tuple[str, str]]) -> Generated:
    """Pairs from (doc_name, text) documents, in document order, each with source=doc_name, and
    how many prose sentences there were; a question asked twice (ignoring case and spacing) is
    kept the first time only."""
    seen, out, sentences, written = set(), [], 0, []
    for name, text in docs:
        names = names_in(" ".join(b[1] for b in _blocks(text) if b[0] == "para"))
        for item in _document_items(name, text):
            if isinstance(item, str):
                sentences += 1
                question = next((q for q in candidate_questions(item, names)
                                 if well_formed(q, item, item) and normalize(q) not in seen), None)
                if question is None:
                    continue
                item = QAPair(question=question, answer=item, source=name)
                written.append(item)
            key = normalize(item.question)
            if key not in seen and item.answer.strip():
                seen.add(key)
                out.append(item)
    return Generated(out, sentences, written)


def generate_pairs(docs: list[tuple[str, str]]) -> list[QAPair]:
    """The pairs of ``generate``, for callers that need no counts."""
    return generate(docs).pairs


def _pack(pieces: list[str], sep: str, max_chars: int) -> list[str]:
    """Consecutive pieces joined with ``sep`` into chunks of at most ``max_chars``."""
    chunks, current = [], ""
    for piece in pieces:
        if current and len(current) + len(sep) + len(piece) > max_chars:
            chunks.append(current)
            current = ""
        current = f"{current}{sep}{piece}" if current else piece
    return chunks + ([current] if current else [])


def _split_long(text: str, max_chars: int) -> list[str]:
    """Pieces of at most ``max_chars``: cut between lines, else between sentences, else at the
    last space before the limit."""
    if len(text) <= max_chars:
        return [text]
    for parts in (text.split("\n"), _sentences(text)):
        parts = [p.strip() for p in parts if p.strip()]
        if len(parts) > 1:
            return [piece for part in parts for piece in _split_long(part, max_chars)]
    pieces = []
    while len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars + 1)
        cut = cut if cut > 0 else max_chars
        pieces.append(text[:cut])
        text = text[cut:].lstrip()
    return pieces + ([text] if text else [])


def raw_chunks_for_cpt(docs: list[tuple[str, str]], max_chars: int = CPT_CHARS) -> list[str]:
    """Document texts as chunks of whole paragraphs of at most ``max_chars`` (a longer paragraph
    is cut between lines or sentences); chunks never span documents."""
    chunks = []
    for _, text in docs:
        paragraphs = []
        for para in (p.strip() for p in re.split(r"\n\s*\n", text)):
            if len(para) > max_chars:
                paragraphs += _pack(_split_long(para, max_chars), "\n", max_chars)
            elif para:
                paragraphs.append(para)
        chunks += _pack(paragraphs, "\n\n", max_chars)
    return chunks


def unanswerable_pairs(n: int, seed: int) -> list[QAPair]:
    """``n`` distinct questions on topics the documents do not cover (at most 90), each answered
    "I don't know." with answerable=False; the same seed gives the same questions."""
    questions = [frame.format(topic) for topic in ABSENT_TOPICS for frame in ABSENT_FRAMES]
    chosen = random.Random(seed).sample(questions, min(max(n, 0), len(questions)))
    return [QAPair(question=q, answer=IDK, answerable=False) for q in chosen]
