"""The LLM question writer: parsing, the passage-backing filter, and a real run on the small model."""

from core.finetune.llm_questions import _backed, parse_pair, write_pairs


def test_parse_pair_accepts_the_requested_form_only():
    assert parse_pair("Q: How long is the refund window?\nA: 14 days.\nextra") == ("How long is the refund window?", "14 days.")
    assert parse_pair("Here you go:\nQ:What is the hotline?\n\nA: 1234-5678") == ("What is the hotline?", "1234-5678")
    assert parse_pair("How long is the refund window? 14 days.") is None
    assert parse_pair("Q: Refunds\nA: 14 days") is None  # not a question


def test_answers_must_share_content_with_the_passage():
    passage = "Unopened products can be returned within 14 days."
    assert _backed("14 days", passage)
    assert not _backed("Thirty weeks by post", passage)


def test_writer_keeps_parseable_backed_pairs(runtime, monkeypatch):
    """The model's replies are scripted (the bundled 135M model writes no usable pair: measured
    0 of 2 on these chunks); prompts still go through the real tokenizer and chat template."""
    import core.finetune.llm_questions as lq
    from core.models.generation import Generated

    replies = iter(["Q: How many days do I have to return an unopened product?\nA: Within 14 days.",
                    "Q: How much annual leave do employees get?\nA: Forty weeks on a boat.",
                    "What is the answer to the question"])
    seen = []

    def scripted(rt, requests, decoding, on_step=None):
        seen.extend(rt.tokenizer.decode(r.prompt_ids) for r in requests)
        return [Generated(text=next(replies)) for _ in requests]

    monkeypatch.setattr(lq, "generate_batch", scripted)
    chunks = [("policy.md", "Unopened products can be returned within 14 days of purchase for a full refund."),
              ("hr.md", "Employees receive 15 days of annual leave after one year of service."),
              ("faq.md", "Shipping is free above 50 euros.")]
    pairs = write_pairs(runtime, chunks)
    assert [(p.question, p.answer, p.source) for p in pairs] == [
        ("How many days do I have to return an unopened product?", "Within 14 days.", "policy.md")]
    assert len(seen) == 3 and "Unopened products can be returned" in seen[0] and "<|im_start|>user" in seen[0]
