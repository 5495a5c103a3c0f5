"""Hugging Face hub models: found in the local cache, or downloaded when the user asks.

The app process stays offline (``HF_HUB_OFFLINE=1``, set by ``load_settings``): loading a hub id
reads the local Hugging Face cache and never downloads. Going online happens only in a child
process started for one model the user picked: the size probe (``python -m core.models.hub
--size-only``, shown before anything downloads) and the download itself, a job of kind "download"
run by the job runner like training or an evaluation (``core.models.hub_worker``: its worker is
the only one started online). It downloads into the ordinary Hugging Face cache with
``huggingface_hub.snapshot_download``; its record carries the progress in bytes, the cancel flag
and the outcome's one sentence, which the Models page shows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from core.config import REPO_ROOT, Settings
from core.errors import ModelError
from core.jobs import supervisor
from core.jobs.store import ACTIVE, Job, JobStore

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
# What a transformers model needs, in its safetensors form: not the duplicate weights some repos
# also carry (PyTorch .bin, ONNX, OpenVINO, GGUF), which would double or triple the download.
ALLOW = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "tokenizer*"]
IGNORE = ["onnx/*", "openvino/*", "runs/*", "*.gguf", "*.bin", "*.pth", "*.pt", "*.msgpack", "*.h5"]
PROBE_TIMEOUT_S = 60
KIND = "download"  # the job kind (core.jobs.kinds)


def is_hub_id(name: str) -> bool:
    return bool(_HUB_ID.match(name or "")) and ".." not in name and not Path(name).expanduser().exists()


def hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _repo_folder(repo_id: str, cache_dir: Path | None = None) -> Path:
    return (cache_dir or hub_cache()) / ("models--" + repo_id.replace("/", "--"))


def cached_snapshot(repo_id: str, cache_dir: Path | None = None) -> Path | None:
    """The cached snapshot folder of ``repo_id`` (its main revision), or None when its config is not cached."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", cache_dir=str(cache_dir) if cache_dir else None)
    return Path(found).parent if isinstance(found, str) else None


def not_cached_message(repo_id: str, why: str | None = None) -> str:
    """The one sentence shown when a hub model is not in the local cache and cannot be downloaded."""
    why = why or "This app is offline (HF_HUB_OFFLINE=1 or models.hub_downloads = false)"
    return (f"{why} and {repo_id} is not in the local Hugging Face cache ({hub_cache()}): on a machine with network, "
            f"run `hf download {repo_id}` and copy its folder {_repo_folder(repo_id).name} into that cache, "
            "or pick a local folder or .gguf file instead.")


class HubSize(BaseModel):
    repo_id: str
    files: int
    total_bytes: int
    to_download_bytes: int  # what is not in the cache yet


class DownloadState(BaseModel):
    """A hub download as the Models page shows it, read from its job record."""

    repo_id: str
    status: Literal["downloading", "done", "failed", "cancelled"]  # downloading: queued or running
    total_bytes: int = 0
    done_bytes: int = 0  # in the cache, measured by the download as it goes
    message: str = ""
    job_id: str = ""
    cancelling: bool = False  # a cancel was asked and the job has not stopped yet

    @property
    def fraction(self) -> float:
        return min(1.0, self.done_bytes / self.total_bytes) if self.total_bytes else 0.0


def _child_env() -> dict:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0", HF_HUB_DISABLE_PROGRESS_BARS="1")
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cached_bytes(repo_id: str, cache_dir: Path | None = None) -> int:
    """Bytes of ``repo_id`` in the cache, the files still downloading included."""
    blobs = _repo_folder(repo_id, cache_dir) / "blobs"
    return sum(f.stat().st_size for f in blobs.iterdir() if f.is_file()) if blobs.is_dir() else 0


