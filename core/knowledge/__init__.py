"""Readers, chunking, embeddings, the Qdrant store, ingestion and retrieval."""
