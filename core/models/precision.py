"""The precision the base model's weights are held in: fp32, bf16, or int8 weight-only.

``models.dtype = auto`` picks what the hardware is good at: bf16 on a GPU that has it; on a CPU
with bf16 instructions (AMX or AVX512-BF16), bf16 for models of ``AUTO_BF16_MIN_PARAMETERS`` or
more; fp32 everywhere else. A precision the machine cannot serve (bf16 without the instructions,
int8 without its library) is refused in one sentence before anything loads.

int8 is weight-only, through torchao (PyTorch's own quantization library, the one PEFT can put
LoRA adapters on): each Linear layer's weights are kept as int8 with a scale per output row and
the matmul runs on fp32 activations, so the layers' memory drops to a quarter and answers stay
close to fp32's. It is a memory setting, not a speed one: on a CPU torchao widens the int8 weights
to fp32 at every matmul (torchao 0.18, ``Int8Tensor``'s weight-only linear).
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from core.config import DtypeSetting
from core.errors import ModelError

Precision = Literal["fp32", "bf16", "int8"]  # what a setting resolves to
SETTINGS: tuple[str, ...] = get_args(DtypeSetting)  # auto, fp32, bf16, int8

# Where bf16 starts to pay on a CPU with bf16 instructions, measured (bench/shapes.py, random weights of the published
# shapes, bench/shapes_measured.json): on a 2-core AMD EPYC with AVX512-BF16 (2026-12-07) bf16 is faster than fp32
# from the smallest shape measured on: SmolLM2-360M answers one row at 13.0 against 9.0 tok/s and the four arms of a
# question in 9.5 against 11.6 s; Qwen2.5-0.5B 13.8 against 6.8 tok/s. On a 2-core AMX Xeon (docs: FACTS, 2026-12-06)
# the SmolLM2-135M shape decoded one row at 27 tok/s in fp32 and 23 in bf16. Below this size auto keeps fp32, which
# also keeps the bundled 135M model in fp32, so the demo's greedy answers stay the same on every install (bf16 rounds
# differently, and greedy answers change with it). 300M sits between the bundled model and the smallest shape
# measured faster in bf16.
AUTO_BF16_MIN_PARAMETERS = 300_000_000

# The x86 features that make bf16 matmuls fast (torch's names, which are also /proc/cpuinfo's).
BF16_CPU_FEATURES = frozenset({"amx_bf16", "avx512_bf16"})

INT8_LIBRARY = "torchao"
INT8_MISSING = ("int8 needs the torchao package, which is not installed: run 'make install' (or pip install torchao), "
                "or pick fp32 or auto.")
PRECISION_ATTR = "lab_precision"  # set on a model by cast(): the name of the precision it was put in
CONTIGUOUS_ATTR = "lab_contiguous_input"  # set on an output head by contiguous_head_input(): its hook is installed


def cpu_features() -> set[str]:
    """The CPU's instruction-set features by name: torch's own detection (``torch.cpu.get_capabilities``),
    or the flags of /proc/cpuinfo with a torch that lacks it. Tests replace this function."""
    import torch

    capabilities = getattr(torch.cpu, "get_capabilities", None)
    if capabilities is not None:
        return {name for name, value in capabilities().items() if value is True}
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("flags"):
                return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def cpu_bf16_capable() -> bool:
    """True when this CPU has AMX or AVX512-BF16: bf16 matmuls run in hardware, not emulated."""
    return bool(cpu_features() & BF16_CPU_FEATURES)


def gpu_bf16_capable() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def int8_available() -> bool:
    return importlib.util.find_spec(INT8_LIBRARY) is not None


def not_a_setting(setting: str) -> str:
    return f"'{setting}' is not a precision: pick {', '.join(SETTINGS[:-1])} or {SETTINGS[-1]}."


def unavailable(setting: str, device: str) -> str | None:
    """Why the ``models.dtype`` setting cannot be served on ``device`` ("cpu" or "cuda"), in one
    sentence; None when it can."""
    if setting not in SETTINGS:
        return not_a_setting(setting)
    if setting == "int8" and not int8_available():
        return INT8_MISSING
    if setting == "bf16" and not (gpu_bf16_capable() if device.startswith("cuda") else cpu_bf16_capable()):
        where = "this GPU" if device.startswith("cuda") else "this CPU (it has neither AMX nor AVX512-BF16)"
        return (f"bf16 was picked, but {where} has no fast bf16 arithmetic, so it would be slower than fp32: "
                "pick fp32, auto, or int8 for less memory.")
    return None


def resolve_dtype(setting: str, device: str, n_params: int) -> Precision:
    """The precision a model of ``n_params`` parameters is loaded in on ``device``, for the
    ``models.dtype`` setting (see the module's docstring); ModelError when it cannot be served."""
    if (why := unavailable(setting, device)) is not None:
        raise ModelError(why)
    if setting != "auto":
        return setting  # type: ignore[return-value]
    if device.startswith("cuda"):
        return "bf16" if gpu_bf16_capable() else "fp32"
    return "bf16" if cpu_bf16_capable() and n_params >= AUTO_BF16_MIN_PARAMETERS else "fp32"


@dataclass(frozen=True)
class Checkpoint:
    """What a safetensors checkpoint's headers say, read without loading a weight."""

    parameters: int
    dtypes: frozenset[str]  # safetensors' names: "F32", "BF16", "F16", ...


def read_checkpoint(folder: Path) -> Checkpoint | None:
    """The parameter count and stored dtypes of the safetensors weights in ``folder`` (one file or
    shards), from their headers only; None when it holds none, or none readable (loading then
    says what is wrong with them)."""
    folder = Path(folder)
    index = folder / "model.safetensors.index.json"
    parameters, dtypes = 0, set()
    try:
        if index.is_file():
            files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        elif (folder / "model.safetensors").is_file():
            files = ["model.safetensors"]
        else:
            return None
        for name in files:
            with open(folder / name, "rb") as fh:
                header = json.loads(fh.read(int.from_bytes(fh.read(8), "little")))
            for key, entry in header.items():
                if key != "__metadata__":
                    parameters += math.prod(entry["shape"])
                    dtypes.add(entry["dtype"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Checkpoint(parameters, frozenset(dtypes))


def cast(model, precision: Precision) -> None:
    """Put ``model`` (loaded in fp32, or in bf16 for bf16) in ``precision``, in place, and record its name."""
    import torch

    if precision == "bf16":
        model.to(torch.bfloat16)
        give_back_freed_memory()
    elif precision == "int8":
        quantize_int8(model)
        give_back_freed_memory()
    setattr(model, PRECISION_ATTR, precision)


def contiguous_head_input(model) -> None:
    """Hand the output head a contiguous input in bf16 and fp16. A prompt pass asks for the logits of the last
    position only (``logits_to_keep=1``): the head then gets a strided slice of the hidden states, for which torch's
    CPU matmul in bf16 broadcasts the whole head matrix over the rows and copies it (torch 2.13, measured on an AMD
    EPYC with AVX512-BF16: a Qwen2.5-1.5B head for 2 rows, 2.2 s against 20 ms from a contiguous copy of those rows;
    1.2 s for one row). fp32 is left as it is: MKL's path for that slice is as fast, and the demo's fp32 answers stay
    bit for bit what they were. Hand-written: the copy has to happen between the model's slicing and its head."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None or getattr(head, CONTIGUOUS_ATTR, False):
        return

    def contiguous(_module, args):
        x = args[0] if args else None
        if isinstance(x, torch.Tensor) and x.dtype in (torch.bfloat16, torch.float16) and not x.is_contiguous():
            return (x.contiguous(), *args[1:])
        return None

    head.register_forward_pre_hook(contiguous)
    setattr(head, CONTIGUOUS_ATTR, True)


def give_back_freed_memory() -> None:
    """Hand the memory a cast freed back to the operating system. glibc keeps it: after the first large fp32 tensor
    is freed it raises its mmap threshold, so the cast's many smaller allocations land in its heap, and what they
    leave free stays mapped. Measured on a Qwen2.5-0.5B shape cast to int8: 2.72 GB resident above the start before,
    1.29 GB after (its weights take 0.90 GB). Hand-written: no library does this; ``malloc_trim`` is glibc's own call
    for it, absent elsewhere (macOS, musl), where nothing is done."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def quantize_int8(model) -> None:
    """Every Linear layer but the output head to int8 weight-only (torchao). The head stays as it is:
    in many small models (the bundled one included) it is tied to the input embeddings, which
    quantizing it would untie into a second copy, and the logits it makes pick each greedy token."""
    import torch

    try:
        from torchao.quantization import Int8WeightOnlyConfig, quantize_
    except ImportError as exc:
        raise ModelError(INT8_MISSING) from exc
    head = model.get_output_embeddings()
    # set_inductor_config=False: left on, it rewrites torch._inductor's global settings in this process.
    quantize_(model, Int8WeightOnlyConfig(set_inductor_config=False),
              filter_fn=lambda m, fqn: isinstance(m, torch.nn.Linear) and m is not head)


def precision_of(model) -> Precision:
    """The precision ``model``'s weights are in: the one ``cast`` recorded, else read from its dtype."""
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    recorded = getattr(base, PRECISION_ATTR, None)
    if recorded is not None:
        return recorded
    return "bf16" if base.dtype == torch.bfloat16 else "fp32"


def weight_bytes(model) -> int:
    """Bytes the model's weights and buffers take, counting a quantized tensor by what it holds (its
    int8 data and scales; ``get_memory_footprint`` counts it at the size of the float it stands for)."""

    def size(t) -> int:
        if hasattr(t, "__tensor_flatten__"):  # a tensor subclass (torchao): the tensors inside it
            names, _ = t.__tensor_flatten__()
            return sum(size(getattr(t, n)) for n in names)
        return t.nelement() * t.element_size()

    return sum(size(t) for t in model.parameters()) + sum(size(t) for t in model.buffers())
