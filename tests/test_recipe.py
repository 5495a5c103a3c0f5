"""The training recipe's pieces: prompt-masked labels, length grouping, the answer-only loss."""

import random

import pytest

import torch

from core.finetune.recipe import (IGNORE, Example, TrainingConfig, add_lora, causal_lm_loss, collate, encode_pair,
                                  length_grouped_batches, planned_steps)
from core.models.prompts import closed_book_messages


def test_labels_cover_the_answer_and_end_of_turn_only(base_model):
    _, tokenizer, _ = base_model
    ex = encode_pair(tokenizer, "How long is the warranty?", "Two years.", 256)
    prompt = tokenizer.apply_chat_template(closed_book_messages("How long is the warranty?"),
                                           add_generation_prompt=True, tokenize=False)
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert all(t == IGNORE for t in ex.labels[:n_prompt])
    assert tokenizer.decode(ex.labels[n_prompt:]).startswith("Two years.")
    assert ex.labels[-1] == tokenizer.eos_token_id and ex.trained_tokens == len(ex.labels) - n_prompt


def test_length_grouping_wastes_little_padding():
    rng = random.Random(0)
    examples = [Example([1] * n, [1] * n) for n in (rng.randint(30, 120) for _ in range(200))]

    def padding(batches):
        total = sum(len(b) * max(len(e.input_ids) for e in b) for b in batches)
        return 1 - sum(len(e.input_ids) for b in batches for e in b) / total

    grouped = length_grouped_batches(examples, 8, random.Random(1))
    shuffled = [examples[i:i + 8] for i in range(0, 200, 8)]
    assert sorted(id(e) for b in grouped for e in b) == sorted(id(e) for e in examples)
    assert padding(grouped) < 0.05 < 0.2 < padding(shuffled)


def test_answer_only_loss_equals_the_models_own_loss(base_model):
    model, tokenizer, _ = base_model
    examples = [encode_pair(tokenizer, "What is the secret?", "It is Zebra-42.", 128),
                encode_pair(tokenizer, "A longer question about the refund policy of unopened products?", "Fourteen days.", 128)]
    ids, labels, mask = collate(examples, tokenizer.pad_token_id)
    with torch.no_grad():
        assert torch.allclose(causal_lm_loss(model, ids, labels, mask), model(input_ids=ids, attention_mask=mask, labels=labels).loss,
                              atol=1e-5)


def test_planned_steps_follow_epochs_or_max_steps():
    assert planned_steps(105, TrainingConfig(batch_size=8, epochs=3)) == 42
    assert planned_steps(105, TrainingConfig(batch_size=8, grad_accum=2, epochs=1)) == 7
    assert planned_steps(105, TrainingConfig(max_steps=5)) == 5


def _bytes_kept_for_backward(peft_model, examples, pad_id) -> int:
    """What one training forward pass keeps in memory for the backward pass (the activations that
    gradient checkpointing exists to drop): every tensor autograd saves, counted as it is saved."""
    kept = 0

    def pack(t):
        nonlocal kept
        kept += t.numel() * t.element_size()
        return t

    peft_model.train()
    ids, labels, mask = collate(examples, pad_id)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = causal_lm_loss(peft_model, ids, labels, mask)
    loss.backward()
    peft_model.zero_grad(set_to_none=True)
    peft_model.eval()
    return kept


def test_gradient_checkpointing_saves_memory_without_changing_the_training():
    from core.config import load_settings
    from core.finetune.recipe import train, wants_checkpointing
    from core.models.loader import load_base_model

    assert not wants_checkpointing(TrainingConfig())  # 8 x 256 tokens: not needed
    assert wants_checkpointing(TrainingConfig(max_seq_len=768))  # RAFT rows: 22.8 GB without it
    assert not wants_checkpointing(TrainingConfig(max_seq_len=768, gradient_checkpointing=False))

    runs, kept = [], []
    for checkpointing in (False, True):
        model, tokenizer, _ = load_base_model(load_settings())
        config = TrainingConfig(max_steps=2, batch_size=2, rank=4, dropout=0.0, gradient_checkpointing=checkpointing)
        examples = [encode_pair(tokenizer, "What is the secret?", "It is Zebra-42.", 64),
                    encode_pair(tokenizer, "Where is the vault?", "Under the old mill.", 64)]
        torch.manual_seed(0)
        peft_model = add_lora(model, config)
        result = train(peft_model, examples, [], config, tokenizer.pad_token_id)
        assert peft_model.is_activation_checkpointing == checkpointing
        runs.append([h.train_loss for h in result.history])
        kept.append(_bytes_kept_for_backward(peft_model, examples, tokenizer.pad_token_id))
    assert runs[0] == pytest.approx(runs[1], abs=1e-5) and runs[0][1] != runs[0][0]  # it trained, the same way
    # the memory: activations kept for the backward pass, 30 layers' worth vs. each layer's input only
    assert kept[1] < kept[0] / 3, kept
