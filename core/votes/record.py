"""One stakeholder vote on one question: the answers shown blind, and what the viewer chose.

A viewer picks the best answer, or several that are equally good, or says all are bad. The vote
keeps everything needed to read it later without the app: the question, every answer shown, the
letters they were shown under, and the set-up that gave them (knowledge-base version, model and
adapter fingerprints, the precision of the model's weights, decoding settings).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from pydantic import BaseModel, Field

from core.compare.results import Comparison
from core.errors import LabError

MAX_VOTER_CHARS = 80


class VoteError(LabError):
    """A vote that cannot be recorded: the message says what to change."""


class Vote(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    created_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    session_id: str = Field("", description="The browser session that voted (one per viewer's tab).")
    voter: str = Field("", description="The name the viewer gave, if any.")
    comparison_id: str = ""
    question: str
    kb: str
    kb_version: str
    model: str = ""
    model_fingerprint: str
    dtype: str = Field("fp32", description="The base weights' precision (votes cast before it was recorded: fp32, "
                                           "the only one then).")
    adapter: str | None = None
    adapter_id: str | None = None
    adapter_fingerprint: str | None = None
    decoding: dict = Field(default_factory=dict)
    top_k: int | None = None
    require_support: bool = False
    answers: dict[str, str] = Field(description="Arm name -> its answer as shown (the viewer read it without [n] markers).")
    letters: dict[str, str] = Field(description="Letter -> arm name: how the answers were shown.")
    best: list[str] = Field(default_factory=list, description="Arm names voted best (several: equally good).")
    all_bad: bool = False

    @property
    def shown(self) -> list[str]:
        """The arms whose answers were shown, in letter order."""
        return list(self.letters.values())

    @property
    def voter_key(self) -> str:
        """Who voted: the name when one was given (the same person in two tabs counts once), else the session."""
        return f"name:{self.voter.strip().casefold()}" if self.voter.strip() else f"session:{self.session_id}"


def make_vote(comparison: Comparison, letters: dict[str, str], picked: list[str], all_bad: bool,
              voter: str = "", session_id: str = "") -> Vote:
    """The vote for ``comparison``, whose answers were shown under ``letters`` (letter -> arm):
    ``picked`` the letters voted best, or ``all_bad``. Raises ``VoteError`` for a vote that says
    nothing or contradicts itself."""
    if len(letters) < 2:
        raise VoteError("A vote needs at least two answers to choose between.")
    unknown = [p for p in picked if p not in letters]
    if unknown:
        raise VoteError(f"There is no answer {', '.join(unknown)} to this question.")
    if all_bad and picked:
        raise VoteError("Pick the best answers or mark them all bad, not both.")
    if not all_bad and not picked:
        raise VoteError("Pick the best answer (several if they are equally good), or mark them all bad.")
    voter = " ".join((voter or "").split())
    if len(voter) > MAX_VOTER_CHARS:
        raise VoteError(f"The name is {len(voter)} characters long; the limit is {MAX_VOTER_CHARS}.")
    f = comparison.fairness
    return Vote(session_id=session_id, voter=voter, comparison_id=comparison.id, question=comparison.question,
                kb=f.kb, kb_version=f.kb_version, model=f.model, model_fingerprint=f.model_fingerprint, dtype=f.dtype,
                adapter=f.adapter, adapter_id=f.adapter_id, adapter_fingerprint=f.adapter_fingerprint,
                decoding=f.decoding, top_k=f.top_k, require_support=f.require_support,
                answers={arm: comparison.arms[arm].text for arm in letters.values()}, letters=dict(letters),
                best=[letters[p] for p in sorted(set(picked))], all_bad=all_bad)
