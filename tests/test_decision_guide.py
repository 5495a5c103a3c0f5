"""The decision guide: situation questions are unset until answered, the recommendation says which answers
it rests on, and the measured numbers overrule the criteria when no set-up answers well."""

import html

import pytest

from core.eval.decision import RELIABLE, Needs, no_reliable_arm, recommend, usd
from core.eval.economics import Economics, Prices
from core.eval.metrics import bootstrap_ci
from core.eval.report import html_report
from core.eval.run import ArmScore, EvalRun, QuestionResult, TestItem
from core.eval.summary import ArmSummary
from core.eval.votes import MIN_VOTES, VoteSummary
from core.votes.pairwise import Standing
from tests.apptest import own_workspace, session

MODEL_SAYS_MORE = "No set-up answers reliably with this model: the comparison says more about the model than about RAG"


def row(right: int, of: int = 20) -> ArmSummary:
    """One arm's summary from ``right`` of ``of`` key facts stated, with the real bootstrap interval."""
    return ArmSummary(key_fact_hit=bootstrap_ci([1.0] * right + [0.0] * (of - right)), hit=(0.9, 0.75, 1.0),
                      latency_p50_s=1.0, latency_p95_s=2.0, prompt_tokens=500.0, completion_tokens=30.0)


# the case in the issue: 20 answerable questions over public documents, RAG 1 of 20, base 2 of 20
NOBODY_ANSWERS = {"base": row(2), "rag": row(1)}
ANSWERED = dict(knowledge_changes_often=True, must_cite_sources=True, tone_and_style_matter=False,
                realtime_latency=False, stable_training_data=False, tight_budget=False)


def test_unanswered_questions_give_no_points_and_the_basis_says_so():
    rec = recommend(Needs(), {"rag": row(15), "finetuned": row(5)})
    assert rec.points == {"rag": 3.0, "hybrid": 0.0, "finetuned": 0.0}  # the measured win only
    assert rec.rests_on == [] and len(rec.unanswered) == 6  # the expected count is only asked on a tight budget
    assert "measured numbers alone" in rec.basis
    assert not any("change often" in r or "cite sources" in r for r in rec.reasons)


def test_the_basis_names_each_answer_the_recommendation_rests_on():
    rec = recommend(Needs(**ANSWERED), {"rag": row(15), "finetuned": row(5)})
    assert rec.unanswered == []
    assert "Do the documents change often (weekly or faster)? yes" in rec.basis
    assert "Is the budget tight? no" in rec.basis
    budget = Needs(**{**ANSWERED, "tight_budget": True})
    assert budget.unanswered() == ["How many questions will it answer before the documents change?"]


def test_when_no_arm_answers_well_the_recommendation_says_so_first():
    rec = recommend(Needs(**ANSWERED), NOBODY_ANSWERS)
    assert rec.verdict.startswith(MODEL_SAYS_MORE) and "bigger model" in rec.verdict
    assert "10%" in rec.verdict and f"{RELIABLE:.0%}" in rec.verdict  # the best arm's figure and the threshold
    page = html_report(make_run(), NOBODY_ANSWERS, rec, needs=Needs(**ANSWERED))
    verdict_at = page.index(html.escape(MODEL_SAYS_MORE, quote=True))
    assert verdict_at < page.index("Among these set-ups, by your answers: RAG")
    assert html.escape(rec.basis, quote=True) in page


@pytest.mark.parametrize("summary, caveat, why", [
    ({"base": row(2), "rag": row(19)}, False, "RAG answers well"),
    ({"base": row(2), "rag": row(2), "oracle": row(18)}, False, "the model reads the gold passage well: retrieval is the gap"),
    ({"rag": row(4, of=8)}, False, "half right: at the threshold, not below it"),
    ({"base": row(2), "rag": row(9)}, True, "too few questions to tell: below the threshold, the interval reaches it"),
])
def test_no_verdict_unless_every_interval_lies_below_the_threshold(summary, caveat, why):
    caveats = []
    assert no_reliable_arm(summary, caveats) is None, why
    assert caveats == ([
        "It is not yet clear that any set-up answers well: the best, RAG states the key fact in 45% of the questions "
        "(95% interval 25%–65%), below the 50% that counts as answering well. More test questions would tell."]
        if caveat else []), why
    assert no_reliable_arm(summary) is None  # without a list to add to, it says nothing


