"""Kill trials: SIGKILL an ingest right after its n-th write to the vector store, start again,
and check the knowledge base.

Each trial copies a knowledge base holding version 1 of four files, then (in a forked child that
kills itself after write n) uploads version 2 of two of them plus a new file and deletes a fourth:
the operation the upload page and the Documents tab run. A second child opens the data folder
(recovery runs at start) and checks: no duplicate chunks, no chunks of documents the catalog does
not list (orphans), no document whose stored chunks differ from its catalogued version (mixed),
every document either at version 1 or at version 2, search returning only catalogued text, the
version hash equal to the hash of the documents; then it repeats the operation and checks that the
knowledge base converged to the state a clean run gives.

Random trials draw n from the writes of a clean run; targeted trials walk every write in turn.
Last line: ratio=<trials that converged to the clean run's state / trials>  (target 1.00)

    python bench/kill_trials.py [--random 20] [--targeted 20]
    python bench/kill_trials.py --smoke   # one kill (after the first write), for tests
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from core.config import load_settings  # noqa: E402
from core.knowledge.storage import edge_store  # noqa: E402
from core.knowledge.storage import documents as stored  # noqa: E402
from core.knowledge.embedding.embeddings import load_embedder  # noqa: E402
from core.knowledge.retrieval.search import search  # noqa: E402
from core.knowledge.service import KnowledgeService  # noqa: E402
from core.knowledge.storage.versions import archive_path  # noqa: E402

KB = "trials"
SMOKE = {"random": 0, "targeted": 1}


def text(topic: str, n: int, version: int) -> bytes:
    return " ".join(f"{topic} fact {i} of version {version}: the value is {i * version}." for i in range(n)).encode()


V1 = {"long.txt": text("Kettle", 60, 1), "short.md": text("Refund", 6, 1), "keep.md": text("Filter", 8, 1),
      "gone.md": text("Fan", 5, 1)}
UPLOAD = [("long.txt", text("Kettle", 45, 2)), ("short.md", text("Refund", 12, 2)), ("new.md", text("Lamp", 7, 2))]
FINAL = {**{k: v for k, v in V1.items() if k != "gone.md"}, **dict(UPLOAD)}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def operation(service: KnowledgeService) -> None:
    service.ingest_files(KB, UPLOAD)
    gone = next((d for d in service.documents(KB) if d.name == "gone.md"), None)
    if gone is not None:
        service.delete_document(KB, gone.doc_id)


# One thread, loaded once before the children are forked (a forked child must not inherit a
# running thread pool); small store writes, so that a file takes several and kills land inside one.
torch.set_num_threads(1)
EMBEDDER = load_embedder(load_settings())
stored.WRITE_BATCH = 8


def open_service(data: Path) -> KnowledgeService:
    """The data folder opened as the app opens it at a start: recovery first."""
    service = KnowledgeService(load_settings(data_dir=data, demo_seed=False), embedder=EMBEDDER)
    service.recover()
    return service


def run_child(fn) -> int:
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn()
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def kill_after(n: int, counter_file: Path | None = None) -> None:
    """Make this process SIGKILL itself right after its n-th store write (never, when n is 0)."""
    original = edge_store.EdgeVectorStore._apply
    count = [0]

    def counted(self, operation):
        original(self, operation)
        count[0] += 1
        if counter_file is not None:
            counter_file.write_text(str(count[0]))
        if count[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)

    edge_store.EdgeVectorStore._apply = counted


def check(data: Path, out: Path) -> None:
    service = open_service(data)
    info = service.get_kb(KB)
    vectors = service.vector_store(info)
    docs = {d.doc_id: d for d in service.documents(KB)}
    problems = {"duplicates": 0, "orphans": 0, "mixed": 0, "not_old_or_new": 0, "hidden_left": 0,
                "search_foreign": 0, "version_mismatch": 0}
    seen: dict[tuple, int] = {}
    chunks: dict[str, list[dict]] = {}
    for _, p in vectors.scroll():
        if p.get(edge_store.HIDDEN):
            problems["hidden_left"] += 1
            continue
        seen[(p["doc_id"], p["chunk_index"])] = seen.get((p["doc_id"], p["chunk_index"]), 0) + 1
        chunks.setdefault(p["doc_id"], []).append(p)
    problems["duplicates"] = sum(c - 1 for c in seen.values())
    problems["orphans"] = sum(len(c) for doc_id, c in chunks.items() if doc_id not in docs)
    for doc_id, doc in docs.items():
        kept = json.loads(archive_path(service.kb_dir(info), doc.content_hash).read_text())["text"]
        stored = [json.loads(p["_node_content"])["text"] for p in chunks.get(doc_id, [])]
        indexes = sorted(p["chunk_index"] for p in chunks.get(doc_id, []))
        if indexes != list(range(doc.chunks)) or not all(t in kept for t in stored):
            problems["mixed"] += 1
        versions_of = {sha(V1[doc.name]) if doc.name in V1 else None, sha(FINAL.get(doc.name, b""))}
        if doc.content_hash not in versions_of:
            problems["not_old_or_new"] += 1
    for query in ("Kettle fact 7", "Refund fact 3", "Fan fact 2", "Lamp fact 1"):
        for hit in search(service, KB, query, top_k=5):
            doc = docs.get(hit.doc_id)
            kept = json.loads(archive_path(service.kb_dir(info), doc.content_hash).read_text())["text"] if doc else ""
            problems["search_foreign"] += int(doc is None or hit.text not in kept)
    snap = service.catalog.snapshot(KB)
    problems["version_mismatch"] = int(
        service.version(KB) != hashlib.sha256(json.dumps(snap, sort_keys=True).encode()).hexdigest()[:12])
    state_after_kill = {d.name: d.content_hash for d in docs.values()}
    operation(service)  # the user runs it again
    converged = {d.name: d.content_hash for d in service.documents(KB)} == {k: sha(v) for k, v in FINAL.items()}
    converged = converged and all(service.intact(info, d) for d in service.documents(KB))
    service.close()
    out.write_text(json.dumps({"problems": problems, "converged": converged,
                               "new_docs": sum(state_after_kill.get(k) == sha(v) for k, v in UPLOAD)}))


def trial(base: Path, work: Path, n: int) -> dict:
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(base, data)

    def ingest():
        kill_after(n)
        service = open_service(data)
        operation(service)

    status = run_child(ingest)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    result_file = work / "result.json"
    result_file.unlink(missing_ok=True)
    if run_child(lambda: check(data, result_file)) != 0:
        return {"n": n, "killed": killed, "error": True}
    return {"n": n, "killed": killed, **json.loads(result_file.read_text())}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--random", type=int, default=20)
    p.add_argument("--targeted", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true",
                   help=f"a quick check of the code path: {SMOKE} (targeted trials then skip the other writes)")
    if "--smoke" in sys.argv[1:]:
        p.set_defaults(**SMOKE)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kill-trials-"))
    base = work / "base"

    def make_base():
        service = open_service(base)
        service.create_kb(KB, chunk_size=32, chunk_overlap=0)
        service.ingest_files(KB, list(V1.items()))
        service.close()

    assert run_child(make_base) == 0
    counter = work / "writes"
    clean = work / "clean"
    shutil.copytree(base, clean / "data")

    def count_writes():
        kill_after(0, counter)
        operation(open_service(clean / "data"))

    assert run_child(count_writes) == 0
    writes = int(counter.read_text())
    print(f"a clean run writes to the store {writes} times", flush=True)
    rng = random.Random(args.seed)
    plans = [("random", rng.randint(1, writes)) for _ in range(args.random)]
    targeted = args.targeted if args.smoke else max(args.targeted, writes)
    plans += [("targeted", 1 + i % writes) for i in range(targeted)]
    totals: dict[str, dict] = {}
    for kind, n in plans:
        r = trial(base, work, n)
        t = totals.setdefault(kind, {"trials": 0, "killed": 0, "converged": 0, "errors": 0, "problems": {}})
        t["trials"] += 1
        t["killed"] += int(r["killed"])
        t["errors"] += int(r.get("error", False))
        t["converged"] += int(r.get("converged", False))
        for k, v in r.get("problems", {}).items():
            t["problems"][k] = t["problems"].get(k, 0) + v
        print(f"{kind:8s} kill after write {n:3d}: {json.dumps(r)}", flush=True)
    for kind, t in totals.items():
        pr = t["problems"]
        print(f"{kind}: {t['trials']} trials ({t['killed']} killed mid-run), {pr.get('duplicates', 0)} duplicates, "
              f"{pr.get('orphans', 0)} orphans, {pr.get('mixed', 0)} mixed documents, "
              f"{pr.get('version_mismatch', 0)} version-hash mismatches, {pr.get('search_foreign', 0)} foreign search hits, "
              f"{pr.get('hidden_left', 0)} hidden chunks left, converged {t['converged']}/{t['trials']}, errors {t['errors']}")
    shutil.rmtree(work, ignore_errors=True)
    print(f"ratio={sum(t['converged'] for t in totals.values()) / sum(t['trials'] for t in totals.values()):.2f}")
    bad = sum(sum(t["problems"].values()) + t["errors"] + t["trials"] - t["converged"] for t in totals.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
