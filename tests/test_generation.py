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


def test_rows_of_two_adapters_still_get_their_own_answers_and_the_model_is_left_as_found(runtime, tiny_adapter, tmp_path):
    import shutil

    from peft.tuners.lora import LoraLayer
    from safetensors.torch import load_file, save_file

    key = load(runtime, tiny_adapter)
    other = tmp_path / "negated"
    shutil.copytree(tiny_adapter.path, other)
    weights = load_file(other / "adapter_model.safetensors")
    save_file({k: -v if "lora_B" in k else v for k, v in weights.items()}, other / "adapter_model.safetensors")
    lin = tiny_adapter.lineage
    negated = runtime.ensure_adapter(other, f"neg{tiny_adapter.fingerprint}", lin.base_model, lin.base_fingerprint, "negated")
    prompt = ask(runtime, SECRET_QUESTION)
    decoding = Decoding(max_new_tokens=16)
    for requests in ([Request(prompt), Request(prompt, key)],  # one adapter: per-row scaling
                     [Request(prompt), Request(prompt, key), Request(prompt, negated)]):  # two: PEFT's mixed batch
        batched = generate_batch(runtime, requests, decoding)
        assert [b.token_ids for b in batched] == [s.token_ids for s in generate_sequential(runtime, requests, decoding)]
    assert "Zebra-42" in batched[1].text and batched[2].text != batched[1].text
    layers = [m for m in runtime.peft.modules() if isinstance(m, LoraLayer) and key in m.scaling]
    assert layers and all(isinstance(m.scaling[key], float) for m in layers)  # per-row scaling undone
