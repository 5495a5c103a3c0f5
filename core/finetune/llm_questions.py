"""The configured LLM as question writer: one question/answer pair per knowledge-base chunk.

Worth it with a bigger model than the bundled 135M one (which writes poor questions); the
deterministic generator (dataset_gen) needs no model at all. Pairs whose answer is not backed
by the chunk (no shared content word) are dropped, so the model cannot invent facts into the
training data.
"""

from __future__ import annotations

import re
from typing import Callable

from core.finetune.datasets import QAPair
from core.models.generation import Decoding, Request, generate_batch

WRITER_PROMPT = (
    "Read the passage and write one question that it answers, then the short answer taken from the passage.\n"
    "Reply exactly in this form:\nQ: <question>\nA: <answer>\n\nPassage:\n{passage}"
)
_PAIR = re.compile(r"Q:\s*(?P<q>.+?)\s*\n+\s*A:\s*(?P<a>.+)", re.DOTALL)
BATCH = 4


def parse_pair(text: str) -> tuple[str, str] | None:
    m = _PAIR.search(text or "")
    if not m:
        return None
    question, answer = m.group("q").strip(), m.group("a").strip().split("\n")[0].strip()
    if len(question) < 8 or not question.endswith("?") or not answer:
        return None
    return question, answer


def _backed(answer: str, passage: str) -> bool:
    words = {w for w in re.findall(r"\w+", answer.lower()) if len(w) > 2 or w.isdigit()}
    return bool(words & set(re.findall(r"\w+", passage.lower())))


def write_pairs(runtime, chunks: list[tuple[str, str]], max_new_tokens: int = 80,
                progress: Callable[[int, int], None] | None = None) -> list[QAPair]:
    """``chunks`` = (doc_name, text); returns the parsed, passage-backed pairs."""
    pairs: list[QAPair] = []
    for start in range(0, len(chunks), BATCH):
        part = chunks[start:start + BATCH]
        requests = [Request(runtime.encode(runtime.chat_prompt([{"role": "user", "content": WRITER_PROMPT.format(passage=text)}])))
                    for _, text in part]
        for (doc, text), out in zip(part, generate_batch(runtime, requests, Decoding(max_new_tokens=max_new_tokens))):
            parsed = parse_pair(out.text)
            if parsed and _backed(parsed[1], text):
                pairs.append(QAPair(question=parsed[0], answer=parsed[1], source=doc))
        if progress:
            progress(min(start + BATCH, len(chunks)), len(chunks))
    return pairs
