"""The evaluation metrics on hand-made cases with known values."""

import math

import pytest

from core.eval import metrics as m
from core.models.abstention import is_abstention


def test_normalisation_drops_case_punctuation_articles_and_spells_numbers():
    assert m.normalize("The refund window is Fourteen days!") == "refund window is 14 days"


def test_token_f1_known_values():
    assert m.token_f1("14 days", "14 days") == 1.0
    assert m.token_f1("within 14 days", "14 days") == pytest.approx(0.8)  # p=2/3, r=1
    assert m.token_f1("thirty days", "14 days") == pytest.approx(0.5)  # 'days' only: p=1/2, r=1/2
    assert m.token_f1("", "14 days") == 0.0


def test_key_fact_recall_matches_whole_facts_only():
    assert m.key_fact_recall("Call 1234-5678 within fourteen days.", ["14 days", "1234-5678"]) == 1.0
    assert m.key_fact_recall("Within 114 days.", ["14 days"]) == 0.0  # no partial-number match
    assert m.key_fact_recall("Within 30 days.", ["14 days", "30 days"]) == 0.5
    assert m.key_fact_recall("anything", []) is None


@pytest.mark.parametrize("text", ["I don't know.", "The passages do not contain that information.",
                                  "This is not mentioned in the documents.", "I cannot find the answer."])
def test_abstention_is_recognised(text):
    assert is_abstention(text)


@pytest.mark.parametrize("text", ["14 days.", "You know, returns take 14 days.", "The manual does describe it."])
def test_answers_are_not_mistaken_for_abstention(text):
    assert not is_abstention(text)


def test_reciprocal_rank():
    assert m.reciprocal_rank(["a.md", "b.md", "c.md"], "b.md") == 0.5
    assert m.reciprocal_rank(["a.md"], "z.md") == 0.0
    assert m.reciprocal_rank(["a.md"], None) is None


def test_bootstrap_interval_is_fixed_by_its_seed_and_brackets_the_mean():
    values = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]
    mean, low, high = m.bootstrap_ci(values, seed=3)
    assert mean == 0.7 and low < mean < high and 0 <= low and high <= 1
    assert m.bootstrap_ci(values, seed=3) == (mean, low, high)
    assert m.bootstrap_ci([1, 1, 1]) == (1.0, 1.0, 1.0)
    assert all(math.isnan(v) for v in m.bootstrap_ci([]))


def test_a_bare_yes_or_no_to_a_question_that_asks_for_something_else_contradicts_itself():
    from core.eval.metrics import contradicts_itself

    how_many = "If the box is still sealed, how many days after delivery can I send it back for my money?"
    assert contradicts_itself(how_many, "A: No. The box must be opened within 14 days of delivery for a full refund.")
    assert not contradicts_itself(how_many, "Within 14 days of delivery.")
    # a yes/no question may be answered "No. …"
    assert not contradicts_itself("My vacuum came 20 days ago and is sealed. Can I still get a full refund?",
                                  "No. Unopened products can only be refunded within 14 days of delivery.")
    assert not contradicts_itself("How many days?", "14 days. No returns after that.")


def test_a_self_contradicting_or_hedged_answer_is_not_scored_right(service):
    from types import SimpleNamespace

    from core.compare.results import ArmAnswer
    from core.eval.run import TestItem, score

    engine = SimpleNamespace(knowledge=service)
    item = TestItem(question="If the box is still sealed, how many days after delivery can I send it back?",
                    answer="Within 14 days of delivery.", key_facts=["14 days"])
    cases = {"Within 14 days of delivery.": 1.0,
             "A: No. The box must be opened within 14 days of delivery for a full refund.": 0.0,
             "I don't know, maybe 14 days.": 0.0}
    for text, expected in cases.items():
        s = score(engine, "kb", item, ArmAnswer(arm="rag", text=text), top_k=3)
        assert s.key_fact_recall == 1.0 and s.key_fact_hit == expected, text
