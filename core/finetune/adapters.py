"""Trained LoRA adapters on disk, each in its own folder with its lineage.

Layout: ``<data>/adapters/<id>/`` holds PEFT's ``adapter_model.safetensors`` and
``adapter_config.json`` (never pickles) and our ``lineage.json``: where the adapter came from
(base model and its fingerprint, dataset, knowledge-base version, training settings, losses).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from pathlib import Path

from pydantic import BaseModel, Field

from core.db import now
from core.errors import LabError

WEIGHTS_FILE = "adapter_model.safetensors"
LINEAGE_FILE = "lineage.json"


class AdapterError(LabError):
    """An adapter that cannot be found, loaded or saved."""


class Lineage(BaseModel):
    name: str
    base_model: str = Field(description="The configured LLM id the adapter was trained on.")
    base_fingerprint: str = Field(description="Hash of that model's weights (core.models.loader.model_fingerprint).")
    base_dtype: str = Field("fp32", description="The precision the base weights were in during training: fp32, bf16 "
                                                "or int8 (adapters from before it was recorded: fp32, the only one then).")
    dataset_name: str | None = None
    dataset_hash: str | None = None
    kb_name: str | None = None
    kb_version: str | None = None
    training: dict = Field(default_factory=dict, description="The training settings used.")
    final_train_loss: float | None = None
    final_eval_loss: float | None = None
    training_seconds: float | None = None
    job_id: str | None = None
    created_at: str = Field(default_factory=now)


class AdapterInfo(BaseModel):
    id: str
    path: Path
    fingerprint: str = Field(description="Hash of the adapter's weights file.")
    size_bytes: int
    lineage: Lineage

    @property
    def name(self) -> str:
        return self.lineage.name


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _slug(name: str) -> str:
    return (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "adapter")[:40]


class AdapterRegistry:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def list(self) -> list[AdapterInfo]:
        """All complete adapters, newest first (a folder without weights or lineage is skipped)."""
        infos = []
        for folder in self.root.iterdir():
            info = self._read(folder)
            if info is not None:
                infos.append(info)
        return sorted(infos, key=lambda a: a.lineage.created_at, reverse=True)

    def _read(self, folder: Path) -> AdapterInfo | None:
        weights, lineage = folder / WEIGHTS_FILE, folder / LINEAGE_FILE
        if folder.name.startswith(".") or not weights.is_file() or not lineage.is_file():
            return None
        try:
            data = Lineage.model_validate_json(lineage.read_text(encoding="utf-8"))
        except ValueError:
            return None
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        return AdapterInfo(id=folder.name, path=folder, fingerprint=_file_hash(weights), size_bytes=size, lineage=data)

    def get(self, adapter_id: str) -> AdapterInfo:
        info = self._read(self.root / adapter_id) if re.fullmatch(r"[a-z0-9-]+", adapter_id or "") else None
        if info is None:
            raise AdapterError(f"There is no adapter '{adapter_id}'.")
        return info

    def by_name(self, name: str) -> AdapterInfo:
        for info in self.list():
            if info.name == name or info.id == name:
                return info
        raise AdapterError(f"There is no adapter named '{name}'.")

    def save(self, peft_model, lineage: Lineage) -> AdapterInfo:
        """Write a PEFT model's active adapter (safetensors) and its lineage; the folder appears
        complete or not at all."""
        adapter_id = f"{_slug(lineage.name)}-{uuid.uuid4().hex[:6]}"
        staging = self.root / f".{adapter_id}.partial"
        peft_model.save_pretrained(str(staging), safe_serialization=True)
        # PEFT writes into a subfolder when the adapter is not called "default".
        if not (staging / WEIGHTS_FILE).is_file():
            nested = [p for p in staging.rglob(WEIGHTS_FILE)]
            if not nested:
                raise AdapterError("The adapter weights were not written.")
            for f in nested[0].parent.iterdir():
                shutil.move(str(f), staging / f.name)
        (staging / LINEAGE_FILE).write_text(lineage.model_dump_json(indent=2), encoding="utf-8")
        staging.rename(self.root / adapter_id)
        return self.get(adapter_id)

    def rename(self, adapter_id: str, new_name: str) -> AdapterInfo:
        new_name = (new_name or "").strip()
        if not new_name or len(new_name) > 80:
            raise AdapterError("An adapter name needs 1 to 80 characters.")
        info = self.get(adapter_id)
        lineage = info.lineage.model_copy(update={"name": new_name})
        (info.path / LINEAGE_FILE).write_text(lineage.model_dump_json(indent=2), encoding="utf-8")
        return self.get(adapter_id)

    def delete(self, adapter_id: str) -> None:
        shutil.rmtree(self.get(adapter_id).path)


def changed_since_training(knowledge, lineage: Lineage) -> list[str] | None:
    """Why an adapter is stale: the documents of its knowledge base changed since its dataset
    was built (an empty list when only settings changed, or the old version is not on record).
    None when it is up to date, or not tied to a knowledge-base version that still exists."""
    if not lineage.kb_name or not lineage.kb_version:
        return None
    try:
        if knowledge.version(lineage.kb_name) == lineage.kb_version:
            return None
    except LabError:  # the knowledge base is gone
        return None
    try:
        return knowledge.changes_since(lineage.kb_name, lineage.kb_version)
    except LabError:  # a version this catalog never recorded (e.g. an imported adapter)
        return []


def lineage_json(info: AdapterInfo) -> str:
    return json.dumps(info.lineage.model_dump(), indent=2)