class HubDownloads:
    """Size probes (a child process, answered at once) and downloads (jobs of kind "download" in
    the job store, run by the job runner) of hub models."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.jobs = JobStore(settings.data_dir)

    def _check(self, repo_id: str) -> str:
        repo_id = (repo_id or "").strip()
        if not _HUB_ID.match(repo_id):
            raise ModelError(f"'{repo_id}' is not a hub id: it is written owner/name, e.g. Qwen/Qwen2.5-0.5B-Instruct.")
        if not self.settings.models.downloads_allowed:
            raise ModelError(not_cached_message(repo_id))
        return repo_id

    def probe(self, repo_id: str) -> HubSize:
        """The files and bytes a download of ``repo_id`` would fetch, asked of the hub; nothing is downloaded."""
        repo_id = self._check(repo_id)
        try:
            done = subprocess.run([sys.executable, "-m", "core.models.hub", "--repo", repo_id, "--size-only"],
                                  cwd=REPO_ROOT, env=_child_env(), capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ModelError(not_cached_message(repo_id, f"The hub did not answer within {PROBE_TIMEOUT_S} s")) from None
        try:
            answer = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise ModelError(f"Asking the hub about {repo_id} failed: {done.stderr.strip()[-300:]}") from None
        if "error" in answer:
            raise ModelError(answer["error"])
        return HubSize(**answer)

    def start(self, repo_id: str) -> Job:
        """Queue the download of ``repo_id`` for the job runner (once: a download under way is left
        to run). Files already in the cache are kept, so a download started again goes on."""
        repo_id = self._check(repo_id)
        current = self.job(repo_id)
        if current is not None and current.status in ACTIVE:
            return current
        job = self.jobs.submit(KIND, f"Download {repo_id}", {"repo_id": repo_id})
        supervisor.ensure_running(self.jobs)
        return job

    def cancel(self, job_id: str) -> None:
        self.jobs.request_cancel(job_id)

    def job(self, repo_id: str) -> Job | None:
        """The newest download job of ``repo_id``, if any."""
        return next((j for j in self.jobs.list(KIND) if j.config.get("repo_id") == repo_id), None)

    def state(self, repo_id: str) -> DownloadState | None:
        """The download of ``repo_id`` as its job record has it; None if none was ever queued. A read."""
        job = self.job(repo_id)
        if job is None:
            return None
        status = {"queued": "downloading", "running": "downloading", "done": "done",
                  "cancelled": "cancelled"}.get(job.status, "failed")
        message = (self.jobs.waiting_reason(job) or "") if job.status == "queued" else job.message
        done = job.total_steps if job.status == "done" else job.step
        return DownloadState(repo_id=repo_id, status=status, total_bytes=job.total_steps, done_bytes=done,
                             message=message, job_id=job.id, cancelling=job.cancel_requested and job.status in ACTIVE)


def explain(repo_id: str, exc: Exception) -> str:
    """One sentence for what went wrong talking to the hub."""
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    cause = exc.__cause__ or exc
    if isinstance(cause, GatedRepoError):
        return (f"{repo_id} is gated: accept its licence on huggingface.co, log in here with `hf auth login`, "
                "and start the download again.")
    if isinstance(cause, RepositoryNotFoundError):
        return f"There is no model {repo_id} on the hub (or it is private); check the spelling of owner/name."
    return not_cached_message(repo_id, f"The Hugging Face hub cannot be reached from here ({type(cause).__name__})")


def main() -> None:
    """The size probe's child process: prints the sizes (or the error sentence) as one JSON line."""
    from huggingface_hub import snapshot_download

    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--size-only", action="store_true")  # what it does anyway; kept for the command line's readers
    repo_id = parser.parse_args().repo
    try:
        files = snapshot_download(repo_id, allow_patterns=ALLOW, ignore_patterns=IGNORE, dry_run=True)
    except Exception as exc:  # every failure becomes one sentence for the page
        print(json.dumps({"error": explain(repo_id, exc)}))
        return
    size = HubSize(repo_id=repo_id, files=len(files), total_bytes=sum(f.file_size for f in files),
                   to_download_bytes=sum(f.file_size for f in files if f.will_download))
    print(size.model_dump_json())


if __name__ == "__main__":
    main()
