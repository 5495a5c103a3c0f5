"""Suggested instruction-tuned models, with what to expect from them on a CPU.

Every figure here except the parameter counts, layer counts and context windows (from each
model's published config) is an estimate, and the page says so:

- download: 2 bytes a parameter, the bf16 safetensors these repositories publish (the page asks
  the hub for the exact size before anything downloads);
- memory: 4 bytes a parameter, because this app loads weights in fp32;
- speed: extrapolated from SmolLM2-135M measured on 2 CPU cores (docs: FACTS, "Speeds seen"):
  12 tok/s at batch 1 and 27 tok/s summed at batch 4 give a decoding step of 83 ms for one answer
  and 148 ms for four, which a fixed cost per layer plus a cost per weight and answer fits as
  2.06 ms a layer + 0.16 ns a weight. Bigger models read more weights per token, so the cost per
  weight dominates them; a GPU is not covered by these figures.

Measured figures replace the estimates where ``bench/shapes.py`` has measured a model's shape (its published
config with random weights) and written ``bench/shapes_measured*.json``, one file per kind of machine measured (with
bf16 instructions and without): ``measured_shapes`` reads the one that fits the machine the app runs on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from pathlib import Path

from core.config import REPO_ROOT

log = logging.getLogger(__name__)

MEASURED_MODEL = "SmolLM2-135M-Instruct (fp32, 2 CPU cores)"
MS_PER_LAYER = 2.06  # (83.3 - 21.6) ms / 30 layers
NS_PER_WEIGHT = 0.16  # 21.6 ms / 134.5M weights: (148.1 - 83.3) ms / 3 extra answers


@dataclass(frozen=True)
class Suggestion:
    repo_id: str
    parameters: int
    layers: int
    context: int
    note: str = ""

    @property
    def download_bytes(self) -> int:
        return self.parameters * 2

    @property
    def memory_bytes(self) -> int:
        return self.parameters * 4

    def tokens_per_s(self, answers: int = 1) -> float:
        """Estimated tokens per second for one answer when ``answers`` are decoded together."""
        return 1000.0 / expected_step_ms(self.parameters, self.layers, answers)


def expected_step_ms(parameters: int, layers: int, answers: int = 1) -> float:
    return layers * MS_PER_LAYER + answers * parameters * NS_PER_WEIGHT * 1e-6


SUGGESTED = [
    Suggestion("HuggingFaceTB/SmolLM2-360M-Instruct", 361_821_120, 32, 8192, "the bundled model's bigger sibling"),
    Suggestion("Qwen/Qwen2.5-0.5B-Instruct", 494_032_768, 24, 32768),
    Suggestion("Qwen/Qwen2.5-1.5B-Instruct", 1_543_714_304, 28, 32768, "reads passages well; a good CPU choice"),
    Suggestion("meta-llama/Llama-3.2-1B-Instruct", 1_235_814_400, 16, 131072, "gated: accept its licence, then hf auth login"),
    Suggestion("HuggingFaceTB/SmolLM2-1.7B-Instruct", 1_711_376_384, 24, 8192),
    Suggestion("Qwen/Qwen2.5-3B-Instruct", 3_085_938_688, 36, 32768, "a GPU, or patience"),
    Suggestion("meta-llama/Llama-3.2-3B-Instruct", 3_212_749_824, 28, 131072, "gated: accept its licence, then hf auth login"),
]


MEASURED_FILE = REPO_ROOT / "bench" / "shapes_measured.json"  # bench/shapes.py's default output
MEASURED_FILES = "shapes_measured*.json"  # every committed run, one per kind of machine (next to MEASURED_FILE)


@dataclass(frozen=True)
class ShapeFigures:
    """What bench/shapes.py measured for one model shape at one dtype, in one process (random weights of the
    published shape). Speeds are tokens per second, summed over the rows decoded together."""

    repo_id: str
    dtype: str  # "fp32", "bf16" or "int8"
    parameters: int
    threads: int  # torch's thread count in the measuring process
    memory_bytes: int  # resident memory the weights added when the model was built
    rss_bytes: int  # the process's resident memory then
    prompt_tok_s: float  # prompt pass, 2 rows x 550 tokens (the RAG and hybrid prompts)
    loop_tok_s_1: float  # greedy decoding, plain loop over a static cache, 1 row
    loop_tok_s_4: float  # the same, 4 rows
    engine_tok_s_1: float  # greedy decoding through the app's engine (generate_batch), 1 row
    engine_tok_s_4: float  # the same, 4 rows
    four_arms_s: float  # one demo question's four arms through the engine, adapter rows included
    peak_rss_bytes: int  # the process's peak resident memory after them
    lora_step_s: float | None  # one LoRA training step of the product's recipe; None: not measured (--no-train)
    train_peak_rss_bytes: int  # the process's peak resident memory after it


@dataclass(frozen=True)
class ShapeMeasurements:
    """One run of bench/shapes.py: the machine it ran on and its figures by (repo id, dtype)."""

    cpu: str
    cores: int
    date: str
    tokens: int  # new tokens per answer in the decoding figures and the four arms
    figures: dict[tuple[str, str], ShapeFigures]
    bf16_hardware: bool = False  # the CPU had AMX or AVX512-BF16: bf16 matmuls in hardware, not emulated

    def get(self, repo_id: str, dtype: str) -> ShapeFigures | None:
        return self.figures.get((repo_id, dtype))

    @property
    def dtypes(self) -> list[str]:
        """The precisions measured for at least one shape, fp32 first (a CPU without bf16 instructions is measured
        in fp32 and int8)."""
        present = {d for _, d in self.figures}
        return [d for d in ("fp32", "bf16", "int8") if d in present] + sorted(present - {"fp32", "bf16", "int8"})

    @property
    def label(self) -> str:
        return f"measured on {self.cpu} ({'with' if self.bf16_hardware else 'no'} bf16 instructions), {self.date}"


_CONVERT = {"int": int, "float": float, "str": str, "float | None": lambda v: None if v is None else float(v)}


def measured_shapes(path: Path | None = None, bf16_hardware: bool | None = None) -> ShapeMeasurements | None:
    """The figures in ``path`` (bench/shapes.py's output), or None when there are none. A damaged file is
    logged and read as none: the page then shows its estimates, labelled as such.

    Without a path: of the committed runs (``MEASURED_FILES`` beside ``MEASURED_FILE``), the newest one made on a
    CPU like this one as far as bf16 goes (``bf16_hardware``, by default this CPU's), else the newest one: bf16
    instructions change the figures several-fold, the rest of the CPU much less."""
    if path is None:
        runs = [m for p in sorted(MEASURED_FILE.parent.glob(MEASURED_FILES)) if (m := measured_shapes(p)) is not None]
        if bf16_hardware is None and runs:
            from core.models.precision import cpu_bf16_capable

            bf16_hardware = cpu_bf16_capable()
        return max(runs, key=lambda m: (m.bf16_hardware == bf16_hardware, m.date), default=None)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        machine = data.get("machine") or {}
        figures = {}
        for row in data.get("results") or []:
            try:
                one = ShapeFigures(**{f.name: _CONVERT[f.type](row[f.name]) for f in fields(ShapeFigures)})
            except (KeyError, TypeError, ValueError):  # a row of another version of the bench: skipped
                continue
            figures[(one.repo_id, one.dtype)] = one
        flags = machine.get("flags") or {}
        measured = ShapeMeasurements(str(machine.get("cpu") or "an unnamed CPU"), int(machine.get("cores") or 0),
                                     str(data.get("date") or "an unknown date"),
                                     int((data.get("settings") or {}).get("tokens") or 0), figures,
                                     bool(flags.get("amx_bf16") or flags.get("avx512_bf16")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("ignored %s: %s", path, exc)
        return None
    return measured if figures else None
