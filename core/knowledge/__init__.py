"""Knowledge bases: ``service.KnowledgeService``, the facade the rest of core and ui hold, over four
parts by what the code does (who may import whom: ``.importlinter``, "Inside core.knowledge"):

- ``ingestion``  files in: reading and decoding in a sandboxed parser, chunking, uploads, and large
                 uploads and re-indexes as background jobs (``bulk``; their worker is ``bulk_worker``);
- ``retrieval``  passages out: hybrid or dense search, the evaluation's gold passages, and the
                 sentences of a passage marked by closeness (the support check builds on them);
- ``storage``    what is kept: the vector store (Edge shards or a Qdrant server), the SQLite catalog,
                 stable ids, versions, recovery after a kill, snapshots for jobs, the old-store migration;
- ``embedding``  text into vectors: the dense embedders (int8 ONNX, torch) and the BM25 sparse encoder.

Each part's surface is its modules' public names, imported from the module that defines them; the
``__init__``s import nothing, so a light module (the catalog, the readers) does not load the store,
LlamaIndex or the embedders with it.
"""