def test_no_verdict_without_key_facts():
    assert no_reliable_arm({"rag": ArmSummary(key_fact_hit=None, f1=(0.1, 0.0, 0.2))}) is None


def make_run() -> EvalRun:
    items = [TestItem(question=f"What does clause {i} say?", answer="It allows copying.", key_facts=["copying"])
             for i in range(4)]
    results = [QuestionResult(item=item, arms={"base": ArmScore(text="No idea.", key_fact_hit=0.0, key_fact_recall=0.0),
                                               "rag": ArmScore(text="Unclear.", key_fact_hit=0.0, key_fact_recall=0.0)})
               for item in items]
    return EvalRun(kb="Licenses", kb_version="1", model_fingerprint="m", adapter_id=None, adapter_fingerprint=None, decoding={"temperature": 0.0, "max_new_tokens": 32},
                   top_k=3, arms=["base", "rag"], results=results, id="run-licenses", created="2026-11-29T10:00:00",
                   test_set_name="licenses.jsonl")


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    with own_workspace(tmp_path_factory.mktemp("decision-guide-data")) as data:
        yield data


def test_results_ask_the_situation_before_recommending_and_say_the_model_is_the_problem(app_env):
    from core.eval.runs import RunStore

    RunStore(app_env / "evals").save(make_run())
    at = session("pages/evaluate.py")
    verdict = [w.value.replace("\\", "").strip("*") for w in at.warning]
    assert any(v.startswith(MODEL_SAYS_MORE) for v in verdict)  # measured: shown before any answer
    questions = [r for r in at.radio if r.key and r.key.startswith("need_")]
    assert len(questions) == 6 and all(r.value is None for r in questions)  # nothing pre-ticked
    assert not any("Recommendation" in s.value or "by your answers" in s.value for s in at.success)
    assert any("Answer the 6 open questions" in i.value for i in at.info)

    for r in questions:
        at.radio(key=r.key).set_value("no")
    at.radio(key="need_knowledge_changes_often").set_value("yes").run()
    assert not at.exception
    rec = next(s.value.replace("\\", "") for s in at.success if "by your answers" in s.value)
    assert "Among these set-ups, by your answers:" in rec
    assert "Do the documents change often (weekly or faster)? yes" in rec and "Must every answer show where it came from? no" in rec


def test_the_selective_answering_trade_off_is_measured_and_said():
    from core.eval.summary import summarize

    item = TestItem(question="How many days?", answer="14 days", key_facts=["14 days"])
    unanswerable = TestItem(question="Pets?", answer="I don't know.", answerable=False)

    def scored(text: str, hit: float | None, abstained: bool = False) -> ArmScore:
        return ArmScore(text=text, key_fact_hit=hit, abstained=abstained)

    run = EvalRun(kb="kb", kb_version="v", model_fingerprint="m", adapter_id=None, adapter_fingerprint=None,
                  decoding={}, top_k=3, arms=["rag", "finetuned"], results=[
                      QuestionResult(item=item, arms={"rag": scored("14 days", 1.0), "finetuned": scored("30 days", 0.0)}),
                      QuestionResult(item=item, arms={"rag": scored("I don't know.", 0.0, True),
                                                      "finetuned": scored("14 days", 1.0)}),
                      QuestionResult(item=unanswerable, arms={"rag": scored("I don't know.", None, True),
                                                              "finetuned": scored("Yes, pets are fine.", None)}),
                  ])
    summary = summarize(run)
    assert summary["rag"].answered[0] == pytest.approx(1 / 3) and summary["rag"].right_when_answered[0] == 1.0
    # the fine-tuned arm answered all three; of them, one right (the claim to the unanswerable question is wrong)
    assert summary["finetuned"].answered[0] == 1.0 and summary["finetuned"].right_when_answered[0] == pytest.approx(1 / 3)
    caveat = next(c for c in recommend(Needs(), summary).caveats if c.startswith("Answers shown"))
    assert "RAG answered 33% of the questions and was right on 100% of what it answered" in caveat


