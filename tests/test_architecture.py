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


# Reads of another object's or module's underscore names that the lab relies on knowingly: (file, name) -> why.
# Keep it short; an entry no code needs any more fails the test below too.
PRIVATE_READS_ALLOWED = {
    ("core/models/generation.py", "_enable_peft_forward_hooks"):
        "PEFT's mixed-adapter batches without per-call adapter_names plumbing; peft is pinned exactly "
        "(requirements.txt) and tests/test_pins.py fails if the hook moves. Falls back to the public path if absent.",
}
# namedtuple's public API carries a leading underscore so that it cannot clash with field names.
NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make", "_field_defaults"}
SCANNED = ["core", "ui", "pages", "app.py"]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and name not in NAMEDTUPLE_API


def _is_own(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``: an object reading its own (or its class's) members."""
    return (isinstance(node, ast.Name) and node.id in ("self", "cls")) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super")


def private_reads(source: str) -> list[tuple[int, str, str]]:
    """(line, name, code) of every read of someone else's underscore name: ``x._name`` with ``x`` not
    self/cls/super(), ``getattr(x, "_name")`` and friends, and ``from module import _name``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _private(node.attr) and not _is_own(node.value):
            found.append((node.lineno, node.attr, ast.unparse(node)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _private(node.args[1].value) and not _is_own(node.args[0])):
            found.append((node.lineno, node.args[1].value, ast.unparse(node)))
        elif isinstance(node, ast.ImportFrom):
            found += [(node.lineno, alias.name, f"from {node.module} import {alias.name}")
                      for alias in node.names if _private(alias.name)]
    return found


def test_the_private_read_finder_sees_each_form_and_lets_an_object_read_its_own():
    source = ("import sys\nfrom core.x import _helper\n"
              "class A(B):\n    def f(self, other):\n        self._mine, cls._too, super()._parent()\n"
              "        other._lock\n        getattr(other, '_model', None)\n        other.__class__, p._replace(a=1)\n")
    assert [(line, name) for line, name, _ in private_reads(source)] == [(2, "_helper"), (6, "_lock"), (7, "_model")]


def test_no_module_reads_another_ones_underscore_names():
    # Private stays private (docs/STYLE.md): a neighbour that needs `service._lock` is missing a public member.
    files = [ROOT / SCANNED[-1]] + [p for d in SCANNED[:-1] for p in sorted((ROOT / d).rglob("*.py"))]
    seen, offenders = set(), []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        for line, name, code in private_reads(path.read_text(encoding="utf-8")):
            if (rel, name) in PRIVATE_READS_ALLOWED:
                seen.add((rel, name))
            else:
                offenders.append(f"{rel}:{line}: {code}")
    assert offenders == [], "add a public member for these (or, for a library's internals, see PRIVATE_READS_ALLOWED)"
    assert seen == set(PRIVATE_READS_ALLOWED), f"no longer needed, remove: {set(PRIVATE_READS_ALLOWED) - seen}"


def test_no_thread_in_the_app_does_model_download_or_polling_work():
    """Background work has one home, the job runner (core.jobs): the demo evaluation is a job step
    and a hub download a job kind, not threads of the app. The one thread left pumps the sandboxed
    parser's stdout into a queue so a read can time out; it does no work of its own. (A thread pool
    scoped to one call, joined before it returns, like the upload's read-ahead in
    core/knowledge/ingestion/uploads.py, is not background work.)"""
    found = {}
    for path in [ROOT / "app.py", *sorted(p for d in ("core", "ui", "pages") for p in (ROOT / d).rglob("*.py"))]:
        source = path.read_text(encoding="utf-8")
        if calls := re.findall(r"\b(?:threading\.)?(?:Thread|Timer)\(", source):
            found[str(path.relative_to(ROOT))] = len(calls)
    assert found == {"core/knowledge/ingestion/sandbox.py": 1}
