"""The one support check: a sentence supports an answer only if it is close to it and states its facts."""

import pytest

from core.compare.support import (
    ON_TOPIC, answer_part, asserts, contradicts_itself, identifiers, is_yes_no_question, key_facts, mark_sentences,
    names, restates, states, supporting)
from core.knowledge.retrieval.search import Hit
from core.knowledge.retrieval.sentences import FLOOR, closeness


def test_key_facts_are_numbers_dates_and_names_the_question_did_not_contain():
    assert key_facts("A: 1\nThe answer is: 1") == {"1"}
    assert key_facts("Within fourteen days [2].") == {"14"}  # number words count, citation marks do not
    assert key_facts("Call Lumora support at 1234-5678.", "How do I reach Lumora support?") == {"1234-5678"}
    assert key_facts("The CEO of Lumora is Jane Park.", "Who is the CEO of Lumora?") == {"jane", "park"}
    assert key_facts("Yes, you can.") == set()


def test_a_sentence_states_the_facts_as_numbers_and_words():
    assert states("Unopened products can be returned within 14 days.", {"14"})
    assert states("Returns are accepted within fourteen days of delivery.", {"14"})
    assert not states("A: No.", {"1"})
    assert not states("The customer centre is open 9:00-18:00.", {"1234-5678"})


def test_format_alone_does_not_support_a_wrong_answer(embedder):
    """The first demo's case: RAG said "A: 1" and "A: No." from a FAQ was shown as its support."""
    hit = Hit(doc_id="d", doc_name="faq.md", chunk_index=0, score=1.0,
              text="Q: Can I return an opened product?\nA: No.\nQ: How long do I have?\nA: 14 days.")
    mark_sentences(embedder, "A: 1\nThe answer is: 1", [hit], question="How many days do customers have?")
    assert len(hit.sentences) == 4 and not any(marked for _, marked in hit.sentences)  # split, and none marked
    mark_sentences(embedder, "A: 14 days.", [hit], question="How many days do customers have?")
    assert [s.strip() for s, marked in hit.sentences if marked] == ["A: 14 days."]


def test_a_right_answer_that_restates_the_question_is_still_supported(embedder):
    question = "What is the phone number of the Lumora customer centre?"
    sentences = ["Our offices are in Seoul.", "Call the customer centre at 1234-5678 for help."]
    scores = supporting(embedder, "The Lumora customer centre number is 1234-5678.", sentences, question)
    assert scores[0] is None and scores[1] is not None and scores[1] >= FLOOR


def test_headings_off_topic_sentences_and_echoed_questions_support_nothing(embedder):
    """Cases from the demo test set (README, Evaluation): "The answer is: 2." was supported by the
    heading "# 2.", an HR-portal sentence supported an answer about salary day, and an answer that
    only copied the question was supported by a FAQ line."""
    assert supporting(embedder, "The answer is: 2.", ["# 2."], "How many days a week can I work from home?") == [None]

    salary = "On which day of the month do salaries arrive?"
    off_topic = supporting(embedder, "The HR portal is only available on days of the month.",
                           ["Annual leave must be requested in the HR portal at least 5 working days in advance."], salary)
    assert off_topic == [None]
    on_topic = supporting(embedder, "Salaries are paid on the 25th of each month.",
                          ["Salaries are paid on the 25th of every month."], salary)
    assert on_topic[0] is not None and on_topic[0] >= FLOOR

    question = "Is the robot vacuum battery covered by the warranty?"
    assert supporting(embedder, "Is the robot vacuum battery covered by the warranty.",
                      ["Q: Is the robot vacuum battery covered by the warranty?"], question) == [None]


def test_faq_questions_other_models_and_padded_echoes_support_nothing(embedder):
    """Cases from the demo test set (README, Evaluation): the AeroPure 200's filter price shown as
    support for an answer about the AeroPure 300's, a product-list line for what code E2 means,
    "Yes. There is a sale…" echoing the question, and a Korean echo padded with a new question."""
    price = "What does a replacement filter for the AeroPure 300 cost?"
    other = "product: AeroPure 200 Replacement Filter; category: Accessory; price_usd: 29.00"
    own = "product: AeroPure 300 Replacement Filter; category: Accessory; price_usd: 39.00"
    assert supporting(embedder, "AeroPure 300 Replacement Filter: 29.00", [other], price) == [None]
    right = supporting(embedder, "The AeroPure 300 replacement filter costs 39.00.", [other, own], price)
    assert right[0] is None and right[1] is not None and right[1] >= FLOOR
    assert supporting(embedder, "The code E2 indicates that the AeroPure 300 is a high-end model.",
                      ["AP-300B: AeroPure 300, black"], "What does the code E2 indicate on the AeroPure 300?") == [None]