def econ(training: float | None = 1.0, break_even: float | None = 500.0, per_question=None) -> Economics:
    per_question = {"rag": 0.003, "finetuned": 0.001} if per_question is None else per_question
    return Economics(prices=Prices(), per_question=per_question, upfront={}, training_cost=training,
                     break_even=break_even)


COSTS = "The budget is tight and a fine-tuned answer costs $0.001 against $0.003 for RAG"


@pytest.mark.parametrize("economics", [None, econ(training=None), econ(per_question={"rag": 0.003})])
def test_a_tight_budget_without_a_break_even_favours_rag_and_says_why(economics):
    rec = recommend(Needs(tight_budget=True), {}, economics)
    assert rec.points == {"rag": 2.0, "hybrid": -1.0, "finetuned": 0.0}
    assert rec.reasons == ["The budget is tight: RAG needs no training run."]
    assert ("The adapter's training time or an arm's token counts are unknown: the break-even was not computed."
            in rec.caveats)


@pytest.mark.parametrize("economics, expected, points, reason", [
    (econ(break_even=None), None, (2, -1, 0), f"{COSTS}, so the $1.00 of training never pays back."),
    (econ(), None, (0, 0, 0), f"{COSTS}: the $1.00 of training pays back after 500 questions. Say how many "
                              "questions you expect to weigh that."),
    (econ(), 500, (0, -1, 2), f"{COSTS}: the $1.00 of training pays back after 500 questions, within the 500 you expect."),
    (econ(), 499, (2, -1, 0), f"{COSTS}: the $1.00 of training pays back only after 500 questions, more than the "
                              "499 you expect."),
])
def test_a_tight_budget_weighs_the_break_even_against_the_questions_expected(economics, expected, points, reason):
    rec = recommend(Needs(tight_budget=True, expected_questions=expected), {}, economics)
    assert rec.points == dict(zip(("rag", "hybrid", "finetuned"), map(float, points)))
    assert rec.reasons == [reason]
    assert not any("break-even was not computed" in c for c in rec.caveats)


def standing(arm: str, win_rate: float, low: float, high: float) -> Standing:
    return Standing(arm=arm, win_rate=win_rate, low=low, high=high, strength=0.5, shown=10, best=5)


def test_the_votes_are_read_only_when_there_are_enough_and_someone_leads():
    for votes in (VoteSummary(votes=1, voters=1), VoteSummary(votes=3, voters=2)):
        rec = recommend(Needs(), {}, votes=votes)
        assert rec.reasons == [] and rec.caveats[-1] == (
            f"Only {votes.votes} stakeholder vote{'s' * (votes.votes != 1)} so far: at least {MIN_VOTES} are needed to "
            "say which answers the room preferred (blind mode on the Compare page).")
    none_ahead = recommend(Needs(), {}, votes=VoteSummary(votes=10, voters=2))  # enough votes, no set-up above another
    assert none_ahead.reasons == [] and none_ahead.caveats[-1] == (
        "The 10 stakeholder votes so far put no set-up above another, so they do not say which answers the room "
        "preferred.")
    clear = VoteSummary(votes=10, voters=1, standings=[standing("rag", 0.7, 0.6, 0.8), standing("hybrid", 0.3, 0.2, 0.4)])
    rec = recommend(Needs(), {}, votes=clear)
    assert rec.choice == "rag" and rec.reasons == [
        "In 10 blind votes from 1 voter, the room preferred RAG (preferred to another set-up 70% of the time, 95% "
        "interval 60%–80%)."]
    leaning = VoteSummary(votes=12, voters=2, standings=[standing("hybrid", 0.6, 0.4, 0.8), standing("rag", 0.4, 0.2, 0.6)])
    rec = recommend(Needs(), {}, votes=leaning)
    assert rec.reasons == [] and rec.caveats[-1] == (
        "In 12 blind votes from 2 voters, the room leaned towards the hybrid (preferred to another set-up 60% of the "
        "time, 95% interval 40%–80%), but the intervals overlap: more votes are needed to tell the set-ups apart; not "
        "RAG, the choice the numbers and your answers give.")


