"""`IndexRetrieve`: a retrieve module over an index Signet built (`retriever: {index, k, search}`).

bm25 ranks by BM25 score, embeddings by cosine similarity (DSPy's Embeddings holds the corpus
vectors, and its faiss index at >= 20,000 passages), hybrid by reciprocal rank fusion of both:
score = sum over the two rankings of 1 / (60 + rank), rank counted from 1, each ranking taken to
max(4k, 20) candidates. Each search is a `retrieval` span under the module's span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dspy
import numpy as np

from ..errors import BadInput, BadProgram
from ..tracing import Tracer
from . import cache as cache_mod
from . import embedders
from . import index as index_mod
from .passage import Passage

RRF_K = 60
DEFAULT_K = 5
SEARCHES = ("bm25", "embeddings", "hybrid")
# What each search needs the index to hold.
_NEEDS = {"bm25": ("bm25", "hybrid"), "embeddings": ("embeddings", "hybrid"), "hybrid": ("hybrid",)}


@dataclass(frozen=True)
class IndexSpec:
    """One entry of a request's `indexes`: where the index is and what it was built with."""

    name: str
    dir: str
    retriever: str
    embedder: Any  # the EMBEDDER object, or None
    passages: int


def parse_indexes(raw: Any) -> dict[str, IndexSpec]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadInput("indexes must map index names to {dir, retriever, embedder, passages}", field="indexes")
    out = {}
    for name, spec in raw.items():
        where = f"indexes.{name}"
        if not isinstance(spec, dict) or not isinstance(spec.get("dir"), str) or not spec["dir"]:
            raise BadInput(f"{where} needs dir, the index's directory", field=where)
        if spec.get("retriever") not in SEARCHES:
            raise BadInput(f"{where}.retriever must be one of {', '.join(SEARCHES)}", field=f"{where}.retriever")
        passages = spec.get("passages")
        out[name] = IndexSpec(name, spec["dir"], spec["retriever"], spec.get("embedder"),
                              passages if isinstance(passages, int) else 0)
    return out


def check_retriever(raw: Any, module: str, indexes: dict[str, IndexSpec]) -> tuple[IndexSpec, str, int]:
    """(index, search, k) of a module's `retriever`; errors name the module."""
    if not isinstance(raw, dict) or not isinstance(raw.get("index"), str) or not raw["index"]:
        raise BadProgram(f"module {module}: retriever needs index: the name of an index", module=module,
                         field="retriever.index")
    name = raw["index"]
    spec = indexes.get(name)
    if spec is None:
        raise BadInput(f"module {module}: no index {name!r}: build it with signet index DATASET --name {name}",
                       module=module, field="indexes")
    k = raw.get("k") or DEFAULT_K
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise BadProgram(f"module {module}: retriever.k must be a positive integer", module=module,
                         field="retriever.k")
    search = raw.get("search") or spec.retriever
    if search not in SEARCHES:
        raise BadProgram(f"module {module}: retriever.search must be one of {', '.join(SEARCHES)}, got {search!r}",
                         module=module, field="retriever.search")
    if spec.retriever not in _NEEDS[search]:
        raise BadInput(f"module {module}: search {search} needs an index built with --retriever "
                       f"{'hybrid' if search == 'hybrid' else search + ' or hybrid'}; index {name!r} is "
                       f"{spec.retriever}: rebuild it with signet index DATASET --retriever hybrid",
                       module=module, field="retriever.search")
    return spec, search, k


def rrf(rankings: list[list[int]], k: int) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: (item, sum of 1/(60 + rank)) best first; ties by first appearance."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (RRF_K + rank)
    order = sorted(scores, key=lambda item: -scores[item])  # sorted() is stable: first appearance wins ties
    return [(item, scores[item]) for item in order[:k]]


def dense_search(loaded: index_mod.Loaded, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Cosine top-k over DSPy Embeddings' corpus vectors, with the very math of its
    `_rerank_and_predict` (its faiss index picks 10k candidates when it has one), so an exported
    program searching through DSPy's Embeddings ranks alike."""
    emb = loaded.embeddings
    q = np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-10)
    k = min(k, len(loaded.ids))
    if emb.index is not None:
        candidates = emb.index.search(q, k * 10)[1]
        scores = np.einsum("qd,qkd->qk", q, emb.corpus_embeddings[candidates])
        top = np.argsort(-scores, axis=1)[:, :k]
        return [(int(candidates[0, i]), float(scores[0, i])) for i in top[0]]
    scores = np.einsum("qd,kd->qk", q, np.ascontiguousarray(emb.corpus_embeddings), order="C")
    top = np.argsort(-scores, axis=1)[:, :k]
    return [(int(i), float(scores[0, i])) for i in top[0]]


class IndexRetrieve(dspy.Module):
    """A retrieve module searching an index: returns Prediction(<output>=[Passage, ...])."""

    def __init__(self, spec: IndexSpec, search: str, k: int, query_field: str, output_field: str):
        super().__init__()
        self.index_spec = spec
        self.search = search
        self.k = k
        self.query_field = query_field
        self.output_field = output_field

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        query = kwargs.get(self.query_field)
        query = "" if query is None else str(query)
        tracer = next((cb for cb in dspy.settings.get("callbacks") or [] if isinstance(cb, Tracer)), None)
        if tracer is None:
            passages, _, _ = self.retrieve(query)
            return dspy.Prediction(**{self.output_field: passages})
        with tracer.retrieval(self.index_spec.name, {"query": query, "k": self.k}) as span:
            passages, tally, embedder = self.retrieve(query)
            span["retrieval"] = {
                "index": self.index_spec.name, "search": self.search, "embedder": embedder.name if embedder else None,
                "query": query, "k": self.k,
                "passages": [{"id": p.id, "text": str(p), "score": p.score} for p in passages],
                "cache_hits": tally.hits, "cache_misses": tally.misses,
            }
            span["tally"] = tally
            span["model"] = embedder.model if embedder else None
        return dspy.Prediction(**{self.output_field: passages})

    def retrieve(self, query: str) -> tuple[list[Passage], embedders.Tally, Any]:
        loaded = index_mod.load(self.index_spec.dir)
        tally = embedders.Tally()
        embedder = None
        depth = self.k if self.search != "hybrid" else max(self.k * 4, 20)
        bm25_hits: list[tuple[int, float]] = []
        dense_hits: list[tuple[int, float]] = []
        if self.search in ("bm25", "hybrid"):
            bm25_hits = loaded.bm25.search(query, depth)
        if self.search in ("embeddings", "hybrid"):
            embedder = embedders.parse(self.index_spec.embedder or {"name": loaded.embedder},
                                       f"indexes.{self.index_spec.name}.embedder")
            vector = cache_mod.embed(embedder, [query], "query", cache_mod.from_env(), tally)[0]
            dense_hits = dense_search(loaded, vector, depth)
        if self.search == "hybrid":
            hits = rrf([[i for i, _ in bm25_hits], [i for i, _ in dense_hits]], self.k)
        else:
            hits = (bm25_hits or dense_hits)[: self.k]
        return [Passage(loaded.texts[i], loaded.ids[i], round(s, 6)) for i, s in hits], tally, embedder
