"""One job, in its own process: ``python -m core.jobs.worker --data-dir D --job ID``.

The supervisor starts it and watches its exit; this process writes progress, metrics and the
final status itself. Cancellation is a flag in the job record, checked at every step. What runs
depends on the job's kind (``core.jobs.kinds`` names the function; training is
``core.finetune.worker.run``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path

from core.config import Settings, load_settings
from core.jobs.kinds import KINDS
from core.jobs.store import JobStore

SETTINGS_FILE = "settings.json"


def write_settings(settings: Settings, job_dir: Path) -> None:
    """The settings a queued job runs with, in its folder (the Qdrant API key stays in the environment)."""
    data = settings.model_dump(mode="json", exclude={"qdrant": {"api_key": True}, "knowledge_dir": True})
    (job_dir / SETTINGS_FILE).write_text(json.dumps(data, indent=1), encoding="utf-8")


def read_settings(job_dir: Path) -> Settings:
    return load_settings(**json.loads((job_dir / SETTINGS_FILE).read_text(encoding="utf-8")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--job", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    store = JobStore(Path(args.data_dir))
    module, function = KINDS[store.get(args.job).kind].run.split(":")
    sys.exit(getattr(importlib.import_module(module), function)(store, args.job))


if __name__ == "__main__":
    main()
