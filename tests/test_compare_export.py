"""The Markdown export neutralises images, links and HTML written into questions, answers and passages,
and names a passage's relevance as the page does."""

from markdown_it import MarkdownIt

from core.compare.results import ArmAnswer, Comparison, Fairness, Source, history_markdown
from core.config import REPO_ROOT

TRACKER = "![tracker](http://evil.example/pixel.png)"


def hostile_comparison() -> Comparison:
    fairness = Fairness(model="smollm2", model_fingerprint="abc", kb="Lumora demo", kb_version="v1",
                        decoding={"temperature": 0.0}, top_k=3, min_score=0.2)
    c = Comparison(question=f"How do returns work? {TRACKER} <img src=x onerror=alert(1)>", fairness=fairness)
    passage = Source(rank=1, doc_name="customer_service_policy.md", chunk_index=2, score=0.033, relevance=0.64,
                     text="Returns within 14 days.", sentences=[(f"Returns within 14 days [click](http://evil.example).", True)])
    c.arms["rag"] = ArmAnswer(arm="rag", text=f"Within 14 days.\n<script>alert(2)</script>\n{TRACKER}", sources=[passage])
    c.arms["base"] = ArmAnswer(arm="base", text="# Not a heading\n1. not a list", withheld=f"<b>{TRACKER}</b>")
    return c


def test_exported_markdown_renders_no_image_link_or_html_from_user_or_model_text():
    md = history_markdown([hostile_comparison()])
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(md)
    for forbidden in ("<img", "<a ", "<script", "<b>", "<ol", "<h1>Not"):
        assert forbidden not in rendered, forbidden
    assert "http://evil.example/pixel.png" in rendered  # shown as text, not loaded
    assert "customer_service_policy.md" in md  # names stay readable


def test_the_export_names_the_relevance_the_page_shows():
    md = history_markdown([hostile_comparison()])
    assert "relevance 0.64" in md and "0.033" not in md and "score" not in md
    view = (REPO_ROOT / "ui" / "compare_view.py").read_text(encoding="utf-8")
    assert "s.relevance_text" in view  # the expander label on the page uses the same words and number
    assert Source(rank=1, doc_name="a", chunk_index=0, score=0.1, text="t").relevance_text == "relevance —"
