"""The fp32 sentence embedder: LlamaIndex's HuggingFaceEmbedding over sentence-transformers, with the
int8 embedder's public surface (``tokenizer``, ``embed``), so ingestion reads neither one's insides."""

from __future__ import annotations

import numpy as np
from llama_index.embeddings.huggingface import HuggingFaceEmbedding


class TorchEmbedding(HuggingFaceEmbedding):
    """HuggingFaceEmbedding as is (searches embed through it), plus the two members chunking and
    ingestion need. HuggingFaceEmbedding keeps its SentenceTransformer in the private ``_model``:
    this class is the one place that reads it, and the embedder tests fail if it moves."""

    @property
    def tokenizer(self):
        """The model's own tokenizer: chunk sizes are counted in its tokens."""
        return self._model.tokenizer

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for ``texts`` in one call. sentence-transformers sorts the texts by length
        before batching, so batches carry little padding; LlamaIndex's ``get_text_embedding_batch``
        slices into batches first and loses that sort (~7% slower here)."""
        return self._model.encode(texts, batch_size=self.embed_batch_size, normalize_embeddings=self.normalize,
                                  convert_to_numpy=True)
