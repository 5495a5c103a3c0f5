"""Questions a person would ask, written from one declarative sentence by fixed rules (no model).

The sentence is cut into a subject and a predicate at its first verb: a modal, a form of "be",
"have" or "do", else a word shaped like a present-tense verb ("holds", or "receive" after a plural
noun). A leading phrase ("During probation,", "If ..., ") moves to the end of the question, and a
second predicate ("... and must be completed by 31 March") is asked about on its own. Candidates,
most specific first:
- a count, duration or amount -> "How many days after delivery can unopened products be returned?",
  "How often should you replace the filter?", "How long are exceptions valid?", "How much does ... cost?";
- a date or time -> "When are salaries paid?";
- "X is a/the Y" -> "What is X?"; "X are listed in the price list" -> "Where are X listed?";
- the subject asked for -> "Who must respond within 2 business days?", "What is required for ...?";
- "X must do Y" -> "What must X do?"; then a yes/no question ("Is return shipping free?").
A command ("Replace the filter every 6 months.") is asked with "should you", only about a number or
a date. Fragments, lists and sentences whose verb the rules cannot find get no candidate. The
answer is always the whole sentence, so the fact is stated in its context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODALS = {"must", "can", "cannot", "may", "might", "should", "will", "would", "shall", "could"}
AUX = MODALS | {"is", "are", "was", "were", "do", "does", "did"}
PRONOUNS = {"it", "they", "this", "these", "that", "those", "he", "she", "we", "you", "i", "there", "one", "such"}
DETERMINERS = {"the", "a", "an", "your", "all", "any", "each", "every", "its", "their", "our", "my", "this", "these"}
PREPOSITIONS = {
    "of", "to", "for", "in", "on", "at", "by", "with", "from", "into", "per", "over", "under", "about", "above",
    "below", "after", "before", "during", "through", "without", "within", "between", "against", "among", "across",
    "via", "like", "near", "since", "until", "upon", "onto", "off", "out", "up", "than", "as",
}
FUNCTION = DETERMINERS | PRONOUNS | PREPOSITIONS | {
    "and", "or", "but", "not", "also", "only", "no", "so", "if", "when", "which", "who", "whose", "where", "while",
    "more", "most", "less", "other", "some", "both", "either", "neither", "same", "thus", "then", "very", "even",
    "how", "what", "why", "whether",
}
ADJECTIVES = {"new", "old", "many", "few", "several", "various", "additional", "different", "large", "small", "good",
              "bad", "full", "free", "first", "last", "next", "own", "main", "whole", "single", "certain",
              # past participles that do not end in -ed: "Changes made by dpkg"
              "made", "done", "given", "taken", "seen", "known", "shown", "written", "built", "sent", "kept", "found",
              "held", "left", "paid", "told", "brought", "bought", "chosen", "driven", "broken", "set", "put", "run"}
CLAUSE_WORDS = {"that", "which", "who", "whose", "where", "when", "if", "whether", "because", "although", "unless"}
DISCOURSE = re.compile(r"^(?:for example|for instance|in addition|in particular|in practice|in fact|of course|however|"
                       r"therefore|thus|moreover|furthermore|finally|instead|otherwise|also|nevertheless|note|"
                       r"traditionally|normally|usually|generally|currently|today|now|so|then|yes|no), ", re.I)
LEADS = {"to", "if", "when", "whenever", "during", "after", "before", "in", "for", "on", "once", "unless", "while",
         "although", "because", "outside", "at", "by", "from", "under", "since", "until", "as", "within",
         "without", "with", "upon", "between", "throughout"}
PEOPLE = {"employee", "employees", "customer", "customers", "manager", "managers", "staff", "lead", "agent", "agents",
          "member", "members", "user", "users", "side", "people", "person", "contractor", "contractors", "intern",
          "interns", "administrator", "administrators", "author", "authors", "developer", "developers", "maintainer",
          "maintainers", "owner", "owners", "licensee", "licensees", "licensor", "recipient", "recipients", "holder",
          "holders", "team", "foundation", "everyone", "anyone", "department", "head"}
TIME_UNITS = r"(?:(?:business|working|calendar|consecutive) )?(?:second|minute|hour|day|week|month|year)s?"
MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
NUM = r"(?<![\w.$-])\d+(?:[.,]\d+)?(?![\d:.,-]?\w)"
QUANT = r"(?:(?:up to|at least|at most|more than|less than|fewer than|no more than|only|about|exactly) )?"
# Stops a phrase lifted out of the predicate ("after the returned product has been received").
_STOP = r"(?= (?:for|to|with|by|in|on|at|from)\b|,|$)"
# (pattern over the predicate, how the question opens), tried in order; the first match is asked.
SPAN_RULES = [
    (rf"\b(?:on |by |before |until |from |in |since )?(?:the )?(?:\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{MONTHS}(?: \d{{4}})?"
     rf"|{MONTHS} \d{{1,2}}(?:st|nd|rd|th)?(?:, \d{{4}})?|{MONTHS} \d{{4}}|\d{{1,2}}(?:st|nd|rd|th) of (?:each|every|the) month"
     rf"|{MONTHS}(?: and {MONTHS})?)\b|\b(?:before|by|at|after|until) \d{{1,2}}:\d\d\b", "When"),
    (r"(?<!of )\b(?:once|twice|three times|(?:every|each) (?:day|week|month|year)|daily|weekly|monthly|yearly|annually)"
     r"(?: a (?:day|week|month|year))?\b", "How often"),
    (rf"\bevery {NUM} {TIME_UNITS}\b", "How often"),
    (rf"\bafter {NUM} {TIME_UNITS}\b", "When"),
    (rf"\bfor {QUANT}{NUM} {TIME_UNITS}\b", "How long"),
    (rf"\bwithin {NUM} (?P<unit>{TIME_UNITS}) (?:of|after) (?P<event>.+?){_STOP}", "How many"),
    (rf"(?:\b(?P<pre>to|of|for|with) )?\b{QUANT}(?P<n>{NUM}) (?P<unit>[a-z][a-z-]{{2,}}(?: [a-z][a-z-]{{2,}}){{0,2}})"
     r"(?P<tail>(?: of [a-z ]+?(?= (?:for|to|with|by|in|on|at|after|before)\b|,|$))?"
     r"(?: (?:per|a|each) (?:day|week|month|year|order|employee|person|line))?(?: in advance)?)", "How many"),
    (r"(?:\ba (?:flat )?(?:fee|price|charge|cost) of )?(?:\$|\bUSD |\bEUR |€|£)\d+(?:[.,]\d+)?", "How much"),
]
# Words a number labels rather than counts: "section 7", "version 2".
LABELS = {"first", "last", "next", "section", "sections", "version", "chapter", "step", "page", "line", "item", "article",
          "clause", "paragraph", "extension", "number", "option", "level", "rule", "figure", "table", "part", "release",
          "bug", "issue", "port", "code", "error", "model", "mode", "type", "subsection", "revision", "appendix"}
_PAREN = re.compile(r"\s*\([^()]*\)")
_VERB_S = re.compile(r"^[a-z]{2,}(?<![siu'])s$")  # "repairs", "holds", "has"; not "class", "status", "this"
_SECOND = re.compile(r",? (?:and|but) (?=(?:must|can|may|should|will|is|are|has|have|does|do)\b)")
# Where the part of a sentence a question covers ends: a new clause, a participle, a semicolon.
_TAIL = re.compile(r", (?:and|or)\b(?! (?:must|can|may|should|will|is|are|has|have|does|do)\b)"
                   r"|, (?:which|who|so|but|while|whereas|because|unless|if|whether|although|though|except|provided"
                   r"|regardless|including|as)\b|, [a-z]+ed (?=by|in|on|at|to|with|from|for)\b|, [a-z]+ing\b|; "
                   r"| and (?=(?:this|that|these|those|it|there|we|you|they|he|she)\b)")


def _lemma(verb: str) -> str:
    """Base form of a present-tense third-person verb: "replaces" -> "replace", "carries" -> "carry"."""
    if verb == "has":
        return "have"
    if verb.endswith("ies"):
        return verb[:-3] + "y"
    return verb[:-2] if re.search(r"(?:ch|sh|ss|x|z|o)es$", verb) else verb[:-1]


def _third_person(verb: str) -> str:
    """Singular form for "What"/"Who" as subject: "receive" -> "receives", "carry" -> "carries"."""
    if verb in {"have", "are", "were", "do"}:
        return {"have": "has", "are": "is", "were": "was", "do": "does"}[verb]
    if verb in MODALS or verb in AUX or verb in {"or", "and", "has"} or _VERB_S.match(verb):
        return verb
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ies"
    return verb + ("es" if re.search(r"(?:ch|sh|s|x|z|o)$", verb) else "s")


def _plural_verb(words: list[str], i: int) -> bool:
    """Whether words[i] reads as a plural present verb: after a plural noun, before its object."""
    word, prev = words[i], words[i - 1]
    nxt = words[i + 1] if i + 1 < len(words) else ""
    return (word.isalpha() and word.islower() and word not in FUNCTION | AUX | ADJECTIVES
            and not re.search(r"(?:s|ly|ed|ing)$", word)
            and bool(_VERB_S.match(prev.lower()) or prev.endswith("ies")) and nxt != "" and nxt.lower() not in CLAUSE_WORDS)


def _find_verb(words: list[str]) -> tuple[int, str] | None:
    """(index, "aux" or "main") of the first verb after a subject of 1-8 words, or None: a
    modal or a form of "be"/"do" first, else a word shaped like a present-tense verb."""
    limit = min(len(words) - 1, 12)
    clause_at = next((i for i in range(1, limit) if words[i].lower() in CLAUSE_WORDS), limit)
    for i in range(1, clause_at):
        low = words[i].lower()
        if low in AUX and words[i - 1].lower() not in FUNCTION and (
                low not in {"do", "does", "did"} or words[i + 1] in {"not", "n't"}):
            return i, "aux"
    for i in range(1, min(clause_at, 9)):
        word, low, prev = words[i], words[i].lower(), words[i - 1].lower()
        if not word.islower() or prev in FUNCTION or not re.match(r"[\w.-]+$", prev):
            continue
        if low in {"has", "have"}:
            return i, "aux" if re.match(r"\w+(?:ed|en)$|been$|not$", words[i + 1]) else "main"
        if _VERB_S.match(low) and low not in FUNCTION:
            if _plural_verb(words, i + 1) and not words[i + 2].strip(",;").endswith("s"):
                return i + 1, "main"  # "products keep the": the noun, then its verb (not "allows external commands")
            after = words[i + 2].lower() if i + 2 < len(words) else ""
            if words[i + 1] in {"and", "or"} and not _VERB_S.match(after) or \
                    words[i + 1].endswith("ed") and after in {"by", "in", "for"}:
                continue  # "test cases and ...", "pthreads provided by ...": a plural noun
            if not (_VERB_S.match(words[i + 1]) and (after in DETERMINERS or after[:1].isdigit())):  # "returns costs the"
                return i, "main"
        elif _plural_verb(words, i):
            return i, "main"
    return None


@dataclass
class _Clause:
    """Subject, verb and predicate of a sentence, with the leading phrase kept for the end."""

    subject: str
    verb: str
    kind: str  # "aux" (modal, be, do), "main" (a present-tense verb) or "command"
    predicate: str
    lead: str

    def inverted(self, predicate: str) -> str:
        """"are salaries paid <predicate>", "do employees receive <predicate>"."""
        if self.kind != "main":
            verb = "can" if self.verb == "cannot" else self.verb
            rest = ("not " if self.verb == "cannot" else "") + predicate
            return f"{verb} {self.subject} {rest}"
        verbs = self.verb.split()
        does = "does" if _VERB_S.match(verbs[0]) else "do"
        verbs = [_lemma(v) if _VERB_S.match(v) else v for v in verbs]
        return f"{does} {self.subject} {' '.join(verbs)} {predicate}"


def _cased(words: list[str], names: set[str]) -> list[str]:
    """The subject as it reads after a verb: "Salaries" -> "salaries", but "Lumora", "VPN" kept."""
    first = words[0]
    if first.lower() not in FUNCTION | LEADS and (first in names or first == "I" or len(first) > 1 and not first[1:].islower()):
        return words
    return [first.lower(), *words[1:]]


def _clauses(sentence: str, names: set[str]) -> list[_Clause]:
    """The sentence's clause, then its second predicate as a clause of its own; [] if unreadable."""
    text = DISCOURSE.sub("", _PAREN.sub("", sentence).rstrip(".").strip())
    text = _TAIL.split(text)[0] if not text.split(" ", 1)[0].lower() in LEADS else text
    lead = ""
    if text.split(" ", 1)[0].lower() in LEADS:
        if ", " not in text:
            return []
        lead, text = text.split(", ", 1)
        lead = " ".join(_cased(lead.split(), names))
        text = _TAIL.split(re.sub(r"^then ", "", text))[0]
    words = text.split()
    if len(words) < 3 or not words[0][:1].isalpha():
        return []
    while words and words[0].lower() in {"always", "please", "also"}:
        words = words[1:]
    if len(words) < 3 or words[0].lower() in PREPOSITIONS - {"up"} or re.search(r"[`<>*«»{}|\\[\]]", text):
        return []  # "without permission, would make ...", or markup
    if words[0].lower() in {"do", "don't", "never", "not", "no"}:
        return []
    if words[0].lower() in {"this", "that"} and (_VERB_S.match(words[1]) or words[1] in AUX):
        return []  # "This leaves packages ...": the subject is a pronoun
    found = None if words[1].lower() in DETERMINERS - {"this", "these"} else _find_verb(words)
    if found and found[1] == "main" and words[1].lower() in PREPOSITIONS:
        found = None  # "Watch for urgent requests": a command, whatever later word looks like a verb
    if not found and words[0].lower() not in DETERMINERS | PRONOUNS and words[1].lower() in DETERMINERS | PREPOSITIONS \
            and words[0].isalpha() and not re.search(r"(?:s|ed|ing)$", words[0]):
        # A command: "Replace the filter every 6 months" -> "How often should you replace the filter?"
        return [_Clause("you", "should", "command", " ".join([words[0].lower(), *words[1:]]), lead)]
    if not found:
        return []
    i, kind = found
    subject = _cased(words[:i], names)
    if subject[0].lower() in PRONOUNS - {"this", "these", "that", "those", "such"} or i == 1 and \
            subject[0].lower() in PRONOUNS or any(not w[:1].isalnum() for w in subject):
        return []  # "It offers ...", "You may ...": a question about "it" or "you" means nothing on its own
    if kind == "main" and any("," in w for w in subject) or any(
            w in {"the", "a", "an"} and p.lower() not in PREPOSITIONS for p, w in zip(subject, subject[1:])):
        return []  # "Given enough time the occasional duplicate": a lead without its comma
    verb, rest = words[i], words[i + 1:]
    if kind == "main" and len(rest) > 1 and rest[0] in {"or", "and"} and _VERB_S.match(rest[1]):
        verb, rest = f"{verb} {rest[0]} {rest[1]}", rest[2:]  # "repairs or replaces"
    first, *more = _SECOND.split(" ".join(rest), maxsplit=1)
    clauses = [_Clause(" ".join(subject), verb, kind, first, lead)]
    if more and len(more[0].split()) > 1:
        second_verb, second = more[0].split(" ", 1)
        clauses.append(_Clause(" ".join(subject), second_verb, "aux" if second_verb in AUX else "main", second, lead))
    return clauses


