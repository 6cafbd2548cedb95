"""A small BM25 retriever over bm25s: its tokenizer with English stopwords, its own save format."""

from __future__ import annotations

import os

import bm25s

STOPWORDS = "en"


def _tokens(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords=STOPWORDS, return_ids=False, show_progress=False)


class BM25:
    def __init__(self, retriever: bm25s.BM25, size: int):
        self._retriever = retriever
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> "BM25":
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(texts, stopwords=STOPWORDS, show_progress=False), show_progress=False)
        return cls(retriever, len(texts))

    def save(self, path: str, texts: list[str]) -> None:
        """bm25s's own format; the corpus goes with it so plain bm25s can show the passages."""
        os.makedirs(path, exist_ok=True)
        self._retriever.save(path, corpus=texts, show_progress=False)

    @classmethod
    def load(cls, path: str, size: int) -> "BM25":
        return cls(bm25s.BM25.load(path, load_corpus=False, show_progress=False), size)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(corpus index, score) of the best k passages with a positive score, best first."""
        k = min(k, self.size)
        tokens = _tokens([query])
        if k <= 0 or not tokens[0]:
            return []
        known = [t for t in tokens[0] if t in self._retriever.vocab_dict]
        if not known:
            return []
        docs, scores = self._retriever.retrieve([known], k=k, show_progress=False, n_threads=1)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
