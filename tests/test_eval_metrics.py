"""The evaluation metrics on hand-made cases with known values."""

import math

import numpy as np
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


def test_all_right_or_all_wrong_gets_the_wilson_interval_not_a_point():
    """The bootstrap cannot spread when every question scored the same: 0 of 2 right is not "0% [0%-0%]"."""
    assert m.bootstrap_ci([0, 0]) == pytest.approx((0.0, 0.0, 0.658), abs=1e-3)
    assert m.bootstrap_ci([0.0] * 34) == pytest.approx((0.0, 0.0, 0.1015), abs=1e-3)
    assert m.bootstrap_ci([1, 1, 1]) == pytest.approx((1.0, 0.4385, 1.0), abs=1e-3)
    assert m.bootstrap_ci([0.5, 0.5]) == (0.5, 0.5, 0.5)  # not a proportion: the bootstrap's own answer
    assert m.bootstrap_ci([1, 1, 1], level=0.5)[1] > m.bootstrap_ci([1, 1, 1])[1]  # the level is honoured


def test_bootstrap_interval_is_fixed_by_its_seed_and_brackets_the_mean():
    values = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]
    mean, low, high = m.bootstrap_ci(values, seed=3)
    assert mean == 0.7 and low < mean < high and 0 <= low and high <= 1
    assert m.bootstrap_ci(values, seed=3) == (mean, low, high)
    empty = m.bootstrap_ci([])
    assert len(empty) == 3 and all(math.isnan(v) for v in empty)


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


def test_normalisation_writes_contractions_out_and_splits_on_any_punctuation():
    assert m.normalize("") == "" and m.normalize(None) == ""
    assert m.normalize("It doesn’t; you can't, won't, shan't or cannot.") == \
        "it does not you can not will not shall not or can not"
    # Unicode punctuation and symbols split numbers; "-" and "'" inside a word do not
    assert m.normalize("UIDs 61184…65519 in kube-public, rbash's © x→y") == "uids 61184 65519 in kube-public rbash's x y"
    assert m.normalize("An apple, the pear, a plum.") == "apple pear plum"


def test_token_f1_of_empty_and_disjoint_answers():
    assert m.token_f1("", "") == 1.0  # nothing expected, nothing said
    assert m.token_f1("14 days", "") == 0.0
    assert m.token_f1("cats", "dogs") == 0.0
    assert m.token_f1("14 days refund", "14 days") == pytest.approx(0.8)  # p=2/3, r=1
    assert m.token_f1("14", "14 days") == pytest.approx(2 / 3)  # p=1, r=1/2


def test_a_fact_under_a_negation_within_two_words_is_denied_not_stated():
    assert not m.states_fact("GitHub no longer grants it.", "grants")  # the negator two words back
    assert not m.states_fact("They do not ever waive it.", "waive")
    assert m.states_fact("Not that it matters: they really always waive it.", "waive")  # another clause
    assert m.states_fact("They do not really ever waive it.", "waive")  # three words back: outside the window
    assert m.states_fact("It does not grant any patent licence.", "not grant")  # the phrasing carries the negation
    assert m.states_fact("Nothing, then the refund within 14 days.", "14 days")


def test_a_phrasing_that_normalises_to_nothing_states_nothing_and_is_skipped():
    assert not m.states_fact("Anything at all.", "the")
    assert m.states_fact("Refunds take 14 days.", ["the", "14 days"])  # the next phrasing still counts
    assert m.key_fact_recall("Call us within fourteen days.", [["two weeks", "14 days"], "call", "email"]) == \
        pytest.approx(2 / 3)


def test_polarity_reads_the_opening_word_and_an_echo_of_the_question():
    assert (m.polarity("YES!"), m.polarity("The answer is: NO"), m.polarity("  answer is no")) == ("yes", "no", "no")
    assert m.polarity("Nope.") is None and m.polarity("") is None and m.polarity(None) is None
    q = "Are rbash's restrictions still active inside a shell script it runs?"
    echo = "No, rbash's restrictions are still active inside a shell script it runs."
    assert m.polarity(echo, q) == "echo" and m.polarity(echo) == "no"  # only a question shows the echo
    assert m.polarity("No, rbash's restrictions are not active inside a shell script it runs.", q) == "no"
    assert m.polarity("Yes, rbash's restrictions are still active inside a shell script it runs.", q) == "yes"
    # only the rest of the first sentence is read
    assert m.polarity("No. The box is sealed. Rbash's restrictions are still active inside a shell script it runs.", q) == "no"
    assert m.polarity("No. Rbash's restrictions are still active inside a shell script it runs.", q) == "echo"


