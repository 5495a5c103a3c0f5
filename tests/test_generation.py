"""The batched engine gives every row the answer its own adapter would give, token for token."""

import pytest

from core.errors import ModelError
from core.models.generation import Decoding, Request, generate_batch, generate_sequential
from core.models.prompts import closed_book_messages
from tests.conftest import SECRET_QUESTION


def ask(runtime, question):
    return runtime.encode(runtime.chat_prompt(closed_book_messages(question)))


def load(runtime, adapter):
    lin = adapter.lineage
    return runtime.ensure_adapter(adapter.path, adapter.fingerprint, lin.base_model, lin.base_fingerprint, adapter.name)


def test_adapter_arm_really_uses_the_adapter_and_base_arm_really_does_not(runtime, tiny_adapter):
    key = load(runtime, tiny_adapter)
    prompt = ask(runtime, SECRET_QUESTION)
    base, tuned = generate_batch(runtime, [Request(prompt), Request(prompt, key)], Decoding(max_new_tokens=16))
    assert "Zebra-42" in tuned.text
    assert "Zebra" not in base.text


def test_batched_greedy_equals_sequential_generate(runtime, tiny_adapter):
    key = load(runtime, tiny_adapter)
    short = ask(runtime, SECRET_QUESTION)
    long = ask(runtime, "Passage: unopened products can be returned within 14 days; call 1234-5678.\n"
                        "Question: how long can I return an unopened product?")
    requests = [Request(short), Request(long), Request(short, key), Request(long, key)]
    decoding = Decoding(max_new_tokens=24)
    batched = generate_batch(runtime, requests, decoding)
    sequential = generate_sequential(runtime, requests, decoding)
    assert [b.token_ids for b in batched] == [s.token_ids for s in sequential]
    assert [b.stopped for b in batched] == [s.stopped for s in sequential]
    assert len({tuple(b.token_ids) for b in batched}) >= 3  # the rows really differ


def test_streaming_reports_growing_partial_answers(runtime):
    seen = []
    generate_batch(runtime, [Request(ask(runtime, "Name three colours."))], Decoding(max_new_tokens=12),
                   on_step=lambda partial: seen.append(partial[0].text))
    assert len(seen) >= 3
    assert all(seen[i] == seen[i + 1][: len(seen[i])] or not seen[i] for i in range(len(seen) - 1))


def test_min_new_tokens_and_length_limit(runtime):
    [g] = generate_batch(runtime, [Request(ask(runtime, "Say hi."))], Decoding(max_new_tokens=20, min_new_tokens=20))
    assert len(g.token_ids) == 20 and not g.stopped


def test_sampling_is_reproducible_with_a_seed(runtime):
    prompt = ask(runtime, "Write a word.")
    runs = [generate_batch(runtime, [Request(prompt)], Decoding(max_new_tokens=8, temperature=1.0, seed=7))[0].token_ids
            for _ in range(2)]
    assert runs[0] == runs[1]


def test_adapter_for_another_base_model_is_refused(runtime, tiny_adapter):
    with pytest.raises(ModelError, match="was trained on .* cannot be used"):
        runtime.ensure_adapter(tiny_adapter.path, tiny_adapter.fingerprint, "other/model", "0123456789ab", "foreign")
