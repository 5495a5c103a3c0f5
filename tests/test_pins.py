"""The library internals core/models/generation.py relies on are there, in the pinned versions.

A failure here means transformers or peft moved: read README "Moving the pinned transformers and
peft" before changing the pin or the code."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"


def pinned(package: str) -> str:
    match = re.search(rf"^{package}==(\S+)$", REQUIREMENTS.read_text(), re.MULTILINE)
    assert match, f"{package} must be pinned exactly (==) in requirements.txt: the lab uses its internals"
    return match.group(1)


@pytest.mark.parametrize("package", ["transformers", "peft", "streamlit"])
def test_installed_version_is_the_pinned_one(package):
    assert version(package) == pinned(package), (
        f"{package} {version(package)} is installed but {pinned(package)} is pinned; see README "
        "'Moving the pinned transformers and peft'")


def test_streamlit_pages_manager_still_has_the_routing_switch_ui_turns_off():
    # ui/__init__.py sets PagesManager.uses_pages_directory to False so that a deep link on a fresh
    # server goes through app.py's st.navigation; if the attribute moves, that line does nothing.
    from streamlit.runtime.pages_manager import PagesManager

    assert "uses_pages_directory" in vars(PagesManager), (
        "streamlit moved PagesManager.uses_pages_directory: ui/__init__.py's deep-link fix no longer applies")


@pytest.fixture(scope="module")
def tiny_lora_model():
    """A two-layer random Llama with a LoRA adapter: the same classes as the lab's model, in milliseconds."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from core.models.loader import quiet_peft

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    model = LlamaForCausalLM(config).eval()
    with quiet_peft():
        peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    with torch.no_grad():  # a fresh adapter does nothing (B = 0): make it change the output
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_()
    return peft_model.eval()


def test_peft_forward_hooks_route_each_row_through_its_adapter(tiny_lora_model):
    import torch

    from core.models.runtime import BASE

    enable = getattr(tiny_lora_model.base_model, "_enable_peft_forward_hooks", None)
    assert enable is not None, "peft's LoraModel._enable_peft_forward_hooks is gone (mixed-adapter batches)"
    ids = torch.tensor([[1, 2, 3], [1, 2, 3]])
    model = tiny_lora_model.get_base_model()
    with torch.inference_mode():
        with enable(adapter_names=["default", BASE]):
            mixed = model(input_ids=ids).logits
        tuned = tiny_lora_model(input_ids=ids).logits
        with tiny_lora_model.disable_adapter():
            base = tiny_lora_model(input_ids=ids).logits
    assert not torch.allclose(tuned[0], base[0])
    assert torch.allclose(mixed[0], tuned[0], atol=1e-5) and torch.allclose(mixed[1], base[1], atol=1e-5)


def test_lora_layer_scaling_is_a_per_adapter_dict_that_can_hold_a_tensor(tiny_lora_model):
    import torch
    from peft.tuners.lora import LoraLayer

    layers = [m for m in tiny_lora_model.modules() if isinstance(m, LoraLayer)]
    assert layers and all(isinstance(m.scaling, dict) and "default" in m.scaling for m in layers)
    assert all(isinstance(getattr(m, "lora_variant", {}), dict) for m in layers)
    ids = torch.tensor([[1, 2, 3], [1, 2, 3]])
    with torch.inference_mode():
        tuned = tiny_lora_model(input_ids=ids).logits
        with tiny_lora_model.disable_adapter():
            base = tiny_lora_model(input_ids=ids).logits
        saved = [(m, m.scaling["default"]) for m in layers]
        for m, s in saved:
            m.scaling["default"] = torch.tensor([1.0, 0.0]).view(-1, 1, 1) * s
        mixed = tiny_lora_model(input_ids=ids).logits
        for m, s in saved:
            m.scaling["default"] = s
    assert not torch.allclose(tuned[0], base[0])
    assert torch.allclose(mixed[0], tuned[0], atol=1e-5) and torch.allclose(mixed[1], base[1], atol=1e-5)


def test_kv_cache_exposes_per_layer_keys_and_values_and_a_static_cache_takes_them(tiny_lora_model):
    import torch
    from transformers import DynamicCache, StaticCache

    from core.models.generation import cache_kwarg

    model = tiny_lora_model.get_base_model()
    cache = DynamicCache()
    with torch.inference_mode():
        out = model(input_ids=torch.tensor([[1, 2, 3]]), use_cache=True, logits_to_keep=1, **{cache_kwarg(model): cache})
    layers = out.past_key_values.layers
    assert len(layers) == 2
    k, v = layers[0].keys, layers[0].values
    assert k.shape == v.shape == (1, 2, 3, 8)  # batch, kv heads, positions, head size
    merged = StaticCache(config=model.config, max_cache_len=8)
    merged.update(k, v, 0)
