from core.demo import CORPUS_DIR, DEMO_KB
from core.seed import reset_demo, seed_demo


def test_first_start_seeds_every_demo_document(service):
    results = seed_demo(service)
    assert {r.status for r in results} == {"added"}
    assert {d.name for d in service.documents(DEMO_KB)} == {p.name for p in CORPUS_DIR.iterdir()}
    assert {d.kind for d in service.documents(DEMO_KB)} == {"markdown", "docx", "pdf", "html", "csv", "text"}
    assert service.active_kb().name == DEMO_KB
    assert seed_demo(service) == []  # never seeds over an existing workspace


def test_reset_restores_the_demo_after_changes(service):
    seed_demo(service)
    version = service.version(DEMO_KB)
    doc = service.documents(DEMO_KB)[0]
    service.delete_document(DEMO_KB, doc.doc_id)
    service.create_kb("Other")
    service.set_active("Other")
    reset_demo(service)
    assert len(service.documents(DEMO_KB)) == len(list(CORPUS_DIR.iterdir()))
    assert service.version(DEMO_KB) == version
    assert service.active_kb().name == DEMO_KB
