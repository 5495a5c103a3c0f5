"""Hub downloads as jobs of kind "download": queued in the job store, progress in bytes on the record,
cancel, the outcome's one sentence, what the Models page reads. No network: the runner is given a
fake ``snapshot_download`` that writes into a temporary cache (as the real one does) and reports
its bytes through the progress bars it is handed. The real hub, unreachable, is in
tests/test_model_sources.py (a closed local port, through the real supervisor and worker)."""

import os
from dataclasses import dataclass

import pytest

from core.errors import ModelError
from core.jobs import supervisor
from core.jobs.kinds import KINDS, progress_text
from core.models import hub_worker
from core.models.hub import HubDownloads

REPO = "lab-test/tiny"
FILES = {"config.json": 1_000, "model.safetensors": 3_000_000}


@dataclass
class FileInfo:  # what snapshot_download(dry_run=True) returns, as far as the runner reads it
    filename: str
    file_size: int
    will_download: bool = True


def fake_hub(on_chunk=None, fail: Exception | None = None):
    """A ``snapshot_download`` that lists FILES, or writes them in 100 kB chunks into the cache's
    blobs (a half-written file keeps its .incomplete name, as huggingface_hub does)."""
    def fetch(repo_id, allow_patterns, ignore_patterns, cache_dir, dry_run=False, tqdm_class=None):
        if fail is not None:
            raise fail
        if dry_run:
            return [FileInfo(name, size) for name, size in FILES.items()]
        blobs = cache_dir / ("models--" + repo_id.replace("/", "--")) / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        bar = tqdm_class(total=sum(FILES.values()), unit="B")
        for name, size in FILES.items():
            part = blobs / f"{name}.incomplete"
            for offset in range(0, size, 100_000):
                with part.open("ab") as fh:
                    fh.write(b"x" * min(100_000, size - offset))
                if on_chunk:
                    on_chunk()
                bar.update(min(100_000, size - offset))
            part.rename(blobs / name)
        return str(cache_dir / "snapshot")
    return fetch


@pytest.fixture
def downloads(settings, monkeypatch):
    settings.models.hub_downloads = True
    monkeypatch.setattr("core.config.USER_HUB_OFFLINE", False)
    monkeypatch.setattr(supervisor, "ensure_running", lambda store: False)  # queued; this test runs it
    monkeypatch.setattr(hub_worker, "REPORT_EVERY_S", 0.0)  # every update is recorded
    return HubDownloads(settings)


def test_a_download_is_a_job_with_its_progress_in_bytes_and_ends_done(downloads, tmp_path):
    job = downloads.start(REPO)
    assert downloads.start(REPO).id == job.id  # a download under way is left to run
    assert job.kind == "download" and KINDS[job.kind].lane == "network"
    state = downloads.state(REPO)
    assert state.status == "downloading" and state.message == "waiting: starting the job runner"
    seen = []

    def on_chunk():
        seen.append(downloads.jobs.get(job.id).step)

    downloads.jobs.claim_next(pid=os.getpid(), lane="network")
    assert hub_worker.run(downloads.jobs, job.id, fetch=fake_hub(on_chunk), cache_dir=tmp_path / "hf") == 0
    done = downloads.jobs.get(job.id)
    assert done.status == "done" and done.message.startswith("Downloaded to")
    total = sum(FILES.values())
    assert done.total_steps == total and done.step == total
    assert seen == sorted(seen) and len(set(seen)) > 2 and max(seen) < total  # it grew as bytes arrived
    state = downloads.state(REPO)
    assert (state.status, state.fraction, state.done_bytes) == ("done", 1.0, total)
    assert progress_text(done) == "3.0 MB / 3.0 MB"


def test_cancel_stops_the_download_as_bytes_arrive_and_keeps_the_files(downloads, tmp_path):
    job = downloads.start(REPO)
    downloads.jobs.claim_next(pid=os.getpid(), lane="network")
    chunks = []

    def on_chunk():  # the Cancel button, clicked after the fifth chunk
        chunks.append(1)
        if len(chunks) == 5:
            downloads.cancel(job.id)

    assert hub_worker.run(downloads.jobs, job.id, fetch=fake_hub(on_chunk), cache_dir=tmp_path / "hf") == 0
    assert len(chunks) == 5  # no chunk after the one that saw the flag
    state = downloads.state(REPO)
    assert state.status == "cancelled" and "files already downloaded are kept" in state.message
    assert not state.cancelling
    assert list((tmp_path / "hf").rglob("*.incomplete"))  # what arrived stays for the next start
    assert downloads.start(REPO).id != job.id  # started again: a new job


def test_a_failed_download_is_one_sentence_and_a_killed_one_is_interrupted(downloads, tmp_path):
    job = downloads.start(REPO)
    downloads.jobs.claim_next(pid=os.getpid(), lane="network")
    fetch = fake_hub(fail=ConnectionError("no route"))
    assert hub_worker.run(downloads.jobs, job.id, fetch=fetch, cache_dir=tmp_path / "hf") == 1
    state = downloads.state(REPO)
    assert state.status == "failed" and "cannot be reached from here (ConnectionError)" in state.message

    again = downloads.start(REPO)
    downloads.jobs.update(again.id, status="running", pid=2**22 + 7)  # its worker is gone
    supervisor.reconcile(downloads.jobs)
    state = downloads.state(REPO)
    assert state.status == "failed" and state.message == KINDS["download"].interrupted_message
    assert "keeps the files already here" in state.message


def test_nothing_is_queued_when_downloads_are_off_or_the_id_is_not_a_hub_id(downloads):
    downloads.settings.models.hub_downloads = False
    with pytest.raises(ModelError, match="offline"):
        downloads.start(REPO)
    downloads.settings.models.hub_downloads = True
    with pytest.raises(ModelError, match="not a hub id"):
        downloads.start("not a hub id")
    assert downloads.jobs.list() == [] and downloads.state(REPO) is None
