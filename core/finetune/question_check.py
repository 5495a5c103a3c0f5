"""Whether a generated question is one a person could ask: a fixed, deterministic check.

The generator drops every question that fails it, and bench/questions.py reports the share that
passes, so "well-formed" means exactly these rules and nothing vaguer:
- the first word is a wh-word or an auxiliary verb (WH_WORDS, AUXILIARIES);
- it ends with "?";
- it has no blank ("__");
- it has no URL, e-mail address, path or file name (URL_OR_FILE: "://", "www.", "a@b.c", "/usr/x",
  or a dotted name with letters after the dot such as "GPL-3.txt" or "lumora.example");
- it has 4 to 25 words (split on spaces);
- the answer is found in the source sentence (ignoring case and spacing).
It checks form, not meaning: a question can pass and still read oddly.
"""

from __future__ import annotations

import re

WH_WORDS = {"what", "when", "where", "who", "whom", "whose", "which", "why", "how"}
AUXILIARIES = {
    "is", "are", "was", "were", "am", "do", "does", "did", "has", "have", "had",
    "can", "could", "may", "might", "must", "shall", "should", "will", "would",
}
URL_OR_FILE = re.compile(r"://|\bwww\.|\S@\w|(?:^|\s)~?/\w|\b[\w-]+\.[A-Za-z][A-Za-z0-9]+\b")
MIN_WORDS, MAX_WORDS = 4, 25


def _plain(text: str) -> str:
    return " ".join(text.casefold().split())


def well_formed(question: str, answer: str, sentence: str) -> bool:
    """True when ``question`` passes every rule above and ``answer`` appears in ``sentence``."""
    words = question.split()
    answer = _plain(answer).rstrip(".")
    return (
        MIN_WORDS <= len(words) <= MAX_WORDS
        and words[0].casefold() in WH_WORDS | AUXILIARIES
        and question.endswith("?")
        and "__" not in question
        and not URL_OR_FILE.search(question)
        and bool(answer) and answer in _plain(sentence)
    )
