"""Names (documents, knowledge bases, datasets) are shown as typed: escaped wherever Streamlit reads
Markdown, and never escaped inside a code span, where the backslashes would show."""

import html
import re

import pytest
from markdown_it import MarkdownIt

from core.config import REPO_ROOT
from tests.apptest import own_workspace, session
from core.markdown import md_escape

HOSTILE = ["customer_service_policy.md", "![t](x) *b* _i_ `c` $m$ <b>x</b> [l](y) # h.md", "a\\_b ~~s~~ | c.md",
           "1. one\n2) two\n- dash\n+ plus\n# heading\n> quote\ntext\n---\nmore\n===", "a &amp; b <http://x.example>",
           "snake_case _lead trail_ mid_dle_ __dunder__"]


@pytest.mark.parametrize("name", HOSTILE)
def test_escaped_text_renders_as_exactly_the_text(name):
    rendered = MarkdownIt("commonmark").enable("strikethrough").enable("table").render(md_escape(name)).strip()
    assert rendered.startswith("<p>") and rendered.endswith("</p>")
    assert html.unescape(rendered[3:-4]) == name  # no link, image, emphasis, code or HTML: the text itself


def test_no_escaped_text_inside_a_code_span():
    offenders = [f"{p.relative_to(REPO_ROOT)}:{i}" for folder in ("ui", "pages") for p in (REPO_ROOT / folder).glob("*.py")
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"`\{md_escape\(", line)]
    assert offenders == []


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    with own_workspace(tmp_path_factory.mktemp("markdown-names-data")) as data:
        yield data


def test_document_names_reach_markdown_escaped_on_the_knowledge_base_page(app_env):
    name = "![t](x) *kettle*_guide_.md"
    at = session()
    at.file_uploader[0].set_value([(name, b"# Kettle\n\nThe Lumora kettle boils 1.7 litres in 4 minutes.", "text/markdown")])
    at.button[0].click().run()
    at.selectbox(key="doc_pick").select(next(o for o in at.selectbox(key="doc_pick").options if "kettle" in o)).run()
    at.text_input[0].input("How long does the kettle take to boil?").run()
    assert not at.exception
    labels = [e.label for e in at.expander] + [m.value for m in at.markdown] + [t.label for t in at.toggle]
    assert f"Show the chunks of {md_escape(name)}" in labels
    assert any(md_escape(name) in v and v.startswith("**") for v in labels)  # the retrieval hit's header
    assert not any("![t](x)" in v or "*kettle*" in v for v in labels)


def test_a_plain_name_is_left_readable():
    assert md_escape("customer_service_policy.md") == "customer_service_policy.md"
    assert md_escape("Returns within 14 days (unopened).") == "Returns within 14 days (unopened)."


def test_a_count_reads_with_its_noun_singular_for_one_only():
    from core.markdown import counted

    assert [counted(n, "document") for n in (0, 1, 2)] == ["0 documents", "1 document", "2 documents"]