def test_headings_faq_questions_echoes_and_product_names_without_an_embedder():
    """The rules of the cases above that need no embedder (so mutation testing runs them per mutant)."""
    assert not asserts("# 2.") and not asserts("## Air purifiers") and not asserts("A: No.")
    assert asserts("Unopened products can be returned within 14 days.") and asserts("AP-300B: AeroPure 300, black")
    question = "Is the robot vacuum battery covered by the warranty?"
    assert restates("Is the robot vacuum battery covered by the warranty.", question)
    assert not restates("Yes.", question) and not restates("Yes, for one year.", question)
    assert identifiers("What does the code E2 indicate on the AeroPure 300?") == {"e2", "300"}
    assert identifiers("Is the AP-300B in stock?") == {"ap-300b"}
    assert identifiers("My vacuum was delivered 20 days ago. Can I return it?") == set()  # a number, not a name
    assert not asserts("Q: 보증서를 잃어버렸는데 무상 수리가 가능한가요?") and not asserts("Can I return it?")
    sale = "Is there a sale on air purifiers today?"
    assert restates("Yes. There is a sale on air purifiers today.", sale) and not restates("Yes.", sale)
    korean = "제품을 떨어뜨려서 고장 났는데 무상으로 고쳐 주나요?"
    echo = "제품을 떨어뜨려서 고장 났는데 무상으로 고쳐 주나요.\n\nThe answer is:\n\nQ: 보증서를 잃어버"
    assert answer_part(echo).strip().endswith("The answer is:") and restates(echo, korean)
    assert not restates("유상 수리입니다.\nQ: 다른 질문?", korean)


def test_an_answer_that_contradicts_itself_is_supported_by_nothing(embedder):
    """The demo's "A: No. The box must be opened within 14 days…" to a how-many question: its 14 days
    is in the passage, but the answer denies it in one breath (the evaluation scores it wrong too)."""
    question = "If the box is still sealed, how many days after delivery can I send it back for my money?"
    sentence = ["Unopened products can be returned within 14 days of delivery for a full refund."]
    assert supporting(embedder, "A: No. The box must be opened within 14 days of delivery for a full refund.",
                      sentence, question) == [None]
    right = supporting(embedder, "Within 14 days of delivery, for a full refund.", sentence, question)
    assert right[0] is not None and right[0] >= FLOOR


class FakeEmbedder:
    """Vectors given by hand, so closeness is known exactly (the real embedder's are not)."""

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors = vectors

    def get_text_embedding_batch(self, texts):
        return [self.vectors[t] for t in texts]


def test_key_facts_leave_out_list_labels_sentence_openers_and_what_the_question_says():
    assert key_facts("1. Fourteen days") == {"14"} and key_facts("A: 14 days") == {"14"}
    assert key_facts("Returns take 14 days.") == {"14"}  # "Returns" opens the sentence: not a name
    assert key_facts("EU rules apply. OK, Lumora agrees.") == {"eu", "lumora"}  # capitals anywhere; "OK" is no name
    assert key_facts("Within 14 days.", "Is it 14 days?") == set()
    assert key_facts("It costs 1,000 won; 1,5 kg.") == {"1000", "1,5"}  # thousands written either way, not decimals


def test_states_with_no_facts_and_with_numbers_written_differently():
    assert states("Anything at all.", set())
    assert states("It costs 1000 won.", key_facts("It costs 1,000 won."))
    assert states("Jane Park runs it.", {"jane", "park"}) and not states("Jane runs it.", {"jane", "park"})


def test_a_statement_has_three_words_or_numbers_and_is_no_heading_or_question():
    assert not asserts("Two words.") and asserts("Three words here.") and asserts("Costs 14 USD")
    assert not asserts("  # Heading with many words  ") and not asserts("Is it free？")  # full-width mark too
    assert asserts("무상 수리가 가능합니다") and not asserts("네 맞아요")  # no spaces to count: keyword tokens


def test_the_answer_part_ends_where_the_reader_asks_its_own_question():
    assert answer_part("14 days.\nquestion: more?\nQ: x") == "14 days."
    assert answer_part("Q: is not at the start of a line here") == "Q: is not at the start of a line here"
    assert restates("A: Is the battery covered [1]", "Is the battery covered?")  # labels and citations are no news
    assert not restates("Is the battery covered?", "")


def test_names_wants_each_identifier_as_a_word_or_number_of_its_own():
    assert names("Anything.", set())
    assert names("The AeroPure 300 costs 1,000.", {"300", "1000"})
    assert names("Code E2 means AP-300B.", {"e2", "ap-300b"}) and not names("Code E3.", {"e2"})
    assert not names("The AeroPure 3000 costs more.", {"300"})


def test_a_yes_no_question_opens_its_last_sentence_with_an_auxiliary():
    assert is_yes_no_question("My vacuum came 20 days ago. Can I return it?")
    assert is_yes_no_question('"Is it free?"') and is_yes_no_question("(Does it work?)")
    assert not is_yes_no_question("How many days?") and not is_yes_no_question("Is it free? How long?")
    assert not is_yes_no_question("") and not is_yes_no_question(None)


