"""Demo content for the RAG vs fine-tuning lab.

A small, fictional internal corpus for "Lumora Home Appliances" (kettles, air
purifiers, robot vacuums), a "v2" of one document used by the freshness probe,
and train/test question-answer datasets built from the corpus.
"""

from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "corpus"
CORPUS_V2_DIR = Path(__file__).parent / "corpus_v2"
DATASETS_DIR = Path(__file__).parent / "datasets"
DEMO_SUGGESTIONS_PATH = Path(__file__).parent / "suggestions.json"  # the compare page's curated questions
DEMO_KB = "Lumora demo"  # the knowledge base that holds CORPUS_DIR (core.seed fills it)
