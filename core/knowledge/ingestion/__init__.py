"""Files into a knowledge base: reading and decoding (``readers``, ``decoding``, ``html_text``,
``filenames``) in a sandboxed child process (``sandbox``, ``parse_worker``), chunking and embedding
(``ingest``), uploads with a result per file (``uploads``), and large uploads and re-indexes as
background jobs (``bulk``; the job's worker is ``core.knowledge.bulk_worker``, above the service)."""
