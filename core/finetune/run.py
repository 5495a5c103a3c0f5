"""The training entry point: a dataset in, an adapter with its lineage out.

Used by the background job worker and by the command line (``python -m core.finetune``).
It resumes from the job folder's last complete checkpoint when there is one.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, Field

from core.config import Settings
from core.finetune import checkpoints
from core.finetune.adapters import AdapterInfo, AdapterRegistry, Lineage
from core.finetune.recipe import StepReport, TrainingConfig, add_lora, encode_pair, encode_text, train

log = logging.getLogger(__name__)


class FinetuneSpec(BaseModel):
    adapter_name: str = Field(min_length=1, max_length=80)
    dataset_id: str
    mode: Literal["qa", "cpt"] = Field("qa", description="Question/answer pairs, or continued pre-training on raw text.")
    training: TrainingConfig = TrainingConfig()
    checkpoint_every: int = Field(10, ge=0, description="Steps between checkpoints (0 = none).")
    eval_every: int | None = Field(None, ge=1, description="Steps between held-out evaluations (None: about five per job).")
    base_model: str | None = Field(None, description="The model trained on, pinned when the job is queued "
                                                     "(None: the configured model).")


def load_examples(spec: FinetuneSpec, settings: Settings, tokenizer):
    """(train examples, held-out examples, dataset info) for the spec's dataset."""
    from core.finetune.datasets import DatasetStore

    store = DatasetStore(settings.data_dir / "datasets")
    info = store.get(spec.dataset_id)
    max_len = spec.training.max_seq_len
    if spec.mode == "cpt":
        texts = store.load_texts(spec.dataset_id)
        examples = [e for t in texts for e in encode_text(tokenizer, t, max_len)]
        held = examples[-max(1, len(examples) // 10):] if len(examples) > 10 else []
        return examples[: len(examples) - len(held)], held, info
    train_pairs, test_pairs = store.load(spec.dataset_id)
    encode = lambda pairs: [encode_pair(tokenizer, p.question, p.answer, max_len, p.passages) for p in pairs]  # noqa: E731
    return encode(train_pairs), encode(test_pairs), info


def run_finetune(spec: FinetuneSpec, settings: Settings, job_dir: Path,
                 on_step: Callable[[StepReport], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 job_id: str | None = None, on_stage: Callable[[str], None] | None = None) -> AdapterInfo | None:
    """Train; return the saved adapter, or None when stopped early (a checkpoint may remain)
    or on a rank other than 0 of a multi-process run. ``on_stage`` hears what happens before the first step."""
    import torch

    from core.finetune import distributed
    from core.models.loader import load_base_model, model_fingerprint
    from core.models.precision import precision_of

    if spec.base_model:  # the model in use when the job was queued, whatever was picked since
        settings = settings.model_copy(update={"models": settings.models.model_copy(update={"llm": spec.base_model})})
    stage = on_stage or (lambda text: None)
    world = distributed.setup()
    torch.manual_seed(spec.training.seed)
    stage("Loading the model")
    model, tokenizer, source = load_base_model(settings)
    fingerprint = model_fingerprint(model)
    stage("Preparing the data")
    train_set, eval_set, dataset = load_examples(spec, settings, tokenizer)
    peft_model = add_lora(model, spec.training)
    ckpt_dir = job_dir / "checkpoints"
    start_step, optimizer_state = checkpoints.load_latest(ckpt_dir, peft_model)
    if start_step:
        log.info("resuming from step %d", start_step)
    stage("Training: the time left shows after the first step")
    started = time.perf_counter()
    result = train(
        peft_model, train_set, eval_set, spec.training, tokenizer.pad_token_id,
        on_step=on_step, should_stop=should_stop, start_step=start_step, eval_every=spec.eval_every,
        optimizer_state=optimizer_state, checkpoint_every=spec.checkpoint_every,
        on_checkpoint=lambda step, opt: checkpoints.save(ckpt_dir, step, peft_model, opt),
    )
    distributed.barrier(world)
    if result.stopped_early or not world.is_main:
        return None
    lineage = Lineage(
        name=spec.adapter_name, base_model=settings.models.llm, base_fingerprint=fingerprint, base_dtype=precision_of(model),
        dataset_name=dataset.name, dataset_hash=dataset.hash, kb_name=dataset.kb_name, kb_version=dataset.kb_version,
        training={**spec.training.model_dump(), "mode": spec.mode, "train_examples": len(train_set),
                  "steps": result.steps, "processes": world.size},
        final_train_loss=result.final_train_loss, final_eval_loss=result.final_eval_loss,
        training_seconds=round(time.perf_counter() - started, 1), job_id=job_id,
    )
    return AdapterRegistry(settings.adapters_dir).save(peft_model, lineage)
