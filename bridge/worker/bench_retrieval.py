"""Retrieval benchmark (issue 18; not a test): prints a markdown table for BENCHMARKS.md.

    python bench_retrieval.py [--passages 300] [--queries 50]

Indexing speed (passages/s) per retriever and embedder on synthetic English-like passages, query
latency of BM25 at 1k and 100k passages, of embeddings at 10k (one set of real vectors repeated
to 10k rows: the search cost does not depend on what the vectors say), and of an embedding-cache hit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import numpy as np  # noqa: E402

from signet_worker.retrieval import cache as cache_mod  # noqa: E402
from signet_worker.retrieval import embedders, index, search  # noqa: E402
from signet_worker.retrieval.bm25 import BM25  # noqa: E402

WORDS = ("river mountain city history music science planet animal language market energy garden ocean "
         "forest bridge engine village library winter summer theory doctor museum island harbour desert "
         "festival railway castle kingdom protein vaccine algorithm painting novel poetry climate glacier "
         "volcano orbit galaxy mineral copper silver bread coffee tea wheat cotton silk leather").split()


def passages(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    return [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(12, 40))).capitalize() + "." for _ in range(n)]


def write(dir_: str, texts: list[str]) -> str:
    path = os.path.join(dir_, "passages.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"p{i}", "text": t}) + "\n")
    return path


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f} ms (p90 {sorted(samples)[int(len(samples) * 0.9)] * 1000:.2f})"


def timed(fn, queries: list[str]) -> list[float]:
    out = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=300, help="passages to index per embedder")
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args()
    os.environ.pop("SIGNET_EMBED_CACHE", None)
    rows: list[tuple[str, str]] = []
    queries = [" ".join(random.Random(i).sample(WORDS, 4)) for i in range(args.queries)]
    with tempfile.TemporaryDirectory() as tmp:
        texts = passages(args.passages)
        path = write(tmp, texts)
        big = passages(20_000, seed=3)
        start = time.perf_counter()
        BM25.build(big)
        rows.append(("index, bm25 (20k passages)", f"{20_000 / (time.perf_counter() - start):,.0f} passages/s"))
        for name in embedders.BUILTIN:
            embedders.parse({"name": name}, "embedder")  # model load is not indexing
            for retriever in ("embeddings", "hybrid"):
                out = os.path.join(tmp, f"{retriever}-{name}")
                r = index.build({"dir": out, "passages": path, "retriever": retriever, "embedder": {"name": name}},
                                emit=None, cancel=None)
                rows.append((f"index, {retriever} / {name} ({args.passages} passages)",
                             f"{args.passages / r['seconds']:,.0f} passages/s"))
        for n in (1_000, 100_000):
            bm = BM25.build(passages(n, seed=n))
            rows.append((f"query, bm25 at {n // 1000}k passages", ms(timed(lambda q: bm.search(q, 5), queries))))
        for name in embedders.BUILTIN:
            loaded = index.load(os.path.join(tmp, f"embeddings-{name}"))
            reps = -(-10_000 // len(loaded.ids))
            ten_k = SimpleNamespace(ids=(loaded.ids * reps)[:10_000], embeddings=SimpleNamespace(
                corpus_embeddings=np.tile(loaded.embeddings.corpus_embeddings, (reps, 1))[:10_000], index=None))
            emb = embedders.parse({"name": name}, "embedder")
            vectors = {q: emb.embed([q], "query", embedders.Tally())[0] for q in queries}
            rows.append((f"query, embeddings search at 10k passages ({name} vectors)",
                         ms(timed(lambda q: search.dense_search(ten_k, vectors[q], 5), queries))))
            rows.append((f"query embedding, {name} (uncached)",
                         ms(timed(lambda q: emb.embed([q + " x"], "query", embedders.Tally()), queries))))
        store = cache_mod.Cache(os.path.join(tmp, "cache.sqlite"))
        emb = embedders.parse({"name": "minilm"}, "embedder")
        for q in queries:
            cache_mod.embed(emb, [q], "query", store, embedders.Tally())
        rows.append(("query embedding, cache hit (SQLite)",
                     ms(timed(lambda q: cache_mod.embed(emb, [q], "query", store, embedders.Tally()), queries))))
    print("| measure | value |\n|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")


if __name__ == "__main__":
    main()
