"""The model the app answers with, switchable without a restart.

One ``ActiveModel`` per app process holds the current ``ModelRuntime``. ``switch`` builds the new
runtime once (one load at a time: two sessions asking for the same model load it once; the old
model keeps answering meanwhile), and only when it loaded does it replace the old one and record the choice in the data folder, so the choice
survives a restart. Work already running keeps the runtime it started with (an evaluation holds
its engine, a training job its own process and the model pinned in its spec); the old runtime is
freed when the last of them lets go.
"""

from __future__ import annotations

import json
import threading
from typing import Callable

from core.config import MODEL_CHOICE_KEYS, ModelSettings, Settings
from core.errors import ModelError
from core.models import precision
from core.models.runtime import ModelRuntime


def save_choice(settings: Settings) -> None:
    """Record ``settings.models``' model, device and precision as this data folder's choice (read by
    ``core.config.apply_model_choice``); written aside, then renamed."""
    path = settings.model_choice_path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({k: getattr(settings.models, k) for k in MODEL_CHOICE_KEYS}), encoding="utf-8")
    tmp.replace(path)


class ActiveModel:
    def __init__(self, settings: Settings, build: Callable[[Settings], ModelRuntime] = ModelRuntime):
        """``settings`` is the app's shared settings object: after a switch its ``models`` section
        names the new model, so work started later (a training job) pins that one."""
        self.settings = settings
        self._build = build
        self._runtime: ModelRuntime | None = None
        # One load at a time. Readers never wait on it once a model is loaded: while a switch loads
        # the new model, every session keeps answering with the old one.
        self._loading = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._runtime is not None

    def runtime(self) -> ModelRuntime:
        """The current runtime, loaded on first use."""
        if (current := self._runtime) is not None:
            return current
        with self._loading:
            if self._runtime is None:
                self._runtime = self._build(self.settings.model_copy())
            return self._runtime

    def switch(self, llm: str, device: str | None = None, dtype: str | None = None) -> ModelRuntime:
        """Load ``llm`` on ``device`` in precision ``dtype`` (defaults: the current settings) and answer
        with it from now on; on failure nothing changes and the error says why in one sentence."""
        llm = (llm or "").strip()
        if not llm:
            raise ModelError("Name a model first: a folder, a .gguf file or a hub id.")
        device, dtype = device or self.settings.models.device, dtype or self.settings.models.dtype
        try:
            models = ModelSettings(**{**self.settings.models.model_dump(), "llm": llm, "device": device, "dtype": dtype})
        except ValueError:
            raise ModelError(precision.not_a_setting(dtype) if dtype not in precision.SETTINGS
                             else f"'{device}' is not a device: pick auto, cpu or cuda.") from None
        with self._loading:
            current, now = self._runtime, self.settings.models
            if current is not None and current.model_id == llm and (now.device, now.dtype) == (models.device, models.dtype):
                return current
            chosen = self.settings.model_copy(update={"models": models})
            runtime = self._build(chosen)  # raises ModelError; the old runtime stays in use
            save_choice(chosen)
            self.settings.models = models
            self._runtime = runtime
            return runtime
