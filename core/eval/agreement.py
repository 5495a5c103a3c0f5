"""How far the automatic scorer can be trusted: its reading of answers against a person's.

The development set (``bench/devset/``: documents nobody on the team wrote, with questions and
reference answers) comes with answers read by hand (``labels.jsonl``: one row per answer of an
evaluation run, labelled right, wrong or abstained with a few words of reason). ``agreement``
scores each labelled answer with today's scorer (``core.eval.metrics.judge``) and counts where the
two readings agree. Labels are grouped in rounds: a round labelled after the scorer last changed
measures it on answers it was not fitted to, and that is the figure shown to users.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.config import REPO_ROOT
from core.eval import metrics as m
from core.eval.items import item_from_row

DEVSET_DIR = REPO_ROOT / "bench" / "devset"
LABELS = ("right", "wrong", "abstained")


@dataclass(frozen=True)
class Disagreement:
    id: str
    arm: str
    answer: str
    label: str  # a person's reading
    scored: str  # the scorer's
    reason: str


@dataclass
class Agreement:
    round: int
    answers: int = 0
    agreed: int = 0
    kappa: float | None = None  # Cohen's kappa over the three labels
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.agreed / self.answers if self.answers else float("nan")

    def sentence(self) -> str:
        """The line shown next to the metrics on the Evaluate page and in the report."""
        kappa = "" if self.kappa is None else f", Cohen's kappa {self.kappa:.2f}"
        return (f"Key-fact scoring agrees with answers read by hand on {self.accuracy:.0%} of {self.answers} answers "
                f"({self.agreed} of them{kappa}), on documents nobody on the team wrote (development set, "
                f"labelling round {self.round}).")


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two readings of the same answers; None when chance agreement is total."""
    # Written out (six lines) rather than importing scikit-learn into the app for one formula.
    n = len(a)
    if not n:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    expected = sum((a.count(c) / n) * (b.count(c) / n) for c in set(a) | set(b))
    return None if expected == 1 else (observed - expected) / (1 - expected)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def agreements(devset: Path = DEVSET_DIR) -> list[Agreement]:
    """The scorer against the hand labels, one ``Agreement`` per labelling round (oldest first);
    empty when the development set has no labels."""
    labels_path, questions_path = devset / "labels.jsonl", devset / "questions.jsonl"
    if not labels_path.is_file() or not questions_path.is_file():
        return []
    questions = {row["id"]: row for row in _read_jsonl(questions_path)}
    rounds: dict[int, tuple[Agreement, list[str], list[str]]] = {}
    for row in _read_jsonl(labels_path):
        item = item_from_row(questions[row["id"]])
        if isinstance(item, str) or row["label"] not in LABELS:
            raise ValueError(f"labels.jsonl: bad row for {row.get('id')}: {item if isinstance(item, str) else row['label']}")
        scored = m.judge(item.question, item.answerable, item.key_facts, row["answer"], item.answer)
        agreement, people, scorer = rounds.setdefault(int(row.get("round", 1)), (Agreement(int(row.get("round", 1))), [], []))
        agreement.answers += 1
        people.append(row["label"])
        scorer.append(scored or "wrong")
        if scored == row["label"]:
            agreement.agreed += 1
        else:
            agreement.disagreements.append(Disagreement(row["id"], row["arm"], row["answer"], row["label"],
                                                        scored or "unscored", row.get("reason", "")))
    out = []
    for number in sorted(rounds):
        agreement, people, scorer = rounds[number]
        agreement.kappa = cohen_kappa(people, scorer)
        out.append(agreement)
    return out


def latest_agreement(devset: Path = DEVSET_DIR) -> Agreement | None:
    """The newest labelling round's agreement: answers the scorer was not fitted to."""
    found = agreements(devset)
    return found[-1] if found else None


def scorer_check(devset: Path = DEVSET_DIR) -> str:
    """One sentence for the Evaluate page and the report: how far the key-fact scoring agrees with
    a person's reading, measured on the development set."""
    found = latest_agreement(devset)
    if found is None:
        return "Key-fact scoring has not been checked against answers read by hand yet."
    return found.sentence()