def _question(*parts: str) -> str:
    """The parts as one question: single spaces, no space before a comma, a capital and a "?"."""
    question = re.sub(r"\s+([,;])", r"\1", " ".join(" ".join(parts).split())).rstrip(" ,;")
    return question[0].upper() + question[1:] + "?"


def _ask(opening: str, clause: _Clause, predicate: str, tail: str = "") -> str:
    return _question(opening, clause.inverted(predicate), tail, clause.lead)


def _span_question(clause: _Clause) -> str | None:
    """A question about the first count, duration, amount, date or time in the predicate."""
    pred = clause.predicate
    for pattern, opening in SPAN_RULES:
        match = re.search(pattern, pred)
        if not match:
            continue
        before, after, found = pred[:match.start()], pred[match.end():], match.groupdict()
        stranded = ""
        if found.get("event"):
            unit = found["unit"] if found["unit"].endswith("s") else found["unit"] + "s"
            opening = f"How many {unit} after {found['event']}"
        elif opening == "How many":
            unit = found["unit"].split()
            plural = next((k for k, w in enumerate(unit) if w.endswith("s")), None)
            unit = unit[:plural + 1] if plural is not None else unit[:1]
            last = before.split()[-1].lower() if before.split() else ""
            if not found["pre"] and last in FUNCTION | LABELS or re.match(r"(?:19|20)\d\d$", found["n"]):
                continue  # "within their first 2 weeks", "section 7", a year
            if any(w in FUNCTION for w in unit) or found["pre"] and len(before.split()) > 1 and plural is not None and \
                    found["tail"] == "" and before.split()[-1] not in {"entitled", "limited", "up"}:
                continue  # "an absence of more than 3 days": the number belongs to a noun, not to the verb
            dropped = found["unit"].split()[len(unit):]
            unit[-1] += "" if unit[-1].endswith("s") else "s"
            opening = f"How many {' '.join(unit)}{found['tail']}"
            after = " ".join(dropped) + after if dropped and not found["tail"] else after
            stranded = found["pre"] or ""
        elif opening == "How much":
            if not re.search(r"\bcosts?\b", f"{clause.verb} {before}"):
                continue
        return _ask(opening, clause, f"{before} {after}", stranded)
    return None


