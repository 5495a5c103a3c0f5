"""Questions the deterministic generator writes from prose sentences, before and after the question
writer: how many sentences yield a question, and the share of those questions that are well-formed
by core.finetune.question_check (wh-word or auxiliary first, ends with "?", no blank, no URL or file
name, 4-25 words, answer found in the source sentence). No model: it runs in seconds.

    .venv/bin/python bench/questions.py [--show 10] [--smoke]

``--smoke`` (for tests) reads the demo documents and the first two Debian files only.

Before = core/finetune/dataset_gen.py as of commit BASELINE (the fill-in-the-blank "According to
<doc>, ... ___?" rule), loaded from git; each prose sentence is passed to its ``_cloze``. After = the
current ``dataset_gen.generate``, whose ``written`` pairs are the questions written from sentences
(a question already asked by an earlier pair is not counted). Both read the same sentences: the
prose paragraphs of each document, CSV files excepted.

Two corpora: the demo documents (core/demo/corpus, as the knowledge base stores them) and prose
nobody here wrote, the Debian documentation files in DEBIAN_DOCS (those missing on a machine are
listed and skipped, so compare figures only between machines that have the same files).
Last line: ratio=<well-formed questions after / before, per corpus>.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.demo import CORPUS_DIR  # noqa: E402
from core.finetune import dataset_gen  # noqa: E402
from core.finetune.question_check import well_formed  # noqa: E402
from core.knowledge.ingestion.readers import extract_text  # noqa: E402

BASELINE = "878a3db"  # the last commit with the fill-in-the-blank rule
DEBIAN_DOCS = [
    "/usr/share/common-licenses/GPL-3",
    "/usr/share/common-licenses/Apache-2.0",
    "/usr/share/doc/bash/INTRO.gz",
    "/usr/share/doc/procps/FAQ.gz",
    "/usr/share/doc/base-passwd/README",
    "/usr/share/doc/dpkg/spec/triggers.txt",
    "/usr/share/doc/dpkg/spec/rootless-builds.txt",
    "/usr/share/doc/gzip/README.gz",
    "/usr/share/doc/chromium/README.Debian",
    "/usr/share/doc/gpg-agent/README.Debian",
    "/usr/share/doc/apt/README.md.gz",
    "/usr/share/doc/adduser/README.gz",
    "/usr/share/doc/git/README.md",
]


def baseline_generator() -> types.ModuleType:
    """dataset_gen.py as of BASELINE, as a module of its own (it imports only core.finetune.datasets)."""
    source = subprocess.run(["git", "show", f"{BASELINE}:core/finetune/dataset_gen.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("dataset_gen_before")
    exec(compile(source, "dataset_gen_before.py", "exec"), module.__dict__)
    return module


def demo_docs() -> list[tuple[str, str]]:
    return [(p.name, extract_text(p.name, p.read_bytes())[1]) for p in sorted(CORPUS_DIR.iterdir())]


def debian_docs(paths: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, text) of the files present here among ``paths``, named "<package>/<file>", and the missing paths."""
    docs, missing = [], []
    for path in map(Path, paths):
        if not path.is_file():
            missing.append(str(path))
            continue
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        docs.append((f"{path.parent.name}/{path.name.removesuffix('.gz')}", data.decode("utf-8", "replace")))
    return docs, missing


def before(old, docs: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str]]]:
    """(sentences read, [(question, sentence)] written by the old cloze rule)."""
    sentences, written = 0, []
    for name, text in docs:
        if name.lower().endswith(".csv"):
            continue
        for block in old._blocks(text):
            if block[0] == "para":
                for sentence in old._sentences(block[1]):
                    sentences += 1
                    if pair := old._cloze(sentence, name):
                        written.append((pair.question, sentence))
    return sentences, written


def after(docs: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str]]]:
    generated = dataset_gen.generate(docs)
    return generated.sentences, [(p.question, p.answer) for p in generated.written]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--show", type=int, default=0, help="print this many questions written after, per corpus")
    p.add_argument("--smoke", action="store_true", help="a quick check of the code path: two Debian files")
    args = p.parse_args()
    old = baseline_generator()
    debian, missing = debian_docs(DEBIAN_DOCS[:2] if args.smoke else DEBIAN_DOCS)
    if missing:
        print(f"skipped (not on this machine): {', '.join(missing)}")
    corpora = {"demo": demo_docs(), "debian": debian}
    print(f"{'corpus':7} {'generator':9} {'docs':>4} {'sentences':>9} {'questions':>9} {'well-formed':>11} "
          f"{'share':>6} {'sentences asked':>15}")
    ratios = []
    for corpus, docs in corpora.items():
        counts = {}
        for label, (sentences, written) in (("before", before(old, docs)), ("after", after(docs))):
            good = sum(well_formed(q, sentence, sentence) for q, sentence in written)
            counts[label] = good
            share = good / len(written) if written else 0.0
            print(f"{corpus:7} {label:9} {len(docs):4} {sentences:9} {len(written):9} {good:11} {share:6.2f} "
                  f"{good / max(sentences, 1):15.1%}")
            if label == "after" and args.show:
                step = max(len(written) // args.show, 1)
                for q, sentence in written[::step][:args.show]:
                    print(f"    {q}\n      <- {sentence[:110]}")
        ratios.append(f"{corpus} {counts['after'] / counts['before']:.2f}" if counts["before"]
                      else f"{corpus} {counts['after']}/0")
    print("ratio=" + ", ".join(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
