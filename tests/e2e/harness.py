"""One way to run the app and a browser for the end-to-end tests: `streamlit run app.py` on a free
local port over its own data folder, and Debian's Chromium driven by Playwright (never a
downloaded browser). Screenshots and server logs go to test-artifacts/e2e/."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.config import REPO_ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
LONG = 240_000  # ms: the model's first load and a CPU training job are slow on a busy 2-core machine


def require_chromium() -> None:
    """Skip the calling test module without Chromium; with CI set, fail instead."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: install it with 'apt-get install -y chromium' (.ci/run does).", pytrace=False)
        pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_jobs(data: Path) -> None:
    """A training job's supervisor is detached from the app: stop it (and its worker) by recorded PID."""
    from core.jobs.store import JobStore
    from core.jobs.supervisor import stop_recorded

    if (Path(data) / "jobs.db").is_file():
        stop_recorded(JobStore(data))


@contextmanager
def running_app(data: Path, log_name: str, **env):
    """The app serving ``data`` (extra settings as environment variables); yields its URL."""
    port = free_port()
    full_env = {**os.environ, "LAB_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **env}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / log_name, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                 "--server.port", str(port), "--server.address", "127.0.0.1"],
                                cwd=REPO_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                    break
                except OSError:
                    time.sleep(1)
            else:
                pytest.fail(f"streamlit did not start; see test-artifacts/e2e/{log_name}")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            stop_jobs(data)


@contextmanager
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(LONG)
        try:
            yield page
        finally:
            browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