def _other_questions(clause: _Clause) -> list[str]:
    """What/Where/Who questions, then "What must X do?", then yes/no."""
    out, pred, verb, words = [], clause.predicate, clause.verb.lower(), clause.predicate.split()
    if verb in {"is", "are"} and words and words[0] in {"a", "an", "the"} and len(clause.subject.split()) <= 6:
        out.append(_question("What", verb, clause.subject, clause.lead))
    place = re.match(r"(\w+ed|available|stored|located|kept) (?:in|at|on) (?:the|your|our|a) (?!(?:\w+ ){0,2}"
                     r"(?:day|week|month|year|time|date|first|last|previous|next)\b)", pred)
    if verb in {"is", "are"} and place:
        out.append(_ask("Where", clause, place.group(1)))
    if len(words) >= 3 and not (verb in {"is", "are"} and re.match(r"\d|(?:a|an|the)\b", pred)):
        head = clause.subject.split()[-1]
        who = "Who" if head.lower() in PEOPLE or re.search(r"[A-Z]\w+ (?:Team|Foundation|Project)$", clause.subject) else "What"
        verbs = clause.verb.lower().split()
        if clause.kind != "main" or not _VERB_S.match(verbs[0]):
            verbs = [_third_person(v) for v in verbs]
        out.append(_question(who, *verbs, pred, clause.lead))
    if verb in {"must", "should"} and words and words[0] not in {"be", "not", "have"}:
        out.append(_question("What", verb, clause.subject, "do", clause.lead))
    out.append(_ask("", clause, re.sub(r"^(?:not|also|only) ", "", pred)))
    return out


