"""Hot-path micro-benchmark: runner.execute against plain DSPy, alternating in one process.

Times N executions of a 3-module program (predict -> chain_of_thought -> predict) on the
deterministic `signet/test` LM, in rounds that alternate these modes, and prints a table of
medians per execution with the ratio to plain DSPy:

- `rebuild`: runner.execute building the program for every request (the path before the
  program cache: a fresh cache per request), tracing on, spans encoded as protocol frames;
- `cached`: runner.execute through the worker's program cache, tracing on;
- `cached, no trace`: the same with `trace: false`;
- `plain DSPy`: the same modules built once and called directly under dspy.context(lm=...).

    python bench_hotpath.py [-n 100] [--rounds 5]

Not a test: timings depend on the machine; compare rows of one run only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.setdefault("DSPY_CACHEDIR", tempfile.mkdtemp(prefix="signet-bench-cache-"))

import dspy  # noqa: E402

from signet_worker import lms, programs, protocol, runner  # noqa: E402

MODULES = [
    ("recall", "predict", "question -> facts: list[str]",
     "List two or three short facts that help answer the question."),
    ("answer", "chain_of_thought", "question, facts: list[str] -> answer",
     "Using the facts, answer the question in a few words."),
    ("polish", "predict", "question, answer -> final_answer", "Restate the answer as a short sentence."),
]
PROGRAM = {"name": "hot3", "modules": [{"name": n, "type": t, "signature": s, "instructions": i}
                                       for n, t, s, i in MODULES]}
LM = {"model": "signet/test", "cache": False}


class Plain(dspy.Module):
    """The same three modules in plain DSPy."""

    def __init__(self) -> None:
        super().__init__()
        sigs = {n: dspy.Signature(s, i) for n, _, s, i in MODULES}
        self.recall = dspy.Predict(sigs["recall"])
        self.answer = dspy.ChainOfThought(sigs["answer"])
        self.polish = dspy.Predict(sigs["polish"])

    def forward(self, question: str) -> dspy.Prediction:
        facts = self.recall(question=question).facts
        answer = self.answer(question=question, facts=facts).answer
        return self.polish(question=question, answer=answer)


def modes(lm_cache: lms.LMCache) -> dict[str, Callable[[str], Any]]:
    def emit(span: dict) -> None:
        protocol.encode({"id": 1, "event": "span", "data": span})

    def via_runner(cache: Callable[[], programs.ProgramCache], trace: bool) -> Callable[[str], Any]:
        def run(question: str) -> Any:
            return runner.execute({"program": PROGRAM, "inputs": {"question": question}, "lm": LM, "trace": trace},
                                  emit=emit, cancel=None, lm_cache=lm_cache, cache=cache())
        return run

    shared = programs.ProgramCache()
    plain = Plain()
    plain_lm = lm_cache.for_request(lms.parse_profile(LM))

    def run_plain(question: str) -> Any:
        with dspy.context(lm=plain_lm, adapter=dspy.ChatAdapter(), max_history_size=runner.MAX_HISTORY_SIZE):
            return plain(question=question)

    return {
        "rebuild (before)": via_runner(programs.ProgramCache, True),
        "cached": via_runner(lambda: shared, True),
        "cached, no trace": via_runner(lambda: shared, False),
        "plain DSPy": run_plain,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="executions per mode per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runner.configure_dspy(os.environ["DSPY_CACHEDIR"], 2000)
    runs = modes(lms.LMCache())
    times: dict[str, list[float]] = {name: [] for name in runs}
    for name, run in runs.items():  # warm-up: imports, the test LM, the cache
        for i in range(5):
            run(f"What is the capital of Warmup{i}?")
    for r in range(args.rounds):
        for name, run in runs.items():
            for i in range(args.n):
                question = f"What is the capital of Country{r}x{i}?"
                started = time.perf_counter()
                run(question)
                times[name].append((time.perf_counter() - started) * 1000)
    base = statistics.median(times["plain DSPy"])
    print(f"{args.rounds} rounds x {args.n} executions per mode, alternating; medians per execution")
    print(f"{'mode':<20} {'median ms':>10} {'mean ms':>10} {'x plain':>8}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<20} {med:>10.3f} {statistics.fmean(ts):>10.3f} {med / base:>8.2f}")


if __name__ == "__main__":
    main()