def test_only_a_bare_yes_or_no_to_a_wh_question_contradicts_itself():
    how_many = "If the box is sealed, how many days do I have?"
    assert contradicts_itself(how_many, "No") and contradicts_itself(how_many, "B: yes, 14.")
    assert not contradicts_itself(how_many, "Nobody knows.") and not contradicts_itself(how_many, None)
    assert not contradicts_itself("Tell me the refund window.", "No.")  # neither a wh- nor a yes/no question
    assert not contradicts_itself("", "No.")
    # a yes/no question may ask about a number; only the last sentence's first word counts
    assert not contradicts_itself('"Can you tell me how many days I have?"', "No.")
    assert contradicts_itself("Can I return it? How many days do I have?", "No.")


def test_closeness_is_the_cosine_plus_half_the_share_of_the_claims_keywords():
    claim = "Refunds take 14 days."
    sentences = ["Refunds are accepted within 14 days.", "Shipping takes 3 days.", "# 14 days"]
    fake = FakeEmbedder({claim: [2.0, 0.0], sentences[0]: [1.0, 0.0], sentences[1]: [0.0, 3.0], sentences[2]: [1.0, 1.0]})
    # claim keywords: refunds, take, 14, days
    assert closeness(fake, claim, sentences) == pytest.approx([1 + 0.5 * 3 / 4, 0 + 0.5 * 1 / 4, 0.5 ** 0.5 + 0.5 * 2 / 4])
    assert closeness(fake, claim, []) == []


def test_supporting_keeps_the_closeness_of_sentences_that_pass_every_rule():
    claim = "Refunds take 14 days."
    sentences = ["Refunds are accepted within 14 days.", "Shipping takes 3 days.", "# 14 days"]
    fake = FakeEmbedder({claim: [1.0, 0.0], sentences[0]: [1.0, 0.0], sentences[1]: [1.0, 0.0], sentences[2]: [1.0, 0.0]})
    # without a question every sentence is on topic; the second lacks the 14, the third is a heading
    assert supporting(fake, claim, sentences) == [pytest.approx(1.375), None, None]


def test_a_sentence_exactly_on_topic_counts_and_one_just_below_does_not():
    """Closeness to the question is the same sum: a cosine of 0 plus half of 9 of its 10 keywords is
    exactly ``ON_TOPIC`` (0.45); 8 of 10 is below it."""
    question = "alpha beta gamma delta epsilon zeta eta theta iota kappa?"
    claim = "Lambda 14."
    on = "Alpha beta gamma delta epsilon zeta eta theta iota lambda 14."
    off = "Alpha beta gamma delta epsilon zeta eta theta lambda 14 mu."
    fake = FakeEmbedder({question: [0.0, 1.0], claim: [1.0, 0.0], on: [1.0, 0.0], off: [1.0, 0.0]})
    assert closeness(fake, question, [on, off]) == [ON_TOPIC, pytest.approx(0.4)]
    assert supporting(fake, claim, [on, off], question) == [pytest.approx(1.5), None]


def test_a_restating_or_self_contradicting_answer_gets_no_support_whatever_the_closeness():
    how_many = "If the box is still sealed, how many days after delivery can I send it back?"
    denied = "A: No. The box must be opened within 14 days of delivery."
    echo = "Is the robot vacuum battery covered by the warranty."
    sentence = "Unopened products can be returned within 14 days of delivery, and the battery is covered."
    right = "Within 14 days of delivery."
    fake = FakeEmbedder({t: [1.0, 0.0] for t in (how_many, denied, echo, sentence, echo[:-1] + "?", right)})
    assert supporting(fake, denied, [sentence, sentence], how_many) == [None, None]
    assert supporting(fake, echo, [sentence], echo[:-1] + "?") == [None]
    assert supporting(fake, right, [sentence], how_many) != [None]  # the same sentence supports a plain answer


def test_support_needs_the_facts_the_question_did_not_give_and_the_product_it_names():
    question = "What does a replacement filter for the AeroPure 300 cost at Lumora?"
    claim = "The filter from Lumora costs 39.00 for the AeroPure 300."
    other = "product: AeroPure 200 Replacement Filter; category: Accessory; price_usd: 39.00"
    own = "product: AeroPure 300 Replacement Filter; category: Accessory; price_usd: 39.00"
    fake = FakeEmbedder({t: [1.0, 0.0] for t in (question, claim, other, own)})
    got = supporting(fake, claim, [other, own], question)  # "Lumora" was asked: the sentence need not say it
    assert got[0] is None and got[1] is not None


def test_more_edges_of_the_rules():
    assert key_facts("Refunds, Yes, within 14 days.") == {"14"}  # a reader's word, capitalised mid-sentence
    assert key_facts("B costs 5 dollars.") == {"5"}  # one capital letter opening a sentence is no name
    assert states("1234-5678", {"1234-5678"})  # the sentence may be the fact alone
    assert not asserts("Can I get a free repair?") and asserts("무상 수리 가능합니다")  # six keyword tokens
    assert names("error e2 means a full bin", {"e2"}) and names("300", {"300"})
    claim = "Refunds."
    fake = FakeEmbedder({claim: [1.0, 0.0], "Refunds are quick.": [0.0, 1.0]})
    assert closeness(fake, claim, ["Refunds are quick."]) == [0.5]  # its one keyword: all of them