def scored(acc, answered=None, right=None) -> ArmSummary:
    """An arm's summary given by its key-fact accuracy interval (and what it answered)."""
    return ArmSummary(key_fact_hit=acc, answered=answered, right_when_answered=right)


def test_the_best_arm_is_the_highest_estimate_and_wins_points_only_when_its_interval_clears_every_other():
    # ranked by the estimate (the fine-tuned arm's interval starts higher, its estimate is lower)
    rec = recommend(Needs(), {"rag": scored((0.6, 0.3, 0.9)), "finetuned": scored((0.5, 0.45, 0.55)),
                              "hybrid": scored((0.4, 0.2, 0.3))})
    assert rec.caveats[0] == ("RAG answered 60% of questions correctly against 50% for the fine-tuned model and 40% for "
                              "the hybrid, but the 95% intervals overlap: more test questions are needed to tell them apart.")
    touching = recommend(Needs(), {"rag": scored((0.5, 0.4, 0.6)), "finetuned": scored((0.3, 0.2, 0.4))})
    assert touching.points == {"rag": 0.0, "hybrid": 0.0, "finetuned": 0.0}  # 40% is not above 40%
    assert touching.caveats[0].startswith("RAG answered 50% of questions correctly against 30% for the fine-tuned model, but")
    clear = recommend(Needs(), {"rag": scored((0.5, 0.41, 0.6)), "finetuned": scored((0.3, 0.2, 0.4))})
    assert clear.points["rag"] == 3.0 and clear.reasons == [
        "RAG answered 50% of questions correctly against 30% for the fine-tuned model; its 95% interval (41%–60%) lies "
        "clearly above the others'."]
    alone = recommend(Needs(), {"rag": scored((0.9, 0.8, 1.0))})
    assert alone.points["rag"] == 0.0 and alone.caveats[0] == (
        "Fewer than two of RAG, fine-tuned and hybrid were scored on key-fact accuracy: the recommendation rests on "
        "your needs, not on measured accuracy.")


def test_the_oracle_caveat_needs_a_gap_of_ten_points_over_rag():
    gold = "Given the gold passage, the model answers 20% correctly against 10% for RAG: better retrieval would close much of that gap."
    base = {"rag": scored((0.1, 0.0, 0.2)), "finetuned": scored((0.1, 0.0, 0.2))}
    assert gold in recommend(Needs(), {**base, "oracle": scored((0.2, 0.1, 0.3))}).caveats  # 0.2 - 0.1: exactly 0.1
    assert not any(c.startswith("Given the gold") for c in recommend(Needs(), {**base, "oracle": scored((0.19, 0.1, 0.3))}).caveats)
    without_rag = {"finetuned": scored((0.1, 0.0, 0.2)), "hybrid": scored((0.1, 0.0, 0.2)), "oracle": scored((0.9, 0.8, 1.0))}
    assert not any(c.startswith("Given the gold") for c in recommend(Needs(), without_rag).caveats)


def test_the_selective_answering_caveat_only_when_some_arm_left_questions_unanswered():
    everything = {"rag": scored((0.1, 0.05, 0.2), (0.999, 0.9, 1.0)), "finetuned": scored((0.1, 0.0, 0.2), (1.0, 1.0, 1.0), (0.5, 0.4, 0.6))}
    assert not any(c.startswith("Answers shown") for c in recommend(Needs(), everything).caveats)  # 99.9% counts as all
    fewer = {**everything, "rag": scored((0.1, 0.05, 0.2), (0.5, 0.9, 1.0))}
    assert ('Answers shown against questions answered (an arm that says "I don\'t know" or withholds an unsupported '
            "answer answers fewer, and may be right more often when it does): RAG answered 50% of the questions; the "
            "fine-tuned model answered 100% of the questions and was right on 50% of what it answered."
            in recommend(Needs(), fewer).caveats)


