"""What the room thinks, beside what the metrics say: the votes on one knowledge base summed up,
and how far they agree with the key-fact scores of the saved evaluations.

Agreement, on a question that a saved evaluation of the same knowledge base also asked: the
room agrees with the scorer when every arm it voted best was scored right (``triage.is_right``,
the evaluation's own verdict), or, for "all bad", when none of the shown arms was. The newest
run on the vote's knowledge-base version is asked first, then the newest on any version.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.eval import triage
from core.eval.run import EvalRun, QuestionResult
from core.votes.pairwise import RESAMPLES, Standing, standings
from core.votes.record import Vote

MIN_VOTES = 10  # fewer, and the recommendation says the votes are too few to read


class Disagreement(BaseModel):
    question: str
    voted_best: list[str]  # arm names; empty when the room marked every answer bad
    scored_right: list[str]  # the shown arms the evaluation scored right
    run: str  # the evaluation's name (or id)


class Agreement(BaseModel):
    covered: int = 0  # votes on a question an evaluation also scored
    agreed: int = 0
    disagreements: list[Disagreement] = Field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return self.agreed / self.covered if self.covered else None


class VoteSummary(BaseModel):
    kb: str | None = None
    votes: int = 0
    voters: int = 0
    all_bad: int = 0  # votes that marked every answer bad
    setups: int = 0  # distinct model + adapter fingerprints and precisions the votes were cast on
    standings: list[Standing] = Field(default_factory=list)  # strongest first
    agreement: Agreement = Field(default_factory=Agreement)

    @property
    def enough(self) -> bool:
        return self.votes >= MIN_VOTES

    @property
    def preferred(self) -> Standing | None:
        return self.standings[0] if self.standings else None

    @property
    def clear(self) -> bool:
        """Whether the preferred arm's interval lies above every other arm's."""
        top, *others = self.standings or [None]
        return top is not None and bool(others) and all(top.low > o.high for o in others)


def _key(question: str) -> str:
    return " ".join(question.split()).casefold()


def _scored(vote: Vote, runs: list[EvalRun]) -> tuple[EvalRun, QuestionResult] | None:
    """The evaluation result for the vote's question: newest run on its version first, then any version."""
    candidates = [r for r in runs if r.kb == vote.kb]
    candidates.sort(key=lambda r: r.kb_version != vote.kb_version)  # stable: newest first within each group
    for run in candidates:
        for result in run.results:
            if _key(result.item.question) == _key(vote.question):
                return run, result
    return None


def agreement(votes: list[Vote], runs: list[EvalRun]) -> Agreement:
    """How the votes and the key-fact scores agree on the questions both cover (``runs`` newest first)."""
    out = Agreement()
    for vote in votes:
        found = _scored(vote, runs)
        if found is None:
            continue
        run, result = found
        right = {a: triage.is_right(result.item, result.arms[a]) for a in vote.shown if a in result.arms}
        judged = list(right) if vote.all_bad else [a for a in vote.best if a in right]
        if not judged:
            continue  # the arms voted best were not in that evaluation
        agreed = not any(right.values()) if vote.all_bad else all(right[a] for a in judged)
        out.covered += 1
        out.agreed += agreed
        if not agreed:
            out.disagreements.append(Disagreement(question=vote.question, voted_best=[] if vote.all_bad else vote.best,
                                                  scored_right=[a for a in right if right[a]], run=run.name or run.id))
    return out


def summarize_votes(votes: list[Vote], runs: list[EvalRun] = (), kb: str | None = None,
                    resamples: int = RESAMPLES, seed: int = 0) -> VoteSummary:
    """The votes (on ``kb`` only, when given) summed up, with their agreement with ``runs`` (newest first)."""
    if kb is not None:
        votes = [v for v in votes if v.kb == kb]
    return VoteSummary(kb=kb, votes=len(votes), voters=len({v.voter_key for v in votes}),
                       all_bad=sum(v.all_bad for v in votes),
                       setups=len({(v.model_fingerprint, v.dtype, v.adapter_fingerprint) for v in votes}),
                       standings=standings(votes, resamples, seed), agreement=agreement(votes, list(runs)))
