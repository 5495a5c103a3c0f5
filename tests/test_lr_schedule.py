"""The learning-rate schedule: transformers' warm-up / stable / cosine schedule gives the curve the
recipe wrote by hand before (kept below, frozen), and a resumed run lands on the same rate."""

import json
import math

import pytest
import torch

from core.demo_adapter import RECIPE
from core.finetune.recipe import TrainingConfig, lr_schedule, planned_steps
from core.seed import demo_pairs


def old_lr_at(step: int, config: TrainingConfig, total: int) -> float:
    """The recipe's hand-written schedule until December 2026, as it was (``recipe.train``'s ``lr_at``)."""
    warmup = max(1, int(total * config.warmup_ratio))
    if step < warmup:
        return config.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def rates(config: TrainingConfig, total: int, start_step: int = 0, optimizer_state: dict | None = None) -> list[float]:
    """The rate each optimizer step from ``start_step`` on uses, stepped as ``recipe.train`` steps it."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.learning_rate)
    if optimizer_state:
        optimizer.load_state_dict(optimizer_state)
    schedule = lr_schedule(optimizer, config, total, start_step)
    seen = []
    for _ in range(start_step, total):
        assert optimizer.param_groups[0]["lr"] == schedule.get_last_lr()[0]
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return seen


def test_the_demo_recipe_gets_the_old_curve_value_for_value():
    total = planned_steps(len(demo_pairs("train")), RECIPE)
    assert total == 42  # 105 pairs, batches of 8, 3 epochs; warm-up int(42 * 0.05) = 2 steps
    old = [old_lr_at(step, RECIPE, total) for step in range(total)]
    assert rates(RECIPE, total) == old  # exactly: the demo adapter's weights do not move
    assert old[:3] == [RECIPE.learning_rate / 2, RECIPE.learning_rate, RECIPE.learning_rate]  # the peak is held 2 steps
    assert old[-1] < RECIPE.learning_rate / 100


@pytest.mark.parametrize("total", [1, 2, 3, 7, 100, 1000])
@pytest.mark.parametrize("warmup_ratio", [0, 0.05, 0.3, 0.9])
@pytest.mark.parametrize("learning_rate", [1e-3, 3e-4])
def test_other_recipes_get_the_old_curve_to_the_last_bit(total, warmup_ratio, learning_rate):
    # The cosine part is bit for bit the same; in the warm-up transformers scales the peak by (s+1)/W where the
    # old code divided lr*(s+1) by W, which can round the other way in the last bit when W is not a power of 2.
    config = TrainingConfig(learning_rate=learning_rate, warmup_ratio=warmup_ratio)
    old = [old_lr_at(step, config, total) for step in range(total)]
    assert rates(config, total) == pytest.approx(old, rel=1e-15, abs=0)


@pytest.mark.parametrize("start_step", [1, 2, 3, 20, 41])
def test_a_resumed_schedule_lands_on_the_uninterrupted_rate(start_step):
    total = 42
    uninterrupted = rates(RECIPE, total)
    # a checkpoint's optimizer state, as core.finetune.checkpoints stores it (param groups through JSON),
    # holds the learning rate its last step used: the schedule must not take that for the peak
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=RECIPE.learning_rate)
    schedule = lr_schedule(optimizer, RECIPE, total)
    for _ in range(start_step):
        optimizer.step()
        schedule.step()
    saved = optimizer.state_dict()
    saved["param_groups"] = json.loads(json.dumps(saved["param_groups"]))
    assert rates(RECIPE, total, start_step, saved) == uninterrupted[start_step:]
    # checkpoints written before the schedule came from transformers have no "initial_lr" and the last rate as "lr"
    older = {"state": saved["state"], "param_groups": [
        {k: v for k, v in g.items() if k != "initial_lr"} | {"lr": uninterrupted[start_step - 1]} for g in saved["param_groups"]]}
    assert rates(RECIPE, total, start_step, older) == uninterrupted[start_step:]


def _tiny_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64))


def test_training_resumed_from_a_checkpoint_uses_the_rates_and_reaches_the_weights_of_an_uninterrupted_run():
    import copy

    from core.finetune.recipe import Example, train

    examples = [Example(list(range(1 + i, 9 + i)), list(range(1 + i, 9 + i))) for i in range(6)]
    config = TrainingConfig(max_steps=8, batch_size=2, warmup_ratio=0.3, learning_rate=1e-2)  # 2 warm-up steps
    saved = {}

    def keep(step, optimizer):
        saved[step] = copy.deepcopy(optimizer.state_dict()), copy.deepcopy(model.state_dict())

    model = _tiny_model()
    whole = train(model, examples, [], config, pad_id=0, checkpoint_every=1, on_checkpoint=keep)
    assert [r.learning_rate for r in whole.history] == [old_lr_at(s, config, 8) for s in range(8)]
    final = copy.deepcopy(model.state_dict())
    for start in (1, 3):  # inside the warm-up, and in the cosine part
        optimizer_state, weights = saved[start]
        model = _tiny_model()
        model.load_state_dict(weights)
        resumed = train(model, examples, [], config, pad_id=0, start_step=start, optimizer_state=optimizer_state)
        assert [r.learning_rate for r in resumed.history] == [r.learning_rate for r in whole.history[start:]]
        assert resumed.final_train_loss == pytest.approx(whole.final_train_loss, rel=1e-5)
        assert all(torch.allclose(v, final[k], rtol=1e-5, atol=1e-7) for k, v in model.state_dict().items())
