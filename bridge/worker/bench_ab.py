"""Before/after of the worker's hot path: runner.execute of an older commit's worker against this tree's.

Extracts bridge/worker/signet_worker at REV (git archive) as a package of another name, builds both, and
times bench_hotpath's 3-module program on the test LM through each one's runner.execute, traced (spans
into a FrameWriter on /dev/null, as bench_hotpath's `cached`) and untraced (`cached, no trace`),
alternating the four per execution in one process. Prints CPU medians (time.process_time) and each
side's tracing on/off ratio: per-execution alternation keeps a loaded machine's drift out of the ratios.

    python bench_ab.py --base REV [-n 2000] [--free]

Not a test: timings depend on the machine; compare rows of one run only.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import bench_hotpath as hot  # sets up the path, the DSPy cache directory and the program

BASE_PACKAGE = "signet_worker_base"


def load_base(rev: str) -> str:
    """Import REV's worker package as BASE_PACKAGE (its modules import each other relatively)."""
    root = Path(__file__).resolve().parent
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, check=True, capture_output=True,
                         text=True).stdout.strip()
    archive = subprocess.run(["git", "archive", rev, "bridge/worker/signet_worker"], cwd=top, check=True,
                             capture_output=True).stdout
    into = Path(tempfile.mkdtemp(prefix="signet-bench-ab-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "bridge/worker/signet_worker").rename(into / BASE_PACKAGE)
    sys.path.insert(0, str(into))
    return str(into / BASE_PACKAGE)


def side(package: str, trace: bool, lm: dict[str, Any]) -> Callable[[str], Any]:
    """runner.execute of one package, its own dispatch memo installed for each call (both patch DSPy)."""
    runner = importlib.import_module(f"{package}.runner")
    lms = importlib.import_module(f"{package}.lms")
    programs = importlib.import_module(f"{package}.programs")
    protocol = importlib.import_module(f"{package}.protocol")
    dispatch = importlib.import_module(f"{package}.dispatch")
    tracer = importlib.import_module(f"{package}.tracing").Tracer
    lm_cache, cache = lms.LMCache(), programs.ProgramCache()
    emit = protocol.SpanStream(protocol.FrameWriter(open(os.devnull, "wb")), 1)  # noqa: SIM115

    def run(question: str) -> Any:
        dispatch.install(tracer)
        return runner.execute({"program": hot.PROGRAM, "program_key": hot.PROGRAM_KEY,
                               "inputs": {"question": question}, "lm": lm, "trace": trace},
                              emit=emit, cancel=None, lm_cache=lm_cache, cache=cache)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare with (git rev)")
    parser.add_argument("-n", type=int, default=2000, help="executions per mode")
    parser.add_argument("--free", action="store_true", help="the test LM's profile `free` (as a local model's)")
    args = parser.parse_args()
    lm = dict(hot.LM, free=True) if args.free else hot.LM
    load_base(args.base)
    from signet_worker import runner
    runner.configure_dspy(os.environ["DSPY_CACHEDIR"], 2000)
    runs = {f"{args.base} traced": side(BASE_PACKAGE, True, lm), f"{args.base} untraced": side(BASE_PACKAGE, False, lm),
            "tree traced": side("signet_worker", True, lm), "tree untraced": side("signet_worker", False, lm)}
    for run in runs.values():  # warm-up: imports, the test LM, the caches
        for i in range(20):
            run(f"What is the capital of Warmup{i}?")
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(args.n):
        for name, run in runs.items():
            started = time.process_time()
            run(f"What is the capital of Country{i}?")
            cpu[name].append((time.process_time() - started) * 1000)
    med = {name: statistics.median(ts) for name, ts in cpu.items()}
    print(f"{args.n} executions per mode, {'free ' if args.free else ''}test LM, alternating per execution; CPU medians; "
          f"load average {os.getloadavg()[0]:.2f}")
    for name, m in med.items():
        print(f"{name:<28} {m:8.3f} ms")
    for label in (args.base, "tree"):
        on, off = med[f"{label} traced"], med[f"{label} untraced"]
        print(f"{label}: tracing on/off {on / off:.3f}, tracing costs {1000 * (on - off):.0f} us per execution")


if __name__ == "__main__":
    main()
