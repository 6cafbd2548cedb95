"""Hot-path micro-benchmark: runner.execute against plain DSPy, alternating in one process.

Times N executions of a 3-module program (predict -> chain_of_thought -> predict) on the
deterministic `signet/test` LM, in rounds that alternate these modes, and prints a table of
medians per execution with the ratio to plain DSPy:

- `rebuild`: runner.execute building the program for every request (the path before the
  program cache: a fresh cache per request), tracing on, spans written as the worker writes them
  (protocol.SpanStream into a FrameWriter, here onto /dev/null);
- `cached`: runner.execute through the worker's program cache, tracing on;
- `cached, no trace`: the same with `trace: false`;
- `cached, DSPy dispatch`: `cached` with DSPy's own callback dispatch (dispatch.py uninstalled);
- `cached, DSPy TypeAdapters`: `cached` with DSPy building a pydantic TypeAdapter per value
  (typeadapters.py uninstalled);
- `plain DSPy`: the same modules built once and called directly under dspy.context(lm=...), DSPy as
  shipped (typeadapters.py uninstalled while it runs);
- `plain DSPy, TypeAdapters kept`: the same with the worker's TypeAdapter memo, to see what tracing and
  the runner cost over DSPy sped up alike.

    python bench_hotpath.py [-n 100] [--rounds 5] [--quick]

Not a test: timings depend on the machine; compare rows of one run only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
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

from signet_worker import dispatch, lms, programs, protocol, runner, typeadapters  # noqa: E402
from signet_worker.tracing import Tracer  # noqa: E402

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
# What Go's Pool.Execute sends beside the program (bridge/api.go, programKey): SHA-256 of its JSON, NUL, state.
PROGRAM_KEY = hashlib.sha256(json.dumps(PROGRAM).encode() + b"\0").hexdigest()


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
    emit = protocol.SpanStream(protocol.FrameWriter(open(os.devnull, "wb")), 1)  # noqa: SIM115

    def via_runner(cache: Callable[[], programs.ProgramCache], trace: bool) -> Callable[[str], Any]:
        def run(question: str) -> Any:
            return runner.execute({"program": PROGRAM, "program_key": PROGRAM_KEY, "inputs": {"question": question},
                                   "lm": LM, "trace": trace},
                                  emit=emit, cancel=None, lm_cache=lm_cache, cache=cache())
        return run

    shared = programs.ProgramCache()
    plain = Plain()
    plain_lm = lm_cache.for_request(lms.parse_profile(LM))

    def run_plain_memo(question: str) -> Any:
        with dspy.context(lm=plain_lm, adapter=dspy.ChatAdapter(), max_history_size=runner.MAX_HISTORY_SIZE):
            return plain(question=question)

    def run_plain(question: str) -> Any:
        return without_memo(run_plain_memo, question)

    traced = via_runner(lambda: shared, True)

    def dspy_dispatch(question: str) -> Any:
        dispatch.uninstall()
        try:
            return traced(question)
        finally:
            dispatch.install(Tracer)

    return {
        "rebuild (before)": via_runner(programs.ProgramCache, True),
        "cached": traced,
        "cached, no trace": via_runner(lambda: shared, False),
        "cached, DSPy dispatch": dspy_dispatch,
        "cached, DSPy TypeAdapters": lambda question: without_memo(traced, question),
        "plain DSPy": run_plain,
        "plain DSPy, TypeAdapters kept": run_plain_memo,
    }


def without_memo(run: Callable[[str], Any], question: str) -> Any:
    typeadapters.uninstall()
    try:
        return run(question)
    finally:
        typeadapters.install()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="executions per mode per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="only the modes the ratios need: cached, cached, no trace, plain DSPy")
    args = parser.parse_args()
    runner.configure_dspy(os.environ["DSPY_CACHEDIR"], 2000)
    runs = modes(lms.LMCache())
    if args.quick:
        runs = {name: run for name, run in runs.items()
                if name in ("cached", "cached, no trace", "plain DSPy", "plain DSPy, TypeAdapters kept")}
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for name, run in runs.items():  # warm-up: imports, the test LM, the cache
        for i in range(5):
            run(f"What is the capital of Warmup{i}?")
    for r in range(args.rounds):
        for name, run in runs.items():
            for i in range(args.n):
                question = f"What is the capital of Country{r}x{i}?"
                started, started_cpu = time.perf_counter(), time.process_time()
                run(question)
                times[name].append((time.perf_counter() - started) * 1000)
                cpu[name].append((time.process_time() - started_cpu) * 1000)
    base = statistics.median(times["plain DSPy"])
    base_cpu = statistics.median(cpu["plain DSPy"])
    print(f"{args.rounds} rounds x {args.n} executions per mode, alternating; medians per execution; "
          f"load average {os.getloadavg()[0]:.2f}")
    print("(wall: time.perf_counter; CPU: time.process_time, the process's CPU, steadier on a loaded machine)")
    print(f"{'mode':<22} {'median ms':>10} {'mean ms':>10} {'x plain':>8} {'CPU ms':>8} {'x plain':>8}")
    for name, ts in times.items():
        med, med_cpu = statistics.median(ts), statistics.median(cpu[name])
        print(f"{name:<22} {med:>10.3f} {statistics.fmean(ts):>10.3f} {med / base:>8.2f} "
              f"{med_cpu:>8.3f} {med_cpu / base_cpu:>8.2f}")
    ratio = statistics.median(times["cached"]) / statistics.median(times["cached, no trace"])
    ratio_cpu = statistics.median(cpu["cached"]) / statistics.median(cpu["cached, no trace"])
    print(f"tracing on / off: {ratio:.3f} wall, {ratio_cpu:.3f} CPU")
    kept = statistics.median(cpu["plain DSPy, TypeAdapters kept"])
    print(f"cached (traced) over plain DSPy with the same TypeAdapter memo: "
          f"{statistics.median(cpu['cached']) / kept:.3f} CPU")


if __name__ == "__main__":
    main()