def candidate_questions(sentence: str, names: frozenset[str] = frozenset()) -> list[str]:
    """Questions ``sentence`` answers, best first; none for a fragment, a list, a label ("Timer:
    ...") or a command without a number or date. ``names`` are the words its document writes
    capitalised mid-sentence ("Lumora", "VPN"), kept capitalised inside a question."""
    if len(sentence) > 300 or not sentence[:1].isupper() or not sentence.endswith(".") or ": " in sentence:
        return []
    clauses = _clauses(sentence, set(names))
    spans = [q for c in clauses if (q := _span_question(c))]
    if clauses and clauses[0].kind == "command":
        purpose = re.search(r"^\w+ the (?:\w+ ){0,3}(?:button|key|switch|dial|icon|menu|option|command|tab|link) to "
                            r"((?!the |a |an |your |\d)[a-z]+\b.*)$", clauses[0].predicate)
        return spans + ([_question("How do you", purpose.group(1), clauses[0].lead)] if purpose else [])
    return spans + [q for c in clauses for q in _other_questions(c)]


def names_in(text: str) -> frozenset[str]:
    """Words ``text`` writes capitalised after a lower-case word and never in lower case: the names
    a question keeps capitalised ("Lumora", but not "Return" when "return" also occurs)."""
    raw = text.split()
    words = [w.strip(".,;:()\"'") for w in raw]
    lower = {w for w in words if w.islower()}
    return frozenset(w for prev, w in zip(raw, words[1:])
                     if prev[:1].islower() and prev[-1] not in ".!?:" and w[:1].isupper() and w.lower() not in lower)
