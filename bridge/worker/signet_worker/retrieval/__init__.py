"""Retrieval built in (issue 18): offline and hosted embedders, the embedding cache, BM25, index
build and load, and the `IndexRetrieve` module (docs/protocol.md, "index" and "Retrieval")."""
