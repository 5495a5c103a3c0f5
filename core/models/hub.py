"""Hugging Face hub models: found in the local cache, or downloaded when the user asks.

The app process stays offline (``HF_HUB_OFFLINE=1``, set by ``load_settings``): loading a hub id
reads the local Hugging Face cache and never downloads. Going online is this module's job alone,
and only in a child process started for one model the user picked (``python -m core.models.hub``):
it asks the hub for the files' sizes (shown before anything downloads), then downloads them into
the ordinary Hugging Face cache with ``huggingface_hub.snapshot_download``. The page follows the
download by the bytes that have reached the cache folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from core.config import REPO_ROOT, Settings
from core.errors import ModelError

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
# What a transformers model needs, in its safetensors form: not the duplicate weights some repos
# also carry (PyTorch .bin, ONNX, OpenVINO, GGUF), which would double or triple the download.
ALLOW = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "tokenizer*"]
IGNORE = ["onnx/*", "openvino/*", "runs/*", "*.gguf", "*.bin", "*.pth", "*.pt", "*.msgpack", "*.h5"]
PROBE_TIMEOUT_S = 60


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
    repo_id: str
    status: Literal["downloading", "done", "failed"]
    total_bytes: int = 0
    done_bytes: int = 0  # measured from the cache folder when read
    message: str = ""
    pid: int = 0
    started: float = 0.0

    @property
    def fraction(self) -> float:
        return min(1.0, self.done_bytes / self.total_bytes) if self.total_bytes else 0.0


def _child_env() -> dict:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0", HF_HUB_DISABLE_PROGRESS_BARS="1")
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError, ValueError):
        return False
    return pid > 0


class HubDownloads:
    """Size probes and downloads of hub models, each in a child process; the state of each
    download is a JSON file under ``data_dir/downloads`` that the child writes."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.folder = settings.data_dir / "downloads"
        self._children: dict[str, subprocess.Popen] = {}

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

    def start(self, repo_id: str) -> DownloadState:
        """Start downloading ``repo_id`` (once: a download under way is left to run)."""
        repo_id = self._check(repo_id)
        current = self.state(repo_id)
        if current is not None and current.status == "downloading":
            return current
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._state_path(repo_id)
        total = current.total_bytes if current else 0
        state = DownloadState(repo_id=repo_id, status="downloading", total_bytes=total, started=time.time())
        _write(path, state)
        log = open(self.folder / "downloads.log", "ab")
        child = subprocess.Popen([sys.executable, "-m", "core.models.hub", "--repo", repo_id, "--state", str(path)],
                                 cwd=REPO_ROOT, env=_child_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True)
        self._children[repo_id] = child
        state.pid = child.pid
        _write(path, state)
        return state

    def state(self, repo_id: str) -> DownloadState | None:
        """The download of ``repo_id`` as it stands, with the bytes already in the cache; None if never started."""
        path = self._state_path(repo_id)
        try:
            state = DownloadState.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        child = self._children.get(repo_id)
        running = child.poll() is None if child is not None else _alive(state.pid)
        if state.status == "downloading" and not running:
            state = DownloadState.model_validate_json(path.read_text(encoding="utf-8"))  # it may have just finished
            if state.status == "downloading":
                state.status, state.message = "failed", "The download process stopped; start it again to resume."
        blobs = _repo_folder(repo_id) / "blobs"
        state.done_bytes = sum(f.stat().st_size for f in blobs.iterdir() if f.is_file()) if blobs.is_dir() else 0
        if state.status == "done":
            state.done_bytes = max(state.done_bytes, state.total_bytes)
        return state

    def _state_path(self, repo_id: str) -> Path:
        return self.folder / (repo_id.replace("/", "--") + ".json")


def _write(path: Path, state: DownloadState) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.model_dump_json(), encoding="utf-8")
    tmp.replace(path)


def _explain(repo_id: str, exc: Exception) -> str:
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
    """The child process: ``--size-only`` prints the sizes as one JSON line; otherwise download and
    record the outcome in the ``--state`` file."""
    from huggingface_hub import snapshot_download

    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--state")
    parser.add_argument("--size-only", action="store_true")
    args = parser.parse_args()
    repo_id = args.repo
    try:
        files = snapshot_download(repo_id, allow_patterns=ALLOW, ignore_patterns=IGNORE, dry_run=True)
    except Exception as exc:  # every failure becomes one sentence for the page
        message = _explain(repo_id, exc)
        if args.size_only:
            print(json.dumps({"error": message}))
        else:
            _write(Path(args.state), DownloadState(repo_id=repo_id, status="failed", message=message))
        return
    size = HubSize(repo_id=repo_id, files=len(files), total_bytes=sum(f.file_size for f in files),
                   to_download_bytes=sum(f.file_size for f in files if f.will_download))
    if args.size_only:
        print(size.model_dump_json())
        return
    state_path = Path(args.state)
    state = DownloadState(repo_id=repo_id, status="downloading", total_bytes=size.total_bytes, pid=os.getpid(),
                          started=time.time())
    _write(state_path, state)
    try:
        folder = snapshot_download(repo_id, allow_patterns=ALLOW, ignore_patterns=IGNORE)
    except Exception as exc:  # noqa: BLE001 - recorded for the page; a second start resumes the partial files
        state.status, state.message = "failed", _explain(repo_id, exc)
    else:
        state.status, state.message = "done", f"Downloaded to {folder}."
    _write(state_path, state)


if __name__ == "__main__":
    main()
