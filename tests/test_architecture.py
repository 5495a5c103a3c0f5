"""The layering the house style promises: pages -> ui -> core, and core never sees streamlit."""

import ast
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


def test_core_never_imports_streamlit():
    offenders = [str(p) for p in (ROOT / "core").rglob("*.py") if "streamlit" in imported_modules(p)]
    assert offenders == []


def test_pages_use_core_functions_not_heavy_libraries():
    heavy = {"torch", "transformers", "peft", "qdrant_client", "llama_index"}
    offenders = {str(p): imported_modules(p) & heavy for p in (ROOT / "pages").glob("*.py")}
    assert {p: libs for p, libs in offenders.items() if libs} == {}


def test_app_is_only_a_router():
    source = (ROOT / "app.py").read_text()
    assert "st.navigation" in source
    assert imported_modules(ROOT / "app.py") == {"streamlit"}