def test_only_blank_answers_labels_and_file_names_are_format_echoes():
    assert m.is_format_echo("   ") and m.is_format_echo(None)
    assert m.is_format_echo("The answer is: notes.odt", ["notes.odt"])  # a passage's name, whatever its extension
    assert not m.is_format_echo("The answer is: notes.odt")  # without it, "notes.odt" may be the answer


def test_cosine_matrix_compares_every_row_of_one_with_every_row_of_the_other():
    a = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, 2.0]])
    b = np.array([[6.0, 8.0], [-4.0, 3.0], [1.0, 0.0]])
    got = m.cosine_matrix(a, b)
    assert got.shape == (3, 3)
    assert got[0] == pytest.approx([1.0, 0.0, 0.6], abs=1e-6)  # length does not matter, direction does
    assert got[1] == pytest.approx([0.0, 0.0, 0.0])  # a zero vector is close to nothing (not NaN)
    assert got[2] == pytest.approx([0.8, 0.6, 0.0], abs=1e-6)  # each row on its own length


def test_reciprocal_rank_of_the_first_passage_and_without_gold():
    assert m.reciprocal_rank(["b.md", "b.md"], "b.md") == 1.0
    assert m.reciprocal_rank(["a.md", "b.md", "c.md"], "c.md") == pytest.approx(1 / 3)
    assert m.reciprocal_rank(["a.md"], "") is None


def test_bootstrap_skips_missing_values_and_its_defaults_are_the_documented_ones():
    values = [0.12, 0.5, 0.93, 0.31, 0.77, 0.05, 0.64, 0.4]
    # 1000 resamples with seed 0 at 95%: the reported intervals (README, Evaluation) were computed so
    assert m.bootstrap_ci(values) == pytest.approx((0.465, 0.2774375, 0.66378125))
    assert m.bootstrap_ci(values) == m.bootstrap_ci(values, n_resamples=1000, seed=0, level=0.95)
    assert m.bootstrap_ci([1, None, 0, None], seed=3) == m.bootstrap_ci([1, 0], seed=3)
    assert m.bootstrap_ci([1, 0, 1, 0], level=0.5) == (0.5, 0.25, 0.75)
    wide, narrow = m.bootstrap_ci(values, level=0.99), m.bootstrap_ci(values, level=0.5)
    assert wide[1] < narrow[1] < 0.465 < narrow[2] < wide[2]
    assert narrow == pytest.approx((0.465, 0.39875, 0.53375))  # the middle half of the resampled means


def test_a_phrasing_that_carries_its_own_negation_is_stated_after_another_negator():
    assert m.states_fact("You may not sell without a licence.", "without a licence")
    assert not m.states_fact("It does not work with a licence.", "with a licence")


def test_polarity_reads_only_the_first_sentence_and_a_question_asked_in_the_negative():
    q = "Are rbash's restrictions still active inside a shell script it runs?"
    assert m.polarity("No. Rbash's restrictions are still active inside a shell script it runs. It says so.", q) == "echo"
    negative = "Are rbash's restrictions not active inside a shell script it runs?"
    assert m.polarity("No, rbash's restrictions are not active inside a shell script it runs.", negative) == "no"
    assert m.polarity("Yes, rbash's restrictions are not active inside a shell script it runs.", negative) == "echo"


def test_a_question_that_is_not_yes_no_is_judged_on_its_key_facts_even_if_the_reference_opens_with_no():
    assert m.judge("What should I say to the offer?", True, ["decline"], "No.", "No, decline it.") == "wrong"
    assert m.judge("What should I say to the offer?", True, ["decline"], "Decline it.", "No, decline it.") == "right"
