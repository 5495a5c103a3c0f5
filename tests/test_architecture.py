"""The layering the house style promises, written down once in .importlinter: pages -> ui -> core,
core never sees streamlit, pages never import the heavy libraries, core's floors import only
downwards, and no package has an import circle."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_import_contract_holds():
    # The command line itself (a fresh process, no cache), so the report is the one `lint-imports` prints.
    run = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
                          "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_no_module_in_core_answers_for_names_it_does_not_define():
    # A module-level __getattr__ (PEP 562) lets `module.name` reach a function defined elsewhere;
    # it hid a circle once (core.finetune.datasets -> dataset_gen). Import a name from where it lives.
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "core").rglob("*.py"))
                 if any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ("__getattr__", "__dir__")
                        for node in ast.parse(p.read_text(encoding="utf-8")).body)]
    assert offenders == []


def test_app_is_only_a_router():
    source = (ROOT / "app.py").read_text()
    assert "st.navigation" in source
    assert imported_modules(ROOT / "app.py") == {"streamlit"}


def test_no_thread_in_the_app_does_model_download_or_polling_work():
    """Background work has one home, the job runner (core.jobs): the demo evaluation is a job step
    and a hub download a job kind, not threads of the app. The one thread left pumps the sandboxed
    parser's stdout into a queue so a read can time out; it does no work of its own. (A thread pool
    scoped to one call, joined before it returns, like the upload's read-ahead in
    core/knowledge/uploads.py, is not background work.)"""
    found = {}
    for path in [ROOT / "app.py", *sorted(p for d in ("core", "ui", "pages") for p in (ROOT / d).rglob("*.py"))]:
        source = path.read_text(encoding="utf-8")
        if calls := re.findall(r"\b(?:threading\.)?(?:Thread|Timer)\(", source):
            found[str(path.relative_to(ROOT))] = len(calls)
    assert found == {"core/knowledge/sandbox.py": 1}
