"""A training job says what it is doing from its first second, and the loss chart gets held-out points
throughout the job, not only at its end."""

from core.finetune.datasets import DatasetStore, QAPair
from core.finetune.recipe import EVALUATIONS_PER_JOB, TrainingConfig, evaluation_interval
from core.finetune.run import FinetuneSpec, run_finetune
from tests.conftest import SECRET_ANSWER, SECRET_QUESTION


def test_about_five_evaluations_whatever_the_length():
    for total in (1, 2, 7, 10, 33, 500):
        evaluations = len([s for s in range(1, total + 1) if s % evaluation_interval(total) == 0 or s == total])
        if total <= EVALUATIONS_PER_JOB:
            assert evaluations == total  # a short job: every step
        else:
            assert EVALUATIONS_PER_JOB - 1 <= evaluations <= EVALUATIONS_PER_JOB + 1, total


def test_stages_come_before_the_first_step_and_held_out_loss_is_measured_during_the_job(settings, tmp_path):
    pairs = [QAPair(question=SECRET_QUESTION, answer=SECRET_ANSWER),
             QAPair(question="Which code word opens the vault?", answer="The code word Zebra-42 opens the vault.")]
    info = DatasetStore(settings.data_dir / "datasets").save("secret", pairs, pairs[:1])
    events: list = []
    spec = FinetuneSpec(adapter_name="progress", dataset_id=info.id, checkpoint_every=0,
                        training=TrainingConfig(max_steps=6, batch_size=2, rank=4, alpha=8, dropout=0.0))
    run_finetune(spec, settings, tmp_path / "job", on_step=lambda r: events.append(r), on_stage=events.append)
    stages = [e for e in events if isinstance(e, str)]
    assert stages[:2] == ["Loading the model", "Preparing the data"] and stages[2].startswith("Training")
    assert all(isinstance(e, str) for e in events[:3])  # every stage is said before the first step
    held_out = [r.step for r in events if not isinstance(r, str) and r.eval_loss is not None]
    assert held_out == [2, 4, 6]  # six steps: every second one, not only the last
