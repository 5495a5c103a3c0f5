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
    assert not service.client.collection_exists(collection)
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
