"""Plain text from HTML that keeps sentences whole.

A browser lays out inline elements (links, code, emphasis) inside the line they sit in and
starts a new line only at block elements; the text must do the same, or "/etc/passwd and
/etc/group." becomes four lines that the chunker and the sentence highlighter cut apart.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Comment, NavigableString

DROPPED = ["script", "style", "noscript", "template", "nav", "iframe", "svg", "head", "object", "canvas"]
# Elements that start a paragraph of their own, and those that only start a line.
PARAGRAPHS = {"p", "pre", "blockquote", "table", "ul", "ol", "dl", "figure", "section", "article", "main",
              "header", "footer", "aside", "address", "details", "form", "fieldset", "hr"}
LINES = {"div", "li", "dt", "dd", "tr", "caption", "figcaption", "summary", "legend", "center", "option"}
CELLS = {"td", "th"}
PARAGRAPH_MARK = "\ue000"  # a private-use character standing for a blank line, so neighbouring breaks merge


def html_to_text(markup: str) -> str:
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(DROPPED):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    # Source line breaks inside running text are only spaces (except in <pre>).
    for string in soup.find_all(string=True):
        if type(string) is NavigableString and string.find_parent("pre") is None:
            string.replace_with(re.sub(r"\s+", " ", string))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(f"{PARAGRAPH_MARK}{'#' * level} {' '.join(heading.get_text().split())}{PARAGRAPH_MARK}")
    for tag in soup.find_all(True):
        if tag.name in PARAGRAPHS:
            tag.insert_before(PARAGRAPH_MARK)
            tag.insert_after(PARAGRAPH_MARK)
        elif tag.name in LINES:
            tag.insert_before("\n")
            tag.insert_after("\n")
        elif tag.name in CELLS:
            tag.insert_after(" ")
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in soup.get_text().splitlines())
    text = re.sub(r"\n{2,}", "\n", "\n".join(lines))  # line breaks never stack into blank lines...
    return re.sub(rf"\s*{PARAGRAPH_MARK}[\s{PARAGRAPH_MARK}]*", "\n\n", text).strip()  # ...paragraphs make one
