"""The one base model of a process, with LoRA adapters loaded onto it by name.

Adapters are PEFT LoRA adapters attached to the same base weights (``load_adapter``), never a
model copy per adapter. Requests choose their adapter per row (PEFT's mixed-adapter batches),
so no session ever depends on a global "active adapter". ``lock`` serialises everything that
touches the model: generation and adapter loading.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings
from core.errors import ModelError
from core.models.loader import load_base_model, model_fingerprint, quiet_peft
from core.models.precision import contiguous_head_input, precision_of, weight_bytes

log = logging.getLogger(__name__)

BASE = "__base__"  # PEFT's name for "no adapter" in a mixed-adapter batch
NOT_USABLE = "cannot be used with the model in use"  # in the message of an adapter trained on another base


@dataclass(frozen=True)
class Speed:
    """Decoding speed over the last generations of this runtime, as measured."""

    per_answer_tok_s: float  # tokens per second one answer grows at (one decoding step a token)
    batch_tok_s: float  # tokens per second summed over the answers decoded together
    generations: int


class ModelRuntime:
    def __init__(self, settings: Settings, loaded=None):
        """``loaded`` = (model, tokenizer, source) skips loading (tests share one model)."""
        self.settings = settings
        self.model, self.tokenizer, self.source = loaded or load_base_model(settings)
        contiguous_head_input(self.model)
        self.model_id = settings.models.llm
        self.fingerprint = model_fingerprint(self.model)
        self.lock = threading.RLock()
        self.peft = None  # the PeftModel wrapper, created with the first adapter
        self._adapters: OrderedDict[str, str] = OrderedDict()  # key -> folder
        eos = {self.tokenizer.eos_token_id}
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        eos.update(gen_eos if isinstance(gen_eos, list) else [gen_eos])
        self.eos_ids = {e for e in eos if e is not None}
        self._speeds: deque[tuple[int, int, float]] = deque(maxlen=20)  # (steps, tokens, seconds) per generation

    @property
    def display_name(self) -> str:
        return self.source.display_name

    @property
    def context_window(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)

    @property
    def device(self):
        return self.model.device

    @property
    def parameters(self) -> int:
        return self.model.num_parameters()

    @property
    def dtype(self) -> str:
        """The precision the base weights are in: "fp32", "bf16" or "int8" (``models.dtype`` resolved)."""
        return precision_of(self.model)

    @property
    def memory_bytes(self) -> int:
        """Bytes the base weights take (adapters add a few MB each)."""
        return weight_bytes(self.model)

    # --- measured speed --------------------------------------------------------------------
    def record_speed(self, steps: int, tokens: int, seconds: float) -> None:
        """One generation's decoding: ``steps`` decoding steps producing ``tokens`` tokens in ``seconds``."""
        if steps > 0 and seconds > 0:
            self._speeds.append((steps, tokens, seconds))

    def speed(self) -> Speed | None:
        """Measured over the last generations (up to 20); None before the first answer."""
        if not self._speeds:
            return None
        steps, tokens, seconds = (sum(x) for x in zip(*self._speeds))
        return Speed(steps / seconds, tokens / seconds, len(self._speeds))

    # --- text and tokens -------------------------------------------------------------------
    def chat_prompt(self, messages: list[dict]) -> str:
        """The exact text the model receives, from the tokenizer's own chat template."""
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # --- adapters --------------------------------------------------------------------------
    def adapter_key(self, weights_fingerprint: str) -> str:
        return f"a{weights_fingerprint}"

    def adapter_unusable(self, base_model: str, base_fingerprint: str, label: str) -> str | None:
        """Why an adapter trained on ``base_model`` cannot run on this model, or None when it can:
        an adapter's deltas mean something only on the base weights it was trained on."""
        if base_fingerprint == self.fingerprint:
            return None
        return (f"Adapter '{label}' was trained on {base_model} (weights {base_fingerprint}), so it {NOT_USABLE}, "
                f"{self.model_id} (weights {self.fingerprint}): switch back on the Models page, or train one on this model.")

    def ensure_adapter(self, folder: Path, weights_fingerprint: str, base_model: str, base_fingerprint: str, label: str) -> str:
        """Load the adapter in ``folder`` (once) and return the name PEFT knows it by.

        Refuses an adapter trained on other base weights: its deltas would be meaningless.
        """
        if (why := self.adapter_unusable(base_model, base_fingerprint, label)) is not None:
            raise ModelError(why)
        key = self.adapter_key(weights_fingerprint)
        with self.lock:
            if key in self._adapters:
                self._adapters.move_to_end(key)
                return key
            try:
                with quiet_peft():
                    if self.peft is None:
                        from peft import PeftModel

                        self.peft = PeftModel.from_pretrained(self.model, str(folder), adapter_name=key, is_trainable=False)
                        self.peft.eval()
                    else:
                        self.peft.load_adapter(str(folder), adapter_name=key, is_trainable=False)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise ModelError(f"Adapter '{label}' could not be loaded: {exc}") from exc
            self._adapters[key] = str(folder)
            while len(self._adapters) > self.settings.generation.max_adapters_loaded:
                old, _ = self._adapters.popitem(last=False)
                self.peft.delete_adapter(old)
                log.info("unloaded adapter %s", old)
            return key

    def loaded_adapters(self) -> list[str]:
        return list(self._adapters)
