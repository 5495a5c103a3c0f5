"""The LoRA training recipe, read top to bottom: setup, data, loop, save.

Question/answer pairs are rendered with the same chat template and system prompt as the
closed-book arms see at question time, and the loss is taken on the answer tokens only.
Batches are grouped by length (sorted within shuffled windows), so almost no compute goes to
padding: that is the main speed-up over a default padding collator on short, uneven pairs.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable

from pydantic import BaseModel, Field, field_validator

from core.models.loader import quiet_peft
from core.models.prompts import Passage, closed_book_messages, open_book_messages

IGNORE = -100


class TrainingConfig(BaseModel):
    rank: int = Field(16, ge=1, le=256, description="LoRA rank r.")
    alpha: int = Field(32, ge=1, le=1024, description="LoRA alpha (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    target_modules: list[str] | str = Field("all-linear", description="Modules that get LoRA ('all-linear' or names).")
    learning_rate: float = Field(1e-3, gt=0, le=1, description="Peak learning rate (linear warm-up, then cosine decay).")
    epochs: float = Field(3, gt=0, le=100, description="Passes over the training data (ignored when max_steps is set).")
    max_steps: int | None = Field(None, ge=1, description="Optimizer steps; overrides epochs.")
    batch_size: int = Field(8, ge=1, le=256, description="Sequences per micro-batch.")
    grad_accum: int = Field(1, ge=1, le=64, description="Micro-batches per optimizer step.")
    max_seq_len: int = Field(256, ge=16, le=8192, description="Longer examples are cut to this many tokens.")
    gradient_checkpointing: bool | None = Field(
        None, description="Recompute activations in the backward pass: less memory, ~15% slower. "
        "None = on when a micro-batch can hold more than CHECKPOINT_ABOVE_TOKENS tokens.")
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    seed: int = Field(0)

    @field_validator("target_modules")
    @classmethod
    def _modules(cls, v):
        if isinstance(v, list) and not v:
            raise ValueError("target_modules needs at least one module name")
        return v


# Measured on the default model (bench-style, 4 steps of 8 x ~768-token RAFT rows on 2 cores):
# without checkpointing the peak RSS was 22.8 GB (a 24 GB machine OOM-killed a RAFT job), with it
# 6.7 GB at 38.6 s/step instead of 33.7. At the default 8 x 256 it is not needed.
CHECKPOINT_ABOVE_TOKENS = 2048


def wants_checkpointing(config: TrainingConfig) -> bool:
    if config.gradient_checkpointing is not None:
        return config.gradient_checkpointing
    return config.batch_size * config.max_seq_len > CHECKPOINT_ABOVE_TOKENS


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(1 for t in self.labels if t != IGNORE)


def encode_pair(tokenizer, question: str, answer: str, max_len: int, passages: list | None = None) -> Example:
    """Prompt (chat template up to the assistant turn) + answer + end of turn; loss on the answer.

    With ``passages`` (RAFT examples: objects with doc_name, text and gold) the prompt is the
    open-book one the hybrid arm reads, quote markers included; when it does not fit
    ``max_len``, passages other than the gold one are left out, the farthest from the question
    first, so the answer is not cut."""
    answer_ids = tokenizer(answer.strip(), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]

    def encode_prompt(kept) -> list[int]:
        if kept is None:
            messages = closed_book_messages(question)
        else:
            numbered = [Passage(i + 1, p.doc_name, p.text) for i, p in enumerate(kept)]
            messages = open_book_messages(question, numbered)
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    kept = list(passages) if passages else None
    prompt_ids = encode_prompt(kept)
    while kept and len(prompt_ids) + len(answer_ids) > max_len and any(not p.gold for p in kept):
        kept.pop(max(i for i, p in enumerate(kept) if not p.gold))  # the highest number is read first
        prompt_ids = encode_prompt(kept)
    ids = (prompt_ids + answer_ids)[:max_len]
    labels = ([IGNORE] * len(prompt_ids) + answer_ids)[:max_len]
    return Example(ids, labels)


def encode_text(tokenizer, text: str, max_len: int) -> list[Example]:
    """Continued pre-training: raw text in windows of ``max_len`` tokens, loss on every token."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return [Example(ids[i:i + max_len], ids[i:i + max_len]) for i in range(0, len(ids), max_len) if len(ids[i:i + max_len]) > 1]


