"""Copies of the bundled model in the forms a user brings: a Hugging Face folder, a hub cache entry,
and a folder of *other* base weights (one norm scaled), on which the bundled model's adapters do not fit."""

from __future__ import annotations

import shutil
from pathlib import Path

PERTURBED = "model.layers.0.input_layernorm.weight"  # among the tensors model_fingerprint reads


def save_folder(base_model, folder: Path, other_weights: bool = False) -> Path:
    from safetensors.torch import load_file, save_file

    from core.models.loader import save_as_folder

    model, tokenizer, _ = base_model
    save_as_folder(model, tokenizer, folder)
    if other_weights:
        weights = load_file(str(folder / "model.safetensors"))
        weights[PERTURBED] = weights[PERTURBED] * 1.05
        save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def fill_hub_cache(hub_cache: Path, repo_id: str, folder: Path, commit: str = "0123456789abcdef0123456789abcdef01234567") -> Path:
    """The layout huggingface_hub writes: blobs, a snapshot of links to them, and refs/main."""
    repo = hub_cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for i, f in enumerate(sorted(folder.iterdir())):
        blob = repo / "blobs" / f"blob{i:02d}"
        shutil.copyfile(f, blob)
        (snapshot / f.name).symlink_to(Path("..") / ".." / "blobs" / blob.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot
