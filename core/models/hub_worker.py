"""A hub download in a job worker process (``core.jobs.kinds``: the "download" kind).

The supervisor starts this worker online (``Kind.online``), the only one that is. It asks the hub
for the files and their sizes, then downloads them with ``huggingface_hub.snapshot_download``
into the ordinary Hugging Face cache. ``snapshot_download`` blocks, so progress and the cancel flag
ride on the progress bars it updates as bytes arrive (its public ``tqdm_class``): at most once a
second the bytes in the cache are written to the record, and a cancel asked meanwhile stops the
download from inside (the supervisor's SIGTERM after ``cancel_grace_s`` is the fallback). Files
already in the cache are kept: a download started again goes on where this one stopped.
"""

from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from core.jobs.store import JobStore
from core.models.hub import ALLOW, IGNORE, cached_bytes, explain

REPORT_EVERY_S = 1.0
CANCELLED = "Cancelled by the user. The files already downloaded are kept: downloading again goes on from there."


class Cancelled(Exception):
    """Raised from a progress update once a cancel was asked: it unwinds ``snapshot_download``."""


def _progress_bars(report: Callable[[], None]) -> type:
    """A tqdm class (huggingface_hub's own, so its switches still silence it) that calls ``report``
    on every update, from whichever of the download's threads updates it."""
    from huggingface_hub.utils import tqdm

    class Progress(tqdm):
        def update(self, n=1):
            report()
            return super().update(n)

    return Progress


def run(store: JobStore, job_id: str, fetch: Callable | None = None, cache_dir: Path | None = None) -> int:
    """Download the claimed job's model and record how it ended; 0 if it finished or was cancelled.
    ``fetch`` is ``snapshot_download`` (tests give their own), ``cache_dir`` the cache it fills."""
    if fetch is None:
        from huggingface_hub import snapshot_download as fetch
    repo_id = store.get(job_id).config["repo_id"]
    store.update(job_id, message=f"Asking the hub about {repo_id}…")
    try:
        files = fetch(repo_id, allow_patterns=ALLOW, ignore_patterns=IGNORE, cache_dir=cache_dir, dry_run=True)
    except Exception as exc:  # noqa: BLE001  (every failure is one sentence on the record)
        store.log(job_id, "".join(traceback.format_exception(exc)))
        store.finish(job_id, "failed", explain(repo_id, exc))
        return 1
    total = sum(f.file_size for f in files)
    started, last, lock = time.monotonic(), [0.0], threading.Lock()

    def report() -> None:
        with lock:  # several download threads report; one writes at a time, at most once a second
            if time.monotonic() - last[0] < REPORT_EVERY_S:
                return
            last[0] = time.monotonic()
            if store.get(job_id).cancel_requested:
                raise Cancelled
            store.update(job_id, step=min(cached_bytes(repo_id, cache_dir), total), elapsed_s=time.monotonic() - started)

    store.update(job_id, step=min(cached_bytes(repo_id, cache_dir), total), total_steps=total, message="")
    store.log(job_id, f"started: {repo_id}, {len(files)} files, {total} bytes")
    try:
        folder = fetch(repo_id, allow_patterns=ALLOW, ignore_patterns=IGNORE, cache_dir=cache_dir,
                       tqdm_class=_progress_bars(report))
    except Exception as exc:  # noqa: BLE001  (recorded for the page; a second start resumes the partial files)
        if isinstance(exc, Cancelled) or store.get(job_id).cancel_requested:  # however the library wrapped it
            store.finish(job_id, "cancelled", CANCELLED)
            return 0
        store.log(job_id, "".join(traceback.format_exception(exc)))
        store.finish(job_id, "failed", explain(repo_id, exc))
        return 1
    store.update(job_id, step=total, elapsed_s=time.monotonic() - started)
    store.log(job_id, f"done: {folder}")
    store.finish(job_id, "done", f"Downloaded to {folder}.", {"folder": str(folder)})
    return 0
