"""The base-weights fingerprint adapters and runs are pinned to: it must not change when its code does."""

import hashlib

import pytest

from core.models.loader import model_fingerprint


def fingerprint_as_first_written(model) -> str:
    """The formula adapters saved before 2026-12-07 were pinned with (it copied each whole tensor)."""
    digest = hashlib.sha256()
    base = {n.removeprefix("base_model.model.").replace(".base_layer", ""): t
            for n, t in model.state_dict().items() if "lora_" not in n}
    for name, tensor in sorted(base.items())[:8]:
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes()[:65536])
    return digest.hexdigest()[:12]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_the_fingerprint_is_the_one_existing_adapters_were_pinned_with(dtype):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)  # embeddings of 40,000 values: more than the 16,384 hashed, so the cut is exercised
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=625, tie_word_embeddings=True)
    model = LlamaForCausalLM(config).to(getattr(torch, dtype))
    before = model_fingerprint(model)
    assert before == fingerprint_as_first_written(model)
    with torch.no_grad():
        model.model.embed_tokens.weight[0, 0] += 1
    assert model_fingerprint(model) == fingerprint_as_first_written(model) != before
