"""A vector store that cannot be opened gets one sentence (which folder, what to do) before any
model loads: a second process on the same data folder, and a damaged shard."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from core.errors import StoreUnavailable
from core.knowledge import service as service_module
from core.knowledge.service import KnowledgeService


@pytest.fixture
def no_model(monkeypatch):
    def refuse(settings):
        raise AssertionError("the embedding model was loaded before the store was checked")

    monkeypatch.setattr(service_module, "load_embedder", refuse)


def test_a_second_opener_is_told_which_folder_is_in_use_before_the_model_loads(service, settings, no_model):
    service.open()
    second = KnowledgeService(settings)  # constructing opens nothing, so it cannot fail yet
    assert not second.is_open
    with pytest.raises(StoreUnavailable) as err:
        second.open()
    message = str(err.value)
    assert str(settings.data_dir) in message and "another process" in message and "\n" not in message


def test_the_store_opens_again_once_the_first_process_closed_it(service, settings, embedder):
    service.close()
    again = KnowledgeService(settings, embedder=embedder).open()
    assert again.is_open
    again.close()


def test_a_damaged_shard_names_its_folder_and_what_to_do(service, kb, settings, embedder, no_model):
    service.ingest_files(kb, [("a.md", b"Kettles boil water in three minutes.")])
    shard = settings.kb_dir / service.get_kb(kb).collection / "shard"
    service.close()
    (shard / "edge_config.json").write_text("not json")
    with pytest.raises(StoreUnavailable) as err:
        KnowledgeService(settings).recover()  # as the app opens it
    message = str(err.value)
    assert str(shard) in message and "move that folder away" in message


def test_the_headless_evaluation_prints_its_error_line_while_the_app_holds_the_store(service, settings):
    env = {**os.environ, "LAB_DATA_DIR": str(settings.data_dir), "LAB_DEMO_SEED": "false"}
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "core.eval", "--limit", "1"], capture_output=True, text=True,
                         env=env, timeout=300, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 2, out.stderr[-2000:]
    [line] = [l for l in out.stderr.splitlines() if l.strip()]
    assert line.startswith("error: ") and str(settings.data_dir) in line
    assert "Traceback" not in out.stderr
    print(f"error line after {time.monotonic() - started:.1f} s")
