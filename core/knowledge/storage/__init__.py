"""What a knowledge base keeps: the vector store (``store``, over Edge shards in ``edge_store`` or a
Qdrant server), the SQLite catalog (``catalog``), stable ids (``ids``), versions you can go back to
(``versions``), repairs after a kill (``recovery``), private copies for job processes (``snapshot``)
and the move off the old local-mode store (``migrate``). Modules that act on a whole knowledge base
take the ``KnowledgeService`` they are handed; none imports it."""