def length_grouped_batches(examples: list[Example], batch_size: int, rng: random.Random) -> list[list[Example]]:
    """Shuffle, then sort by length inside windows of 16 batches, then shuffle the batches."""
    order = examples[:]
    rng.shuffle(order)
    window = batch_size * 16
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda e: len(e.input_ids))
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(batch: list[Example], pad_id: int):
    import torch

    longest = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), longest), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for i, e in enumerate(batch):  # right padding: positions stay 0..n-1 as at inference
        ids[i, : len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[i, : len(e.labels)] = torch.tensor(e.labels)
        mask[i, : len(e.input_ids)] = 1
    return ids, labels, mask


@dataclass
class StepReport:
    step: int
    total_steps: int
    train_loss: float
    eval_loss: float | None
    trained_tokens: int
    elapsed_s: float
    learning_rate: float


@dataclass
class TrainResult:
    steps: int
    final_train_loss: float | None
    final_eval_loss: float | None
    trained_tokens: int
    seconds: float
    history: list[StepReport] = field(default_factory=list)
    stopped_early: bool = False


def causal_lm_loss(model, ids, labels, mask):
    """Mean next-token cross-entropy over the label tokens, as ``model(labels=...)`` computes it,
    but projecting onto the vocabulary only at those positions: most of each example is prompt
    (system turn and question) and needs no logits; on the default model that saves ~15% of a
    training step. Falls back to the model's own loss when it has no decoder/head split."""
    import torch.nn.functional as F

    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder, head = getattr(causal, "get_decoder", lambda: None)(), causal.get_output_embeddings()
    if decoder is None or head is None:
        return model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
    hidden = decoder(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    chosen = targets != IGNORE
    logits = head(hidden[:, :-1][chosen])
    return F.cross_entropy(logits.float(), targets[chosen])


def add_lora(model, config: TrainingConfig):
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=config.target_modules, task_type="CAUSAL_LM")
    with quiet_peft():
        # The adapter's weights stay fp32 over a bf16 (or int8) base, as in QLoRA: its small updates
        # would round away in bf16. PEFT's default, written out because the recipe depends on it.
        return get_peft_model(model, lora, autocast_adapter_dtype=True)


def planned_steps(n_examples: int, config: TrainingConfig) -> int:
    if config.max_steps:
        return config.max_steps
    per_epoch = math.ceil(math.ceil(n_examples / config.batch_size) / config.grad_accum)
    return max(1, math.ceil(per_epoch * config.epochs))


def warmup_steps(total_steps: int, config: TrainingConfig) -> int:
    """Steps of linear warm-up: ``warmup_ratio`` of the run, at least one."""
    return max(1, int(total_steps * config.warmup_ratio))


def lr_schedule(optimizer, config: TrainingConfig, total_steps: int, start_step: int = 0):
    """transformers' warm-up / stable / cosine-decay schedule on ``optimizer``, already at step ``start_step``.

    Step it after each optimizer step. The curve: a linear warm-up that reaches the peak
    ``learning_rate`` on its last step, the peak held one more step, then a half cosine to 0 at
    ``total_steps``. The schedule is read one step ahead (step s uses its value at s + 1): its own
    first value is 0, a step that would train nothing. The curve is the recipe's hand-written one
    before it (tests/test_lr_schedule.py keeps that formula and compares).
    Built fresh on resume: the peak comes from ``config``, not from a checkpoint's optimizer state,
    whose learning rate is the one its last step used."""
    from transformers.optimization import get_wsd_schedule

    warmup = warmup_steps(total_steps, config)
    for group in optimizer.param_groups:
        group["initial_lr"] = config.learning_rate  # what the schedule scales (torch's name for it)
    # last_epoch=start_step: constructing the scheduler steps it once, to start_step + 1
    return get_wsd_schedule(optimizer, num_warmup_steps=warmup, num_stable_steps=1,
                            num_decay_steps=max(1, total_steps - warmup), warmup_type="linear",
                            decay_type="cosine", last_epoch=start_step)


def evaluate(model, examples: list[Example], pad_id: int, batch_size: int) -> float | None:
    import torch

    if not examples:
        return None
    model.eval()
    total, count = 0.0, 0
    device = next(model.parameters()).device
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            ids, labels, mask = (t.to(device) for t in collate(examples[i:i + batch_size], pad_id))
            n = int((labels[:, 1:] != IGNORE).sum())
            total += float(causal_lm_loss(model, ids, labels, mask)) * n
            count += n
    model.train()
    return total / max(count, 1)


EVALUATIONS_PER_JOB = 5  # held-out loss points on the chart; each costs one pass over the held-out rows


def evaluation_interval(total_steps: int) -> int:
    """Steps between held-out evaluations so a job of any length shows about EVALUATIONS_PER_JOB of them."""
    return max(1, -(-total_steps // EVALUATIONS_PER_JOB))


def train(model, train_set: list[Example], eval_set: list[Example], config: TrainingConfig, pad_id: int,
          on_step: Callable[[StepReport], None] | None = None, should_stop: Callable[[], bool] | None = None,
          start_step: int = 0, eval_every: int | None = None, optimizer_state: dict | None = None,
          checkpoint_every: int = 0, on_checkpoint: Callable[[int, object], None] | None = None) -> TrainResult:
    """Train the LoRA parameters of ``model`` (a PeftModel) in place.

    ``start_step`` and ``optimizer_state`` resume from a checkpoint: the batch order is replayed
    to that step, so a resumed run sees the same data as an uninterrupted one.
    ``on_checkpoint(step, optimizer)`` is called every ``checkpoint_every`` steps.
    """
    import torch

    from core.finetune import distributed

    if not train_set:
        raise ValueError("The training set is empty.")
    world = distributed.current()
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)  # the same on every rank: ranks agree on the batch order
    device = next(model.parameters()).device
    total = planned_steps(math.ceil(len(train_set) / world.size), config)
    eval_every = eval_every or evaluation_interval(total)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    if optimizer_state:
        optimizer.load_state_dict(optimizer_state)
    schedule = lr_schedule(optimizer, config, total, start_step)

    if wants_checkpointing(config):
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name; the old one warns
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()  # the frozen embeddings' output must carry gradients to the LoRA layers
    model.train()
    started = time.perf_counter()
    batches: list[list[Example]] = []

    def next_batch() -> list[Example]:
        """This rank's batch of the next micro-step (each rank takes one of ``world.size``)."""
        nonlocal batches
        mine = None
        for r in range(world.size):
            if not batches:
                batches = length_grouped_batches(train_set, config.batch_size, rng)
            batch = batches.pop(0)
            mine = batch if r == world.rank else mine
        return mine

    for _ in range(start_step * config.grad_accum):
        next_batch()
    result = TrainResult(steps=start_step, final_train_loss=None, final_eval_loss=None, trained_tokens=0, seconds=0.0)
    eval_loss = None
    for step in range(start_step, total):
        if should_stop and should_stop():
            result.stopped_early = True
            break
        learning_rate = schedule.get_last_lr()[0]  # what this step uses
        loss_sum, tokens = 0.0, 0
        for _ in range(config.grad_accum):
            ids, labels, mask = (t.to(device) for t in collate(next_batch(), pad_id))
            n = int((labels[:, 1:] != IGNORE).sum())
            loss = causal_lm_loss(model, ids, labels, mask)
            (loss / config.grad_accum).backward()
            loss_sum += float(loss.detach()) / config.grad_accum
            tokens += n
        distributed.average_gradients(params, world)
        loss_sum, tokens = distributed.sum_across([loss_sum / world.size, tokens], world)
        tokens = int(tokens)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        schedule.step()
        result.steps, result.trained_tokens = step + 1, result.trained_tokens + tokens
        evaluated = bool(eval_set) and ((step + 1) % eval_every == 0 or step + 1 == total)
        if evaluated:
            eval_loss = evaluate(model, eval_set, pad_id, config.batch_size)
        # the held-out loss is reported on the steps it was measured, so a chart shows real points only
        report = StepReport(step + 1, total, loss_sum, eval_loss if evaluated else None, result.trained_tokens,
                            time.perf_counter() - started, learning_rate)
        result.history.append(report)
        result.final_train_loss, result.final_eval_loss = loss_sum, eval_loss
        if on_step and world.is_main:
            on_step(report)
        if world.is_main and on_checkpoint and checkpoint_every and (step + 1) % checkpoint_every == 0 and step + 1 < total:
            on_checkpoint(step + 1, optimizer)
    model.eval()
    result.seconds = time.perf_counter() - started
    return result
