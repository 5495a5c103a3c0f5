"""Which approach to choose: the article's criteria weighed together with the measured numbers.

Each need the user answered gives points to RAG, fine-tuning or the hybrid, and says why in a
sentence that cites what was measured; an unanswered one gives none. An arm whose accuracy interval
lies clearly above the others' gets the most points of all. The numbers overrule the criteria when
no arm answers well (``RELIABLE``): the recommendation then says so first. Deterministic: the same
answers and numbers always give the same recommendation.

The choice and the points are keyed by arm name (``rag``, ``finetuned``, ``hybrid``: see
``core.compare.arms``); what the text calls them (``Arm.approach``, ``Arm.called``) is looked up only
where a sentence is written.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.compare.arms import ARM_TABLE, ARMS_BY_NAME, FINETUNED, HYBRID, ORACLE, RAG, Arm, called
from core.eval.economics import Economics
from core.eval.summary import ArmSummary
from core.eval.votes import MIN_VOTES, VoteSummary

CANDIDATES = tuple(a.name for a in ARM_TABLE if a.approach)  # the arms a recommendation picks from, in the table's order
CHOICES = (RAG.name, HYBRID.name, FINETUNED.name)  # the same, on a tie the simplest to run first
ACCURACY = "key_fact_hit"  # the ArmSummary field the recommendation weighs
CLEAR_WIN = 3.0  # points for an accuracy interval clearly above the others': more than any single need
RELIABLE = 0.5  # an arm answers well when it states the key fact in at least half of the answerable questions
BIGGER_MODEL = ("Try a bigger model before choosing between RAG and fine-tuning: pick one on the Models page "
                "(or set models.llm, for example LAB_MODELS__LLM=Qwen/Qwen2.5-1.5B-Instruct).")


class Needs(BaseModel):
    """What the use case needs, as the user answered it: None until answered (no answer is assumed)."""

    knowledge_changes_often: bool | None = Field(None, description="Do the documents change often (weekly or faster)?")
    must_cite_sources: bool | None = Field(None, description="Must every answer show where it came from?")
    tone_and_style_matter: bool | None = Field(None, description="Must answers follow a house tone, vocabulary or format?")
    realtime_latency: bool | None = Field(None, description="Must answers come back in real time?")
    stable_training_data: bool | None = Field(None, description="Do you have plenty of examples that will stay valid?")
    tight_budget: bool | None = Field(None, description="Is the budget tight?")
    expected_questions: int | None = Field(
        None, ge=0, description="How many questions will it answer before the documents change?")

    def unanswered(self) -> list[str]:
        """The questions still open (the expected number of questions only matters on a tight budget)."""
        return [q for name, q in NEED_QUESTIONS.items() if getattr(self, name) is None
                and (name != "expected_questions" or self.tight_budget)]

    def answers(self) -> list[str]:
        """Each answered question with its answer, as one line."""
        def shown(v) -> str:
            return ("yes" if v else "no") if isinstance(v, bool) else f"{v:,}"

        return [f"{q} {shown(getattr(self, name))}" for name, q in NEED_QUESTIONS.items()
                if getattr(self, name) is not None and (name != "expected_questions" or self.tight_budget)]


NEED_QUESTIONS = {name: field.description for name, field in Needs.model_fields.items()}


class Recommendation(BaseModel):
    choice: str = Field(description="The name of the arm chosen: one of CANDIDATES.")
    points: dict[str, float]  # per candidate arm name, so the page can show how close the call was
    reasons: list[str]
    caveats: list[str] = Field(default_factory=list)
    verdict: str | None = Field(None, description="Said before the choice: no arm answers well (see RELIABLE).")
    rests_on: list[str] = Field(default_factory=list, description="The user's answers the choice rests on.")
    unanswered: list[str] = Field(default_factory=list, description="Situation questions not answered yet.")

    @property
    def arm(self) -> Arm:
        """The chosen arm; its ``approach`` is what the text calls the choice ("Fine-tuning")."""
        return ARMS_BY_NAME[self.choice]

    @property
    def basis(self) -> str:
        """One sentence: which answers the recommendation rests on."""
        if not self.rests_on:
            return "This recommendation rests on the measured numbers alone: no question about your situation was answered."
        open_ = f" Not answered: {len(self.unanswered)} question(s)." if self.unanswered else ""
        return "This recommendation rests on your answers: " + "; ".join(self.rests_on) + "." + open_


def pct(x: float) -> str:
    return f"{x:.0%}"


def usd(x: float) -> str:
    return f"${x:,.2f}" if x >= 1 else f"${x:.2g}"


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:]


def _against(values: dict[str, float], fmt) -> str:
    """'0.4 s for RAG and 0.9 s for the hybrid'."""
    parts = [f"{fmt(v)} for {called(a)}" for a, v in values.items()]
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def _measured(summary: dict[str, ArmSummary], field: str) -> dict[str, float]:
    """Mean of one metric per candidate arm that has it."""
    out = {}
    for arm in CANDIDATES:
        value = summary[arm].mean(field) if arm in summary else None
        if value is not None:
            out[arm] = value
    return out


def _accuracy(summary: dict[str, ArmSummary], points: dict, reasons: list, caveats: list) -> None:
    acc = {a: summary[a].key_fact_hit for a in CANDIDATES if a in summary and summary[a].key_fact_hit}
    if len(acc) < 2:
        caveats.append("Fewer than two of RAG, fine-tuned and hybrid were scored on key-fact accuracy: "
                       "the recommendation rests on your needs, not on measured accuracy.")
        return
    best, *others = sorted(acc, key=lambda a: -acc[a][0])
    text = (f"{_sentence(called(best))} answered {pct(acc[best][0])} of questions correctly against "
            f"{_against({a: acc[a][0] for a in others}, pct)}")
    if all(acc[best][1] > acc[a][2] for a in others):
        points[best] += CLEAR_WIN
        reasons.append(f"{text}; its 95% interval ({pct(acc[best][1])}–{pct(acc[best][2])}) "
                       "lies clearly above the others'.")
    else:
        caveats.append(f"{text}, but the 95% intervals overlap: more test questions are needed to tell them apart.")
    oracle = summary[ORACLE.name].key_fact_hit if ORACLE.name in summary else None
    if oracle and RAG.name in acc and oracle[0] - acc[RAG.name][0] >= 0.1:
        caveats.append(f"Given the gold passage, the model answers {pct(oracle[0])} correctly against "
                       f"{pct(acc[RAG.name][0])} for RAG: better retrieval would close much of that gap.")


def _selective(summary: dict[str, ArmSummary], caveats: list) -> None:
    """The selective-answering trade-off: an arm that withholds or abstains answers fewer questions,
    and what it does show may be right more often. Said when some candidate arm leaves questions
    unanswered, so a low accuracy is read next to how much was answered."""
    shown = {a: (summary[a].answered, summary[a].right_when_answered) for a in CANDIDATES
             if a in summary and summary[a].answered}
    if not shown or all(v[0][0] >= 0.999 for v in shown.values()):
        return
    parts = [f"{called(a)} answered {pct(answered[0])} of the questions"
             + (f" and was right on {pct(right[0])} of what it answered" if right else "")
             for a, (answered, right) in shown.items()]
    caveats.append("Answers shown against questions answered (an arm that says \"I don't know\" or withholds an "
                   "unsupported answer answers fewer, and may be right more often when it does): "
                   + "; ".join(parts) + ".")


def no_reliable_arm(summary: dict[str, ArmSummary], caveats: list | None = None) -> str | None:
    """The verdict when no arm answers well: every scored arm's key-fact accuracy interval (oracle and base
    included) lies below ``RELIABLE``, so more questions would not change it. None otherwise; when the best
    arm is below ``RELIABLE`` but its interval reaches it, a caveat says it is not yet clear."""
    acc = {a: row.key_fact_hit for a, row in summary.items() if row.key_fact_hit}
    if not acc:
        return None
    best = max(acc, key=lambda a: acc[a][0])
    measured = (f"{called(best)} states the key fact in {pct(acc[best][0])} of the questions "
                f"(95% interval {pct(acc[best][1])}–{pct(acc[best][2])})")
    if all(v[2] < RELIABLE for v in acc.values()):
        return ("No set-up answers reliably with this model: the comparison says more about the model than about RAG "
                f"or fine-tuning. The best, {measured}; answering well means at least {pct(RELIABLE)}, and every "
                f"set-up's interval lies below that. {BIGGER_MODEL}")
    if acc[best][0] < RELIABLE and caveats is not None:
        caveats.append(f"It is not yet clear that any set-up answers well: the best, {measured}, below the "
                       f"{pct(RELIABLE)} that counts as answering well. More test questions would tell.")
    return None


def recommend(needs: Needs, summary: dict[str, ArmSummary], econ: Economics | None = None,
              votes: VoteSummary | None = None) -> Recommendation:
    """Score the three candidate arms on the answered needs and the measured summary (see ``core.eval.summary.summarize``).
    With ``votes`` (the stakeholders' blind votes) the text also says what the room preferred, or that
    the votes are too few; the votes give no points, so the choice is the same with or without them."""
    points = dict.fromkeys(CHOICES, 0.0)
    reasons: list[str] = []
    caveats: list[str] = []
    verdict = no_reliable_arm(summary, caveats)

    def give(votes: dict[Arm, float], reason: str) -> None:
        for arm, n in votes.items():
            points[arm.name] += n
        reasons.append(reason)

    _accuracy(summary, points, reasons, caveats)
    _selective(summary, caveats)
    missing = [called(a) for a in CANDIDATES if a not in summary]
    if missing:
        caveats.append(f"Not evaluated: {', '.join(missing)}. Their case rests on the article's claims alone.")
    train = econ.training_cost if econ else None
    if needs.knowledge_changes_often:  # each criterion counts only once answered: None gives no points
        cost = f" (about {usd(train)} of training each time)" if train is not None else ""
        give({RAG: 2, HYBRID: 1, FINETUNED: -2}, "Your documents change often: RAG answers from an edit as "
             f"soon as it is re-indexed, while an adapter goes stale and must be retrained{cost}.")
    elif needs.knowledge_changes_often is False:
        give({FINETUNED: 1, HYBRID: 1}, "Your documents are stable, so an adapter trained on them stays current.")
    if needs.must_cite_sources:
        hit = _measured(summary, "hit").get(RAG.name)
        found = f" RAG retrieved the right document for {pct(hit)} of questions." if hit is not None else ""
        give({RAG: 2, HYBRID: 2, FINETUNED: -2}, "Answers must cite sources: RAG and the hybrid show the "
             f"passages they read, the fine-tuned model cannot say where a fact came from.{found}")
    if needs.tone_and_style_matter:
        give({FINETUNED: 2, HYBRID: 2}, "Tone and style matter: fine-tuning teaches the model your house style, "
             "retrieval only changes what it reads.")
    if needs.realtime_latency:
        latency = _measured(summary, "latency_p50_s")
        if len(latency) >= 2:
            fastest, *others = sorted(latency, key=latency.get)
            slower = _against({a: latency[a] for a in others}, lambda v: f"{v:.2f} s")
            give({ARMS_BY_NAME[fastest]: 2}, f"Answers must be fast: {called(fastest)} answered in "
                 f"{latency[fastest]:.2f} s (median) against {slower}.")
        else:
            give({FINETUNED: 2}, "Answers must be fast: a fine-tuned model needs no search and reads a short "
                 "prompt.")
    if needs.stable_training_data:
        give({FINETUNED: 1, HYBRID: 1}, "You have plenty of stable examples, which fine-tuning needs.")
    elif needs.stable_training_data is False:
        give({FINETUNED: -1, HYBRID: -1}, "Without plenty of stable examples, fine-tuning risks learning them "
             "by heart (overfitting) instead of the domain.")
    if needs.tight_budget:
        _budget(needs, econ, give, caveats)
    choice = max(CHOICES, key=lambda c: points[c])
    if votes is not None:
        _room(votes, choice, reasons, caveats)
    return Recommendation(choice=choice, points=points, reasons=reasons, caveats=caveats, verdict=verdict,
                          rests_on=needs.answers(), unanswered=needs.unanswered())


def _room(votes: VoteSummary, choice: str, reasons: list, caveats: list) -> None:
    """What the stakeholders' blind votes say next to the choice: a reason when the room preferred the
    chosen arm, a caveat when it preferred another or when the votes are too few to read."""
    top = votes.preferred
    if not votes.enough:
        caveats.append(f"Only {votes.votes} stakeholder vote{'s' * (votes.votes != 1)} so far: at least {MIN_VOTES} "
                       "are needed to say which answers the room preferred (blind mode on the Compare page).")
        return
    if top is None:
        caveats.append(f"The {votes.votes} stakeholder votes so far put no set-up above another, so they do not say "
                       "which answers the room preferred.")
        return
    who = f"{votes.votes} blind votes from {votes.voters} voter{'s' * (votes.voters != 1)}"
    rate = f"preferred to another set-up {pct(top.win_rate)} of the time, 95% interval {pct(top.low)}–{pct(top.high)}"
    if votes.clear:
        text = f"In {who}, the room preferred {called(top.arm)} ({rate})"
    else:
        text = (f"In {who}, the room leaned towards {called(top.arm)} ({rate}), but the intervals "
                "overlap: more votes are needed to tell the set-ups apart")
    if top.arm == choice:
        reasons.append(text + ".")
    else:
        caveats.append(f"{text}; not {ARMS_BY_NAME[choice].approach}, the choice the numbers and your answers give.")


def _budget(needs: Needs, econ: Economics | None, give, caveats: list) -> None:
    per_q = econ.per_question if econ else {}
    if not econ or econ.training_cost is None or not {RAG.name, FINETUNED.name} <= set(per_q):
        give({RAG: 2, HYBRID: -1}, "The budget is tight: RAG needs no training run.")
        caveats.append("The adapter's training time or an arm's token counts are unknown: "
                       "the break-even was not computed.")
        return
    rag, ft, train = per_q[RAG.name], per_q[FINETUNED.name], econ.training_cost
    costs = f"a fine-tuned answer costs {usd(ft)} against {usd(rag)} for RAG"
    if econ.break_even is None:
        give({RAG: 2, HYBRID: -1},
             f"The budget is tight and {costs}, so the {usd(train)} of training never pays back.")
    elif needs.expected_questions is None:
        give({}, f"The budget is tight and {costs}: the {usd(train)} of training pays back after "
             f"{econ.break_even:,.0f} questions. Say how many questions you expect to weigh that.")
    elif econ.break_even <= needs.expected_questions:
        give({FINETUNED: 2, HYBRID: -1}, f"The budget is tight and {costs}: the {usd(train)} of training pays "
             f"back after {econ.break_even:,.0f} questions, within the {needs.expected_questions:,} you expect.")
    else:
        give({RAG: 2, HYBRID: -1}, f"The budget is tight and {costs}: the {usd(train)} of training pays back "
             f"only after {econ.break_even:,.0f} questions, more than the {needs.expected_questions:,} you expect.")