def test_the_answers_show_yes_no_and_the_expected_count_only_on_a_tight_budget():
    assert Needs(tight_budget=True, expected_questions=12000, realtime_latency=False).answers() == [
        "Must answers come back in real time? no", "Is the budget tight? yes",
        "How many questions will it answer before the documents change? 12,000"]
    assert Needs(expected_questions=5).answers() == [] and Needs(tight_budget=False, expected_questions=5).answers() == [
        "Is the budget tight? no"]


def test_money_has_cents_from_a_dollar_up_and_two_significant_figures_below():
    assert [usd(x) for x in (1, 1234.5, 0.5, 0.0012345)] == ["$1.00", "$1,234.50", "$0.5", "$0.0012"]


def latency(p50: float, hit=None) -> ArmSummary:
    return ArmSummary(latency_p50_s=p50, hit=hit)


@pytest.mark.parametrize("needs, summary, economics, points, reason", [
    (dict(knowledge_changes_often=True), {}, econ(), (2, 1, -2),
     "Your documents change often: RAG answers from an edit as soon as it is re-indexed, while an adapter goes stale "
     "and must be retrained (about $1.00 of training each time)."),
    (dict(knowledge_changes_often=True), {}, None, (2, 1, -2),
     "Your documents change often: RAG answers from an edit as soon as it is re-indexed, while an adapter goes stale "
     "and must be retrained."),
    (dict(knowledge_changes_often=False), {}, None, (0, 1, 1),
     "Your documents are stable, so an adapter trained on them stays current."),
    (dict(must_cite_sources=True), {}, None, (2, 2, -2),
     "Answers must cite sources: RAG and the hybrid show the passages they read, the fine-tuned model cannot say where "
     "a fact came from."),
    (dict(must_cite_sources=True), {"rag": latency(1.0, (0.8, 0.7, 0.9))}, None, (2, 2, -2),
     "Answers must cite sources: RAG and the hybrid show the passages they read, the fine-tuned model cannot say where "
     "a fact came from. RAG retrieved the right document for 80% of questions."),
    (dict(tone_and_style_matter=True), {}, None, (0, 2, 2),
     "Tone and style matter: fine-tuning teaches the model your house style, retrieval only changes what it reads."),
    (dict(realtime_latency=True), {"rag": latency(0.4), "finetuned": latency(0.9)}, None, (2, 0, 0),
     "Answers must be fast: RAG answered in 0.40 s (median) against 0.90 s for the fine-tuned model."),
    (dict(realtime_latency=True), {"rag": latency(0.4)}, None, (0, 0, 2),
     "Answers must be fast: a fine-tuned model needs no search and reads a short prompt."),
    (dict(stable_training_data=True), {}, None, (0, 1, 1),
     "You have plenty of stable examples, which fine-tuning needs."),
    (dict(stable_training_data=False), {}, None, (0, -1, -1),
     "Without plenty of stable examples, fine-tuning risks learning them by heart (overfitting) instead of the domain."),
])
def test_each_answered_need_gives_its_points_and_says_why(needs, summary, economics, points, reason):
    rec = recommend(Needs(**needs), summary, economics)
    assert rec.points == dict(zip(("rag", "hybrid", "finetuned"), map(float, points)))
    assert rec.reasons == [reason]


def test_the_not_yet_clear_caveat_reaches_the_recommendation_and_names_the_best_estimate():
    rec = recommend(Needs(), {"base": scored((0.45, 0.1, 0.9)), "rag": scored((0.4, 0.35, 0.45)),
                              "finetuned": scored((0.1, 0.0, 0.2))})
    assert rec.verdict is None and (
        "It is not yet clear that any set-up answers well: the best, the base model states the key fact in 45% of the "
        "questions (95% interval 10%–90%), below the 50% that counts as answering well. More test questions would tell."
        in rec.caveats)


def test_an_interval_that_reaches_the_threshold_exactly_gives_no_verdict():
    assert no_reliable_arm({"rag": scored((0.3, 0.1, 0.5))}) is None  # 50% is answering well
    assert no_reliable_arm({"rag": scored((0.3, 0.1, 0.49))}) is not None
