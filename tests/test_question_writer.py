"""The rule-based question writer and the well-formedness check every generated question passes."""

import pytest

from core.finetune.question_check import well_formed
from core.finetune.question_writer import candidate_questions, names_in


@pytest.mark.parametrize("sentence, question", [
    ("Unopened products can be returned within 14 days of delivery for a full refund.",
     "How many days after delivery can unopened products be returned for a full refund?"),
    ("Employees receive 15 days of annual leave after one year of service.",
     "How many days of annual leave do employees receive after one year of service?"),
    ("Employees are entitled to up to 10 paid sick days per year.",
     "How many paid sick days per year are employees entitled to?"),
    ("Return shipping costs the customer a flat fee of $9.90.", "How much does return shipping cost the customer?"),
    ("Exceptions are valid for 30 days.", "How long are exceptions valid?"),
    ("Replace the filter every 6 months.", "How often should you replace the filter?"),
    ("Salaries are paid on the 25th of each month.", "When are salaries paid?"),
    ("Salary adjustments take effect in January.", "When do salary adjustments take effect?"),
    ("A hotdesk is a desk nobody owns.", "What is a hotdesk?"),
    ("Payslips are available in the HR portal.", "Where are payslips available?"),
    ("The Information Security Team approves every exception in writing.", "Who approves every exception in writing?"),
    ("Return shipping for defective products is free.", "Is return shipping for defective products free?"),
    # A plural noun before its verb, and a verb before an adjective: told apart by the word after.
    ("Exchanged products keep the warranty of the original purchase.",
     "What keeps the warranty of the original purchase?"),
    ("Bash allows external commands to be timed.", "What allows external commands to be timed?"),
    ("During probation, either side may end the employment with 7 days' notice.",
     "Who may end the employment with 7 days' notice during probation?"),
])
def test_the_writer_asks_about_the_number_date_or_subject_of_a_sentence(sentence, question):
    assert candidate_questions(sentence)[0] == question


def test_modal_sentences_get_what_must_and_yes_no_questions():
    assert "What must customers do?" in candidate_questions("Customers must send photos of the damaged box to the courier.")
    assert "Can personal devices access company email through the managed app?" in \
        candidate_questions("Personal devices can access company email through the managed app.")


def test_a_second_predicate_is_asked_about_too():
    questions = candidate_questions("Security awareness training is mandatory once a year and must be completed by 31 March.")
    assert questions[:2] == ["How often is security awareness training mandatory?",
                             "When must security awareness training be completed?"]


@pytest.mark.parametrize("fragment", [
    "Windows laptops: BitLocker",  # a label
    "a dry cotton swab.",  # the tail of a wrapped line
    "All rights reserved.",  # no verb the rules can find
    "It offers functional improvements over sh.",  # a question about "it" means nothing on its own
    "Do not install other VPN software on company devices.",  # a prohibition, no fact to ask for
    "Why do long usernames get printed as numbers?",  # not a statement
])
def test_fragments_and_sentences_without_a_readable_statement_get_no_question(fragment):
    assert candidate_questions(fragment) == []


def test_names_stay_capitalised_and_common_words_do_not():
    text = "Most of our Lumora products carry a warranty. Refunds are paid to the card. Ask for a Refund form and a refund."
    names = names_in(text)
    assert names == {"Lumora"}
    assert candidate_questions("Lumora products are covered for 2 years.", names)[0] == "How long are Lumora products covered?"
    assert candidate_questions("Refunds are issued within 5 days of approval.", names)[0] == \
        "How many days after approval are refunds issued?"


@pytest.mark.parametrize("question, ok", [
    ("How many days after delivery can unopened products be returned?", True),
    ("Can unopened products be returned?", True),
    ("According to GPL-3.txt, this is ___?", False),  # neither a wh-word nor an auxiliary first, a blank
    ("What is the fee?", True),
    ("What is it?", False),  # 3 words
    ("How many days after delivery can products be returned", False),  # no question mark
    ("When does the notice in README.Debian apply?", False),  # a file name
    ("Where do I download https://example.org/setup?", False),  # a URL
    ("Who reads support@lumora.example on weekends?", False),  # an e-mail address
    ("What is in /usr/share/doc for this package?", False),  # a path
    ("What " + "very " * 24 + "long?", False),  # 26 words
    ("Does the policy allow returns, e.g. of opened kettles?", True),  # "e.g." is not a file name
])
def test_well_formed_applies_the_stated_rules_to_the_question(question, ok):
    sentence = "Unopened products can be returned within 14 days of delivery."
    assert well_formed(question, sentence, sentence) is ok


def test_well_formed_needs_the_answer_in_the_source_sentence():
    sentence = "Unopened products can be returned within 14 days of delivery."
    assert well_formed("How many days do I have?", "within  14 DAYS of delivery", sentence)
    assert not well_formed("How many days do I have?", "Within 30 days of delivery.", sentence)
    assert not well_formed("How many days do I have?", "", sentence)


def test_a_sentence_whose_every_question_holds_a_url_has_no_well_formed_question():
    sentence = "The installer fetches updates from https://example.org/updates every night."
    assert candidate_questions(sentence) and not any(well_formed(q, sentence, sentence) for q in candidate_questions(sentence))
