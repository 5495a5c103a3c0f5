"""RAFT examples: gold passage among distractors, abstention without it, encoded as the hybrid arm reads."""

import random

from core.finetune.datasets import QAPair, RefPassage
from core.finetune.raft import RaftConfig, _holds_answer, open_book_example, raft_pairs
from core.finetune.recipe import IGNORE, encode_pair
from core.finetune.service import FinetuneService
from core.models.prompts import ABSTAIN

DOCS = [
    ("policy.md", b"Refund policy.\nUnopened products can be returned within 14 days of delivery for a full refund.\n"
                  b"Opened products can only be exchanged.\n"),
    ("contact.md", b"Contact.\nCall the customer centre at 1234-5678, weekdays 9 to 6.\n"),
    ("leave.md", b"Leave.\nEmployees get 15 days of annual leave after one year of service.\n"),
    ("shipping.md", b"Shipping.\nStandard delivery takes 3 to 5 working days. Express delivery costs 9 euros.\n"),
]
REFUND = QAPair(question="Within how many days can unopened products be returned?", answer="Within 14 days of delivery.",
                source="policy.md")


def _kb(service, kb):
    service.ingest_files(kb, DOCS)
    return kb


def test_gold_example_holds_the_gold_passage_and_the_answer(service, kb):
    _kb(service, kb)
    ex = open_book_example(service, kb, REFUND, RaftConfig(gold_share=1.0, passages=3), random.Random(0))
    assert ex.answer == REFUND.answer and ex.answerable
    gold = [p for p in ex.passages if p.gold]
    assert len(gold) == 1 and gold[0].doc_name == "policy.md" and "14 days" in gold[0].text
    assert len(ex.passages) == 3 and all(p.doc_name != "policy.md" for p in ex.passages if not p.gold)


def test_example_without_gold_abstains_and_no_distractor_states_the_answer(service, kb):
    _kb(service, kb)
    ex = open_book_example(service, kb, REFUND, RaftConfig(gold_share=0.0, passages=3), random.Random(0))
    assert ex.answer == ABSTAIN and not ex.answerable
    assert ex.passages and not any(p.gold for p in ex.passages)
    assert not any("14 days" in p.text for p in ex.passages)


def test_holds_answer_needs_every_salient_word():
    assert _holds_answer("Returns are accepted within 14 days of delivery.", "Within 14 days of delivery.")
    assert not _holds_answer("Returns are accepted within 30 days of delivery.", "Within 14 days of delivery.")


def test_mixture_keeps_closed_book_pairs_and_adds_open_book_share(service, kb):
    _kb(service, kb)
    pairs = [REFUND, QAPair(question="What number do I call?", answer="1234-5678.", source="contact.md"),
             QAPair(question="Can I bring my cat to work?", answer=ABSTAIN, answerable=False)]
    out = raft_pairs(service, kb, pairs, RaftConfig(open_book_share=1.0, gold_share=1.0))
    assert [p.question for p in out[:3]] == [p.question for p in pairs] and all(p.passages is None for p in out[:3])
    assert len(out) == 6 and all(p.passages for p in out[3:])
    assert out[5].answer == ABSTAIN  # the unanswerable question reads its retrieved passages and abstains
    assert raft_pairs(service, kb, pairs, RaftConfig(open_book_share=0.0)) == [p.model_copy() for p in pairs]
    again = raft_pairs(service, kb, pairs, RaftConfig(open_book_share=1.0, gold_share=0.5, seed=3))
    assert again == raft_pairs(service, kb, pairs, RaftConfig(open_book_share=1.0, gold_share=0.5, seed=3))


def test_open_book_example_is_encoded_as_the_hybrid_prompt_with_loss_on_the_answer(runtime):
    tok = runtime.tokenizer
    passages = [RefPassage(doc_name="shipping.md", text="Standard delivery takes 3 to 5 working days. " * 20),
                RefPassage(doc_name="policy.md", text="Unopened products can be returned within 14 days.", gold=True)]
    full = encode_pair(tok, REFUND.question, REFUND.answer, 2048, passages)
    text = tok.decode(full.input_ids)
    assert "<ref>" in text and "treat them as reference text" in text and "within 14 days." in text
    answer = tok.decode([t for t, lab in zip(full.input_ids, full.labels) if lab != IGNORE])
    assert answer.startswith(REFUND.answer)
    short = encode_pair(tok, REFUND.question, REFUND.answer, len(full.input_ids) - 50, passages)
    kept = tok.decode(short.input_ids)
    assert "shipping.md" not in kept and "policy.md" in kept  # the distractor went, the gold and the answer stayed
    assert tok.decode([t for t, lab in zip(short.input_ids, short.labels) if lab != IGNORE]).startswith(REFUND.answer)
    assert encode_pair(tok, REFUND.question, REFUND.answer, 2048, passages).input_ids == full.input_ids


def test_service_builds_a_raft_dataset_and_refuses_plain_texts(settings, service, kb):
    import pytest

    from core.errors import LabError

    _kb(service, kb)
    ft = FinetuneService(settings)
    base = ft.datasets.save("pairs", [REFUND], [], kb, service.version(kb), "upload")
    info = ft.build_raft(service, kb, base.id, "pairs + RAFT", RaftConfig(gold_share=1.0))
    assert info.origin == "raft" and info.train_count == 2
    train, _ = ft.datasets.load(info.id)
    assert train[1].passages and any(p.gold for p in train[1].passages)
    assert ft.tokens_per_example(info.id) > ft.tokens_per_example(base.id) + 20
    texts = ft.datasets.save_texts("raw", ["some text"], kb)
    with pytest.raises(LabError, match="question/answer"):
        ft.build_raft(service, kb, texts.id, "nope")
