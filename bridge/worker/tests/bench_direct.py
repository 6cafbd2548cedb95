"""Baseline for the pool benchmark: a 3-module program run N times in one Python process.

Same work as an `execute` request to a worker - real DSPy, the `signet/test` LM,
tracing on with every span encoded as a protocol frame (then dropped) - minus
the pipe and the Go side. Prints one JSON object:

    python tests/bench_direct.py [-n 200] [--warmup 10] [--sleep-ms 0] [--threads 1]

`mean_ms` is the wall time per execution (with --threads > 1, total wall time
divided by N, i.e. the inverse of throughput).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.setdefault("DSPY_CACHEDIR", tempfile.mkdtemp(prefix="signet-bench-cache-"))

from signet_worker import protocol  # noqa: E402

# As in the worker: whatever DSPy or LiteLLM prints goes to stderr; stdout carries only the result.
_RESULT_FD = protocol.isolate_stdout()

from signet_worker import lms, runner  # noqa: E402

PROGRAM = {
    "name": "facts3",
    "modules": [
        {"name": "recall", "type": "predict", "signature": "question -> facts: list[str]",
         "instructions": "List two or three short facts that help answer the question."},
        {"name": "answer", "type": "chain_of_thought", "signature": "question, facts: list[str] -> answer",
         "instructions": "Using the facts, answer the question in a few words."},
        {"name": "polish", "type": "predict", "signature": "question, answer -> final_answer",
         "instructions": "Restate the answer as a short sentence."},
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="measured executions")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--sleep-ms", type=float, default=0.0, help="test LM sleep per call")
    parser.add_argument("--threads", type=int, default=1, help="concurrent executions")
    args = parser.parse_args()

    runner.configure_dspy(os.environ["DSPY_CACHEDIR"], 2000)
    lm_cache = lms.LMCache()
    lm = {"model": "signet/test", "cache": False}
    if args.sleep_ms:
        lm["kwargs"] = {"sleep_ms": args.sleep_ms}
    spans = [0]

    def emit(span: dict) -> None:
        protocol.encode({"id": 1, "event": "spans", "data": {"spans": [span]}})
        spans[0] += 1

    def one(i: int) -> float:
        started = time.perf_counter()
        runner.execute({"program": PROGRAM, "inputs": {"question": f"What is the capital of Country{i}?"}, "lm": lm},
                       emit=emit, cancel=None, lm_cache=lm_cache)
        return time.perf_counter() - started

    for i in range(args.warmup):
        one(-1 - i)
    spans[0] = 0
    started = time.perf_counter()
    if args.threads <= 1:
        times = [one(i) for i in range(args.n)]
    else:
        with ThreadPoolExecutor(args.threads) as pool:
            times = list(pool.map(one, range(args.n)))
    total = time.perf_counter() - started
    times_ms = sorted(t * 1000 for t in times)
    result = json.dumps({
        "benchmark": "direct",
        "program": PROGRAM["name"],
        "modules": len(PROGRAM["modules"]),
        "n": args.n,
        "threads": args.threads,
        "sleep_ms": args.sleep_ms,
        "mean_ms": round(total * 1000 / args.n, 3),
        "latency_mean_ms": round(statistics.fmean(times_ms), 3),
        "latency_median_ms": round(statistics.median(times_ms), 3),
        "latency_p95_ms": round(times_ms[min(len(times_ms) - 1, int(0.95 * len(times_ms)))], 3),
        "spans_per_execution": spans[0] / args.n,
        "total_s": round(total, 3),
    })
    os.write(_RESULT_FD, (result + "\n").encode())


if __name__ == "__main__":
    main()
