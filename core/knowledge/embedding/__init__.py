"""Text into vectors, for ingestion, storage and retrieval alike: loading the dense embedder and its
identity (``embeddings``; int8 ONNX in ``onnx_embedder``, fp32 torch in ``torch_embedder``) and the
BM25 sparse encoder and tokenizer (``sparse``)."""
