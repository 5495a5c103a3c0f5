"""What the room thinks: the pairwise outcomes of a vote, the Bradley-Terry fit, its bootstrap
intervals, the agreement with key-fact scores, and the votes in the recommendation and the report."""

import numpy as np
import pytest

from core.eval.decision import Needs, recommend
from core.eval.report import html_report
from core.eval.summary import summarize
from core.votes.pairwise import Outcome, bradley_terry, outcomes, score_matrices, standings, win_rates
from core.votes.record import Vote
from core.eval.votes import MIN_VOTES, summarize_votes
from tests.test_eval_report import ARTICLE, PHONE, RAG_CLEARLY_BEST, RETURNS, TagBalance, make_run

FOUR = ("base", "rag", "finetuned", "hybrid")


def vote(best=(), shown=FOUR, all_bad=False, question="q", kb="handbook", voter="", session="s1") -> Vote:
    return Vote(question=question, kb=kb, kb_version="3", model_fingerprint="m", session_id=session, voter=voter,
                answers={a: f"answer of {a}" for a in shown}, letters=dict(zip("ABCD", shown)),
                best=list(best), all_bad=all_bad)


def test_a_single_best_beats_every_other_shown_answer():
    assert set(outcomes(vote(["rag"]))) == {Outcome("rag", "base", 1.0), Outcome("rag", "finetuned", 1.0),
                                            Outcome("rag", "hybrid", 1.0)}


def test_equally_good_answers_tie_with_each_other_and_beat_the_rest():
    found = outcomes(vote(["rag", "hybrid"]))
    assert Outcome("rag", "hybrid", 0.5) in found  # a tie, not a loss for either (Open WebUI #6643)
    assert {o for o in found if o.score == 1.0} == {Outcome(b, s, 1.0) for b in ("rag", "hybrid")
                                                     for s in ("base", "finetuned")}
    m = score_matrices([vote(["rag", "hybrid"])], list(FOUR))[0]
    assert m[1, 3] == m[3, 1] == 0.5  # rag vs hybrid
    assert m[0, 2] == m[2, 0] == 0.0  # base and fine-tuned were both passed over: not compared


def test_all_bad_is_a_tie_between_every_shown_pair_and_creates_no_wins():
    found = outcomes(vote(all_bad=True, shown=("base", "rag", "hybrid")))
    assert len(found) == 3 and all(o.score == 0.5 for o in found)
    m = score_matrices([vote(all_bad=True)], list(FOUR))[0]
    assert np.array_equal(m, m.T)  # nobody scored more against anyone than they gave back


def test_bradley_terry_recovers_a_known_order_from_hand_made_votes():
    # pairs shown two at a time: rag beats hybrid 8-2, hybrid beats base 8-2, rag beats base 9-1
    votes = ([vote(["rag"], ("rag", "hybrid"))] * 8 + [vote(["hybrid"], ("rag", "hybrid"))] * 2
             + [vote(["hybrid"], ("hybrid", "base"))] * 8 + [vote(["base"], ("hybrid", "base"))] * 2
             + [vote(["rag"], ("rag", "base"))] * 9 + [vote(["base"], ("rag", "base"))] * 1)
    ranked = standings(votes)
    assert [s.arm for s in ranked] == ["rag", "hybrid", "base"]
    assert ranked[0].win_rate > ranked[1].win_rate > ranked[2].win_rate
    assert ranked[0].low > ranked[2].high  # this many one-sided votes separate the best from the worst
    assert [s.shown for s in ranked] == [20, 20, 20] and [s.best for s in ranked] == [17, 10, 3]


def test_the_fit_solves_the_bradley_terry_equations():
    scores = np.array([[0, 8, 9], [2, 0, 8], [1, 2, 0]], dtype=float)
    p = bradley_terry(scores, prior_ties=0.0)
    games = scores + scores.T
    expected = (games * p[:, None] / (p[:, None] + p[None, :])).sum(axis=1)
    assert np.allclose(expected, scores.sum(axis=1), atol=1e-6)  # each arm's wins = its expected wins
    assert p.sum() == pytest.approx(1.0) and p[0] > p[1] > p[2]


def test_only_ties_give_equal_strengths():
    votes = [vote(all_bad=True)] * 6 + [vote(list(FOUR))] * 4  # all bad, or all equally good
    ranked = standings(votes)
    assert all(s.strength == pytest.approx(0.25) for s in ranked)
    assert all(s.win_rate == pytest.approx(0.5) and s.low == pytest.approx(0.5) == s.high for s in ranked)


def test_all_bad_votes_pull_the_arms_together_but_add_no_wins():
    wins = [vote(["rag"])] * 6
    alone, diluted = standings(wins), standings(wins + [vote(all_bad=True)] * 6)
    rate = lambda ranked, arm: next(s.win_rate for s in ranked if s.arm == arm)  # noqa: E731
    assert rate(alone, "rag") > rate(diluted, "rag") > 0.5  # more ties: less certain, still first
    assert rate(alone, "base") < rate(diluted, "base") < 0.5
    assert sum(s.best for s in diluted) == 6


