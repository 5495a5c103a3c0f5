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
"""

from __future__ import annotations

from dataclasses import dataclass

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
