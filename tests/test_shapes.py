"""The model shapes bench/shapes.py measures (bench/shapes/), and how the Models page reads its figures."""

import json
from dataclasses import asdict

from core.config import REPO_ROOT
from core.models import catalog
from core.models.catalog import ShapeFigures, measured_shapes

SHAPES = REPO_ROOT / "bench" / "shapes"


def figures(repo_id: str = "Qwen/Qwen2.5-1.5B-Instruct", dtype: str = "bf16", **changes) -> ShapeFigures:
    values = dict(repo_id=repo_id, dtype=dtype, parameters=1_543_714_304, threads=2, memory_bytes=3_100_000_000,
                  rss_bytes=3_600_000_000, prompt_tok_s=384.0, loop_tok_s_1=4.8, loop_tok_s_4=17.7, engine_tok_s_1=4.2,
                  engine_tok_s_4=15.1, four_arms_s=13.7, peak_rss_bytes=4_200_000_000, lora_step_s=9.5,
                  train_peak_rss_bytes=5_000_000_000)
    return ShapeFigures(**{**values, **changes})


def write_run(path, rows: list[dict]) -> None:
    path.write_text(json.dumps({"machine": {"cpu": "Test CPU 9000", "cores": 2}, "date": "2026-12-07",
                                "settings": {"tokens": 48}, "results": rows}))


def test_every_suggested_model_has_its_published_shape_and_it_builds_to_the_listed_size():
    """Built on the meta device: no memory, no download; the parameter count pins every size that matters."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    shipped = sorted(f"{p.parent.parent.name}/{p.parent.name}" for p in SHAPES.glob("*/*/config.json"))
    assert shipped == sorted(s.repo_id for s in catalog.SUGGESTED)
    for s in catalog.SUGGESTED:
        config = AutoConfig.from_pretrained(SHAPES / s.repo_id)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
        assert (model.num_parameters(), config.num_hidden_layers, config.max_position_embeddings) == \
            (s.parameters, s.layers, s.context), s.repo_id


def test_measured_figures_are_read_with_the_machine_and_date_they_come_from(tmp_path):
    path = tmp_path / "measured.json"
    write_run(path, [asdict(figures()), asdict(figures(dtype="fp32", memory_bytes=6_200_000_000, lora_step_s=None))])
    measured = measured_shapes(path)
    assert measured.label == "measured on Test CPU 9000 (no bf16 instructions), 2026-12-07" and measured.cores == 2 and measured.tokens == 48
    assert measured.get("Qwen/Qwen2.5-1.5B-Instruct", "bf16") == figures()
    fp32 = measured.get("Qwen/Qwen2.5-1.5B-Instruct", "fp32")
    assert fp32.memory_bytes == 6_200_000_000 and fp32.lora_step_s is None  # a run with --no-train
    assert measured.get("Qwen/Qwen2.5-3B-Instruct", "bf16") is None


def test_the_page_reads_the_committed_run_made_on_a_cpu_like_this_one(tmp_path, monkeypatch):
    """One run per kind of machine is kept in bench/: the one whose bf16 instructions match this CPU's is shown (they
    change the figures several-fold), the newest where none matches; every committed run reads."""
    def run(name, date, bf16, memory):
        (tmp_path / name).write_text(json.dumps({
            "machine": {"cpu": "AMD EPYC", "cores": 2, "flags": {"avx512_bf16": bf16, "amx_bf16": False}},
            "date": date, "settings": {"tokens": 48}, "results": [asdict(figures(memory_bytes=memory))]}))

    monkeypatch.setattr(catalog, "MEASURED_FILE", tmp_path / "shapes_measured.json")
    run("shapes_measured.json", "2026-12-07", True, 3_000_000_000)
    run("shapes_measured_avx2.json", "2026-12-06", False, 3_100_000_000)
    with_bf16, without = measured_shapes(bf16_hardware=True), measured_shapes(bf16_hardware=False)
    assert (with_bf16.bf16_hardware, with_bf16.get("Qwen/Qwen2.5-1.5B-Instruct", "bf16").memory_bytes) == (True, 3_000_000_000)
    assert (without.bf16_hardware, without.get("Qwen/Qwen2.5-1.5B-Instruct", "bf16").memory_bytes) == (False, 3_100_000_000)
    assert without.label == "measured on AMD EPYC (no bf16 instructions), 2026-12-06"
    (tmp_path / "shapes_measured_avx2.json").unlink()
    assert measured_shapes(bf16_hardware=False).bf16_hardware is True  # none like it: the newest there is
    (tmp_path / "shapes_measured.json").unlink()
    assert measured_shapes(bf16_hardware=False) is None

    committed = sorted((REPO_ROOT / "bench").glob(catalog.MEASURED_FILES))
    assert committed and all(measured_shapes(p) is not None for p in committed), committed


def test_no_file_a_damaged_file_or_rows_of_another_version_read_as_no_measurements(tmp_path):
    assert measured_shapes(tmp_path / "absent.json") is None
    (tmp_path / "damaged.json").write_text('{"results": [')
    assert measured_shapes(tmp_path / "damaged.json") is None
    row = asdict(figures())
    del row["four_arms_s"]
    write_run(tmp_path / "old.json", [row, {**asdict(figures(dtype="fp32")), "memory_bytes": "a lot"}])
    assert measured_shapes(tmp_path / "old.json") is None


def test_a_run_of_a_few_shapes_keeps_the_other_figures_of_an_earlier_run_on_the_same_machine(tmp_path, monkeypatch):
    """bench/shapes.py adds to its file: the pairs it measures again are replaced, the others kept with their
    date; a file from another machine or other settings (or a damaged one) is not mixed in."""
    import importlib

    monkeypatch.syspath_prepend(str(REPO_ROOT / "bench"))
    shapes = importlib.import_module("shapes")
    machine, settings = {"cpu": "Test CPU 9000", "cores": 2}, {"tokens": 48, "repeats": 2}
    rows = [asdict(figures("A/one", "fp32")), asdict(figures("A/one", "int8")), asdict(figures("B/two", "fp32"))]
    path = tmp_path / "shapes_measured.json"
    path.write_text(json.dumps({"machine": machine, "date": "2026-12-01", "settings": settings, "results": rows}))
    now = {"machine": machine, "settings": settings}

    kept = shapes.earlier(path, now, {("A/one", "int8")})
    assert [(r["repo_id"], r["dtype"], r["measured"]) for r in kept] == [("A/one", "fp32", "2026-12-01"),
                                                                         ("B/two", "fp32", "2026-12-01")]
    assert shapes.earlier(path, {"machine": {**machine, "cpu": "Another CPU"}, "settings": settings}, set()) == []
    assert shapes.earlier(path, {"machine": machine, "settings": {**settings, "tokens": 96}}, set()) == []
    avx512 = {"machine": {**machine, "flags": {"avx512_bf16": True}}, "settings": settings}  # same name, other instructions
    assert shapes.earlier(path, avx512, set()) == []
    assert shapes.earlier(tmp_path / "none.json", now, set()) == []
    path.write_text("{not json")
    assert shapes.earlier(path, now, set()) == []
