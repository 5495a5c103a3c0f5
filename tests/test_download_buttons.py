"""The first click on a download gets the file (issue 19, item 7).

Cause, pinned here: a file built on click (a callable given to ``st.download_button``) is stored with
no element referring to it, and every script run's end deletes such files in two passes. The Evaluate
page refreshes its job lists every 2 seconds, so when the browser fetched the built file a couple of
seconds late (a busy machine), it got "Download Button source error - 404". A file given to the button
when the page runs is referred to by the button and stays.
"""

import ast

from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from core.config import REPO_ROOT


def _file_id(url: str) -> str:
    return url.rsplit("/", 1)[-1].split(".")[0]


def test_a_file_built_on_click_does_not_survive_two_refreshes_and_one_given_to_the_button_does():
    files = MediaFileManager(MemoryMediaFileStorage("/media"))
    built_on_click = files.execute_deferred(files.add_deferred(lambda: "<html>report</html>", "text/html", "button-1"))
    given = files.add(b"<html>report</html>", "text/html", "button-2", file_name="r.html", is_for_static_download=True)
    for _refresh in range(2):
        files.remove_orphaned_files()  # what the end of each (fragment) run does
    assert files.read_file(_file_id(built_on_click)) is None  # the 404
    assert files.read_file(_file_id(given)) is not None


def test_no_download_button_builds_its_file_on_click():
    offenders = []
    for path in [*(REPO_ROOT / "ui").glob("*.py"), *(REPO_ROOT / "pages").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "download_button":
                data = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "data"), None)
                if isinstance(data, ast.Lambda):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
