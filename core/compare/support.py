"""Whether a passage sentence supports a claim: the one scorer behind the compare page's
"Supported by" line, the rule that withholds unsupported open-book answers, and the
evaluation's groundedness.

A sentence supports a claim when all of these hold:
1. it is close to the claim: embedding cosine plus half the share of the claim's keywords it
   contains (the keyword share carries non-English text, which the English-only default
   embedder cannot), at least ``FLOOR`` (``core.knowledge.retrieval.sentences``: the measure and the
   threshold a search's highlights use too);
2. it states the claim's facts: every number, date and name of the claim that the question did
   not already contain is in the sentence. Without this rule "A: No." was taken as support for
   the wrong answer "A: 1" (same format, nothing else in common);
3. it states something: a heading ("# 2.", "## Air purifiers") or a line of fewer than three
   words names a topic and asserts nothing ("The answer is: 2." was "supported" by "# 2.");
4. with a question, it is about the question: its closeness to the question is at least
   ``ON_TOPIC`` (a sentence about annual leave does not support an answer about salary day);
5. the claim says something the question does not: an answer that only restates the question
   (the 135M reader echoes questions, Korean ones especially), with or without a "Yes."/"No."
   in front, has nothing to support, and neither has an answer that contradicts itself (a bare
   "No." to a how-many question, then the number: ``contradicts_itself``, which the evaluation
   also scores wrong);
6. it asks nothing: a question line of a FAQ ("Q: Can I get a free repair?") states no fact;
7. it names what the question names: a product code or model number in the question ("E2",
   "AeroPure 300") must be in the sentence too, so the AeroPure 200's price cannot support an
   answer about the AeroPure 300.
Measured on the demo test set (README, Evaluation), these still let through wrong answers copied
from an on-topic sentence that answers another question ("90 days" from the maternity-leave
sentence for sick days): only a reader of the question could tell, which this check is not.
"""

from __future__ import annotations

import re

from core.knowledge.embedding import sparse
from core.knowledge.retrieval.sentences import closeness, mark

ON_TOPIC = 0.45  # closeness to the question; on the demo test set every right answer's support had 0.51 or more
MIN_WORDS = 3  # a supporting sentence states something: fewer words is a label or a heading

NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "ninety": "90", "hundred": "100"})

