import pytest

from core.errors import KnowledgeBaseError


def test_several_named_knowledge_bases_one_active(service):
    service.create_kb("HR")
    service.create_kb("Support", chunk_size=128, chunk_overlap=16, mode="dense")
    assert [k.name for k in service.list_kbs()] == ["HR", "Support"]
    assert service.active_kb().name == "HR"  # the first one becomes active
    service.set_active("Support")
    assert service.active_kb().name == "Support"
    support = service.get_kb("Support")
    assert (support.chunk_size, support.chunk_overlap, support.mode) == (128, 16, "dense")
    assert support.collection != service.get_kb("HR").collection


def test_knowledge_bases_do_not_share_documents(service):
    service.create_kb("A")
    service.create_kb("B")
    service.ingest_files("A", [("a.md", b"Only in A.")])
    assert service.documents("B") == []
    assert service.point_count("B") == 0


def test_delete_knowledge_base_removes_collection_and_moves_active(service):
    service.create_kb("A")
    service.create_kb("B")
    service.ingest_files("A", [("a.md", b"Only in A.")])
    collection = service.get_kb("A").collection
    service.delete_kb("A")
    assert not service.store.exists(collection)
    assert service.active_kb().name == "B"


@pytest.mark.parametrize("name", ["", "   ", "../evil", "x" * 60, "semi;colon"])
def test_bad_names_are_refused(service, name):
    with pytest.raises(KnowledgeBaseError):
        service.create_kb(name)


def test_duplicate_name_and_bad_chunking_are_refused(service):
    service.create_kb("A")
    with pytest.raises(KnowledgeBaseError, match="already exists"):
        service.create_kb("A")
    with pytest.raises(KnowledgeBaseError, match="overlap"):
        service.create_kb("B", chunk_size=100, chunk_overlap=90)
    with pytest.raises(KnowledgeBaseError, match="no knowledge base"):
        service.get_kb("missing")


def test_an_older_version_is_rebuilt_exactly_in_a_hidden_copy(service):
    service.create_kb("A", chunk_size=64, chunk_overlap=8)
    service.ingest_files("A", [("policy.md", b"Refunds take 14 days."), ("team.md", b"Ada leads support.")])
    v1 = service.version("A")
    service.ingest_files("A", [("policy.md", b"Refunds take 30 days.")])
    service.delete_document("A", next(d.doc_id for d in service.documents("A") if d.name == "team.md"))
    v3 = service.version("A")
    history = {v.version: v for v in service.versions("A")}
    assert history[v3].current and history[v3].changes == []
    assert history[v1].changes == ["policy.md", "team.md"] and history[v1].restorable
    assert service.version_copy("A", v3) == "A"  # the current version needs no copy

    copy = service.version_copy("A", v1)
    assert service.version(copy) == v1  # same documents, hashes and chunking: the same version hash
    assert {d.name for d in service.documents(copy)} == {"policy.md", "team.md"}
    texts = {d.name: service.document_text(copy, d.doc_id) for d in service.documents(copy)}
    assert texts["policy.md"] == "Refunds take 14 days." and service.point_count(copy) == 2
    assert [k.name for k in service.list_kbs()] == ["A"]  # hidden from the pickers
    assert copy in [k.name for k in service.list_kbs(include_copies=True)] and service.copy_of(copy) == "A"
    assert service.version_copy("A", v1) == copy  # reused while it still matches

    assert [k.name for k in service.copies("A")] == [copy]

    # copies can be deleted on their own (they are rebuilt when needed), but not under a running evaluation
    from core.errors import LabError
    from core.eval.service import KIND, delete_scratch_copies
    from core.jobs.store import JobStore

    jobs = JobStore(service.settings.data_dir)
    busy = jobs.submit(KIND, "an evaluation", {})
    with pytest.raises(LabError, match="under way"):
        delete_scratch_copies(service.settings, service, "A")
    assert service.copies("A") != []
    jobs.finish(busy.id, "done")
    assert delete_scratch_copies(service.settings, service, "A") == 1
    assert service.copies("A") == [] and [k.name for k in service.list_kbs(include_copies=True)] == ["A"]
    assert service.version("A") == v3 and service.point_count("A") == 1  # the knowledge base itself is untouched
    assert service.version_copy("A", v1) == copy and service.version(copy) == v1  # and a copy comes back when needed

    service.delete_kb("A")  # copies go with their knowledge base
    assert service.list_kbs(include_copies=True) == []


def test_versions_that_cannot_be_rebuilt_say_why(service):
    service.create_kb("A")
    service.ingest_files("A", [("a.md", b"First text.")])
    old = service.version("A")
    service.ingest_files("A", [("a.md", b"Second text.")])
    for path in (service.settings.kb_dir / service.get_kb("A").collection / "archive").glob("*.json"):
        path.unlink()  # as for versions recorded before texts were kept
    [current, before, *_] = service.versions("A")
    assert current.restorable  # the current texts are archived again on demand
    assert before.version == old and "was not kept (a.md)" in before.problem
    with pytest.raises(KnowledgeBaseError, match="cannot be rebuilt"):
        service.version_copy("A", old)
    with pytest.raises(KnowledgeBaseError, match="not a version"):
        service.version_copy("A", "0" * 12)
    service.ingest_files("A", [("a.md", b"First text.")])  # back to `old`: it is current, so no copy is needed
    assert service.version_copy("A", old) == "A"
    service.ingest_files("A", [("a.md", b"Third text.")])
    service.create_kb("A - version " + old[:8])  # someone's own knowledge base with the copy's name
    with pytest.raises(KnowledgeBaseError, match="already exists"):
        service.version_copy("A", old)