def test_bootstrap_intervals_are_fixed_by_the_seed_and_hold_the_estimate():
    votes = [vote(["rag"])] * 5 + [vote(["hybrid"])] * 3 + [vote(["base", "rag"])] * 2
    first, again, other = standings(votes, seed=1), standings(votes, seed=1), standings(votes, seed=2)
    assert first == again and first != other
    assert all(s.low <= s.win_rate <= s.high for s in first)
    assert win_rates(np.array([0.5, 0.5])) == pytest.approx([0.5, 0.5])


def test_votes_and_voters_are_counted_per_knowledge_base():
    votes = [vote(["rag"], voter="Dana"), vote(["rag"], voter="dana ", session="s2"), vote(["base"], session="s3"),
             vote(all_bad=True, session="s3"), vote(["rag"], kb="other", session="s9")]
    s = summarize_votes(votes, kb="handbook")
    assert (s.votes, s.voters, s.all_bad) == (4, 2, 1)  # Dana in two tabs counts once


def test_agreement_with_the_key_fact_scores_lists_the_questions_where_they_differ():
    run = make_run()  # returns: only RAG right; phone (no key facts, F1): fine-tuned, hybrid and oracle right
    votes = [vote(["rag"], question=RETURNS.question),  # agrees
             vote(["base"], question="  within how many days can unopened products be RETURNED? "),  # base was wrong
             vote(all_bad=True, question=PHONE.question),  # but fine-tuned and hybrid were scored right
             vote(all_bad=True, question=RETURNS.question, shown=("base", "finetuned")),  # agrees: both wrong
             vote(["rag"], question="Is this question in no evaluation?"),
             vote(["rag"], question=RETURNS.question, kb="other")]
    a = summarize_votes(votes, [run], kb="handbook").agreement
    assert (a.covered, a.agreed) == (4, 2) and a.rate == 0.5
    assert [(d.voted_best, d.scored_right) for d in a.disagreements] == [(["base"], ["rag"]), ([], ["finetuned", "hybrid"])]
    assert a.disagreements[1].question == PHONE.question and a.disagreements[0].run == "run-1"


def enough_votes(best: str) -> list[Vote]:
    return [vote([best], session=f"s{i % 3}") for i in range(MIN_VOTES)] + [vote(["base"])]


def test_without_votes_the_recommendation_is_unchanged():
    before = recommend(ARTICLE, RAG_CLEARLY_BEST)
    with_votes = recommend(ARTICLE, RAG_CLEARLY_BEST, votes=summarize_votes(enough_votes("hybrid")))
    assert with_votes.choice == before.choice and with_votes.points == before.points
    assert with_votes.reasons[:len(before.reasons)] == before.reasons
    assert not any("vote" in t for t in before.reasons + before.caveats)


def test_the_recommendation_says_what_the_room_preferred_once_there_are_enough_votes():
    rec = recommend(ARTICLE, RAG_CLEARLY_BEST, votes=summarize_votes(enough_votes("rag")))
    assert rec.choice == "rag" and any("the room preferred RAG" in r and "11 blind votes from 3 voters" in r
                                       for r in rec.reasons)
    rec = recommend(ARTICLE, RAG_CLEARLY_BEST, votes=summarize_votes(enough_votes("hybrid")))
    assert any("the room preferred the hybrid" in c and "not RAG" in c for c in rec.caveats)


def test_the_recommendation_says_when_the_votes_are_too_few():
    rec = recommend(ARTICLE, RAG_CLEARLY_BEST, votes=summarize_votes([vote(["hybrid"])] * 3))
    assert any(c.startswith("Only 3 stakeholder votes so far") for c in rec.caveats)
    assert not any("room" in r for r in rec.reasons)


def test_the_report_has_a_stakeholder_votes_section_only_when_given_votes():
    run = make_run()
    summary = summarize(run)
    votes = summarize_votes([vote(["base"], question=RETURNS.question)] * 2 + [vote(["rag"], question="<b>new</b>")],
                            [run], kb="handbook")
    page = html_report(run, summary, recommend(Needs(), summary, votes=votes), votes=votes)
    section = page[page.index("<h2>Stakeholder votes</h2>"):page.index("<h2>Charts</h2>")]
    assert "3 votes from 1 voter" in section and "Fewer than 10 votes" in section
    assert f"{RETURNS.question}: voted best Base; scored right RAG" in section
    assert "agreed with the key-fact scores 0 times (0%)" in section and "<b>new</b>" not in page
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    assert parser.open == []
    assert "Stakeholder votes" not in html_report(run, summary, recommend(Needs(), summary))
    empty = html_report(run, summary, recommend(Needs(), summary), votes=summarize_votes([], kb="handbook"))
    assert "No blind votes on this knowledge base yet" in empty


def test_the_summary_counts_the_set_ups_the_votes_were_cast_on_precision_included():
    same = [vote(["rag"]), vote(["base"], session="s2")]
    assert summarize_votes(same, resamples=20).setups == 1
    int8 = vote(["rag"], session="s3").model_copy(update={"dtype": "int8"})
    assert summarize_votes([*same, int8], resamples=20).setups == 2  # same weights, another precision: other answers