_CITATION = re.compile(r"\[\d{1,2}\]")
_LEAD = re.compile(r"^\s*(?:[A-Za-z]:|\d{1,2}[.)])\s+", re.M)  # "A: 1", "1. Fourteen days" (any line): labels
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:\n]\s*)([A-Za-z][A-Za-z'’-]*)")
# Capitalised words that are not names (they open sentences, or are the reader's own words).
_NOT_NAMES = {"i", "a", "an", "the", "yes", "no", "you", "your", "we", "our", "it", "its", "this", "that", "there",
              "they", "he", "she", "please", "answer", "question", "q", "note", "ok"}


def _numbers(text: str) -> set[str]:
    found = {n.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", n) else n for n in _NUMBER.findall(text)}
    found |= {NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in NUMBER_WORDS}
    return found


def key_facts(claim: str, question: str = "") -> set[str]:
    """The numbers, dates and names of ``claim`` (lower-cased) that ``question`` does not contain:
    what a supporting sentence must state too. Citation marks and list labels do not count."""
    text = _LEAD.sub("", _CITATION.sub(" ", claim))
    starts = {m.group(1) for m in _SENTENCE_START.finditer(text)}
    names = {w.lower() for w in _WORD.findall(text)
             if (w[0].isupper() or any(c.isdigit() for c in w)) and w not in starts and w.lower() not in _NOT_NAMES}
    names |= {w.lower() for w in _WORD.findall(text) if len(w) > 1 and w.isupper() and w.lower() not in _NOT_NAMES}
    asked = _numbers(question) | {w.lower() for w in _WORD.findall(question)}
    return (_numbers(text) | names) - asked


def states(sentence: str, facts: set[str]) -> bool:
    """Whether ``sentence`` contains every fact of ``facts`` (numbers as numbers, names as words)."""
    if not facts:
        return True
    have = _numbers(sentence) | {w.lower() for w in _WORD.findall(sentence)}
    return facts <= have


def asserts(sentence: str) -> bool:
    """Whether ``sentence`` states something (rules 3 and 6): not a Markdown heading, not a
    question, and at least ``MIN_WORDS`` words (for text without spaces, such as Korean, two
    keyword tokens a word)."""
    text = sentence.strip()
    if text.startswith("#") or text.endswith(("?", "？")):
        return False
    words = len(_WORD.findall(text)) + len(_NUMBER.findall(text))
    return words >= MIN_WORDS or len(sparse.tokenize(text)) >= 2 * MIN_WORDS


_NEXT_QUESTION = re.compile(r"\n\s*(?:Q|Question)\s*:", re.I)  # the reader starting a question-and-answer of its own
_FILLER = {"yes", "no", "answer"}  # "Yes.", "The answer is:"


def answer_part(claim: str) -> str:
    """``claim`` up to where the reader starts writing a new question ("\nQ: …", "\nQuestion: …"):
    what follows answers nothing that was asked."""
    return _NEXT_QUESTION.split(claim, maxsplit=1)[0]


def restates(claim: str, question: str) -> bool:
    """Whether ``claim`` says nothing the question does not (rule 5): all the keywords of its
    answer part but "yes", "no" and "answer" are the question's (a bare "Yes." or "No." is an
    answer, not a restatement)."""
    own = set(sparse.tokenize(_LEAD.sub("", _CITATION.sub(" ", answer_part(claim))))) - _FILLER
    return bool(question) and bool(own) and own <= set(sparse.tokenize(question))


_CODE = re.compile(r"\b(?=[A-Za-z-]*\d)(?=[\d-]*[A-Za-z])[A-Za-z\d-]{2,}\b")  # letters and digits: E2, AP-300B
_MODEL = re.compile(r"\b[A-Z][A-Za-z]+[ -](\d+)\b")  # a name and its number: AeroPure 300


def identifiers(question: str) -> set[str]:
    """The product codes and model numbers ``question`` names (rule 7), lower-cased."""
    return {c.lower() for c in _CODE.findall(question)} | set(_MODEL.findall(question))


def names(sentence: str, wanted: set[str]) -> bool:
    """Whether ``sentence`` names every identifier of ``wanted`` (as a word or number of its own)."""
    if not wanted:
        return True
    have = {w.lower() for w in re.findall(r"[A-Za-z\d][A-Za-z\d-]*", sentence)} | _numbers(sentence)
    return wanted <= have


_AUXILIARIES = set("am is are was were do does did can could will would shall should may might must has have had "
                   "isn't aren't wasn't weren't don't doesn't didn't can't couldn't won't wouldn't shouldn't".split())
_WH_WORD = re.compile(r"\b(how|what|which|when|where|who|whom|whose|why)\b", re.IGNORECASE)
_BARE_YES_NO = re.compile(r"^\W*(?:[a-z]:\s*)?(yes|no)\b\W", re.IGNORECASE)


def is_yes_no_question(question: str) -> bool:
    """Whether the question's last sentence starts with an auxiliary verb ("Can I still get a
    refund?", "Are rbash's restrictions still active …?"); English only."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", (question or "").strip()) if s]
    return bool(sentences) and sentences[-1].split()[0].lower().strip("\"'(") in _AUXILIARIES


def contradicts_itself(question: str, prediction: str) -> bool:
    """An answer that opens with a bare "Yes" or "No" to a question that asks for something else
    ("A: No. The box must be opened within 14 days…" to "how many days…"): it states the key fact
    and denies it in one breath, so it is not scored right. A yes/no question is one whose last
    sentence starts with an auxiliary verb ("Can I still get a refund?"); English only."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", (question or "").strip()) if s]
    if not sentences or not _BARE_YES_NO.match((prediction or "") + " "):
        return False
    first = sentences[-1].split()[0].lower().strip("\"'(")
    return first not in _AUXILIARIES and bool(_WH_WORD.search(sentences[-1]))


def supporting(embedder, claim: str, sentences: list[str], question: str = "") -> list[float | None]:
    """For each sentence, its closeness to ``claim`` when rules 2-7 of the module hold, else None.
    A sentence supports the claim when its value is at least ``FLOOR`` (``core.knowledge.retrieval.sentences``)."""
    if restates(claim, question) or contradicts_itself(question, claim):
        return [None] * len(sentences)
    facts, named = key_facts(claim, question), identifiers(question)
    scores = closeness(embedder, claim, sentences)
    topical = closeness(embedder, question, sentences) if question else [ON_TOPIC] * len(sentences)
    return [sc if states(s, facts) and asserts(s) and names(s, named) and on >= ON_TOPIC else None
            for s, sc, on in zip(sentences, scores, topical)]


def mark_sentences(embedder, answer: str, hits: list, question: str) -> None:
    """Mark, in each hit (``core.knowledge.retrieval.search.Hit``), the sentences that support ``answer`` to
    ``question`` (``supporting``), by the rule that marks a search's highlights
    (``core.knowledge.retrieval.sentences.mark``)."""
    def score(sentences: list[str]) -> list[float]:
        return [-1.0 if sc is None else sc for sc in supporting(embedder, answer, sentences, question)]

    for hit, marked in zip(hits, mark([h.text for h in hits], score)):
        hit.sentences = marked
