"""From parsed text to embedded chunks: LlamaIndex's ingestion pipeline with stable ids
(``core.knowledge.storage.ids``). Embedding happens before anything is written: if it fails, the previous
version of the document stays searchable.
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core import Document
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode, MetadataMode, TransformComponent

from core.knowledge.embedding.embeddings import token_counter
from core.knowledge.storage.ids import chunk_id

# Chunk text alone is embedded: a file-name prefix cost ~9% of embedding time for little recall.
NOT_EMBEDDED = ["kind", "chunk_index", "doc_name", "file_name"]


class NumberChunks(TransformComponent):
    """Give each chunk its index and a deterministic id (the splitter's default is random)."""

    def __call__(self, nodes: Sequence[BaseNode], **kwargs) -> Sequence[BaseNode]:
        for index, node in enumerate(nodes):
            node.id_ = chunk_id(node.ref_doc_id, index)
            node.metadata["chunk_index"] = index
        return nodes


def split_document(
    embedder, doc_id: str, name: str, kind: str, text: str, chunk_size: int, chunk_overlap: int
) -> list[BaseNode]:
    """Split one document into numbered chunks (not embedded yet)."""
    document = Document(
        id_=doc_id,
        text=text,
        metadata={"file_name": name, "doc_name": name, "kind": kind},
        excluded_embed_metadata_keys=NOT_EMBEDDED,
        excluded_llm_metadata_keys=NOT_EMBEDDED,
    )
    splitter = SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=min(chunk_overlap, chunk_size // 2),
        tokenizer=token_counter(embedder),
        include_prev_next_rel=False,
    )
    return IngestionPipeline(transformations=[splitter, NumberChunks()], disable_cache=True).run(documents=[document])


def embed_nodes(embedder, nodes: list[BaseNode]) -> list[BaseNode]:
    """Embed chunks of one or many documents in one call.

    All texts go to the embedder's ``embed`` at once: both embedders sort them by length before
    batching, so batches carry little padding. LlamaIndex's ``get_text_embedding_batch`` slices
    into batches first and loses that sort (~7% slower here).
    """
    if not nodes:
        return nodes
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    vectors = embedder.embed(texts)
    for node, vector in zip(nodes, vectors):
        node.embedding = vector.tolist()
    return nodes


def build_nodes(
    embedder, doc_id: str, name: str, kind: str, text: str, chunk_size: int, chunk_overlap: int
) -> list[BaseNode]:
    """Split and embed one document; nothing is stored here."""
    return embed_nodes(embedder, split_document(embedder, doc_id, name, kind, text, chunk_size, chunk_overlap))
