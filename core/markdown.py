"""Text from users, documents and models made inert inside Markdown: shown as typed, never as a link,
image, HTML, formatting or maths. One definition for the pages (ui.widgets) and the exports. Also how a count
reads in a sentence (``counted``)."""

from __future__ import annotations

import re

# Characters that mean something anywhere in a line. An underscore between two letters or digits cannot
# open or close emphasis, so "customer_service_policy.md" stays readable; "!", "(" and ")" are harmless once
# "[" and "]" are escaped (no image, no link).
_INLINE = re.compile(r"([\\`*\[\]<>|~$&])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# Characters that mean something only at the start of a line: headings, quotes, lists, rules, setext underlines.
_LINE_START = re.compile(r"^( {0,3})([#>+\-=]|\d{1,9}(?=[.)]))", re.MULTILINE)


def md_escape(text: str) -> str:
    """``text`` backslash-escaped for Markdown (and every Streamlit label read as Markdown: expanders,
    popovers, checkboxes, toasts). Never put the result inside a code span (`...`): the backslashes would show."""
    escaped = _INLINE.sub(lambda m: "\\" + m.group(0), text or "")
    return _LINE_START.sub(_escape_marker, escaped)


def _escape_marker(m: re.Match) -> str:
    indent, marker = m.group(1), m.group(2)
    if marker[0].isdigit():  # "12." or "12)": escape the dot or bracket that follows the number
        return f"{indent}{marker}\\"
    return f"{indent}\\{marker}"


def counted(n: int, noun: str) -> str:
    """"1 document", "2 documents", "0 files": the count with its noun, plural by adding "s" (the nouns the pages
    count all take it). Hand-written: a pluralisation library (inflect) would be a dependency for four words."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
