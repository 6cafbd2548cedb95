"""First call on an OpenAI-compatible profile in a fresh process: import + first call, A/B alternating.

Usage: python tests/bench_first_call.py WORKER_DIR_A WORKER_DIR_B [rounds]
       python tests/bench_first_call.py --vs-import WORKER_DIR [rounds]   (JSON; perf_bench_test.go)
Each round starts one fresh interpreter per tree (alternating which goes first) that imports the
worker, runs one execute of a 1-module program with the `local` profile's shape (json_schema
adapter, openai/ model at an api_base) against the loopback fake server, and reports wall time
from process start and max RSS. Medians per tree are printed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import FakeOpenAI  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from signet_worker import server, runner, lms
started = time.perf_counter()
lm = {"model": "openai/smollm2", "api_base": sys.argv[1], "adapter": "json_schema", "free": True,
      "cache": False, "temperature": 0.0, "max_tokens": 256, "kwargs": {"num_retries": 0, "timeout": 5}}
program = {"name": "qa", "modules": [{"name": "answer", "type": "predict", "signature": "question -> answer"}]}
result = runner.execute({"program": program, "inputs": {"question": "q"}, "lm": lm}, emit=None, cancel=None,
                        lm_cache=lms.LMCache())
assert result["outputs"] == {"answer": "Paris"}, result
print(json.dumps({"call_s": time.perf_counter() - started, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "litellm": "litellm" in sys.modules}))
"""


def one(tree: str, api_base: str) -> dict:
    env = {**os.environ, "PYTHONPATH": tree, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "DSPY_CACHEDIR": tempfile.mkdtemp(prefix="bench-first-call-")}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, api_base], cwd=tree, env=env, capture_output=True, text=True,
                         check=True)
    seconds = time.perf_counter() - started
    return {"s": seconds, **json.loads(out.stdout.strip().splitlines()[-1])}


def import_dspy() -> float:
    """A fresh `python -c "import dspy"`: the baseline of the first call in the end-to-end benchmark."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import dspy"], check=True, capture_output=True)
    return time.perf_counter() - started


def vs_import(tree: str, rounds: int) -> None:
    """The first call from one tree against `import dspy`, alternating; medians as one JSON object."""
    fake = FakeOpenAI()
    fake.reply = '{"answer": "Paris"}'
    calls: list[dict] = []
    imports: list[float] = []
    try:
        for r in range(rounds):
            if r % 2 == 0:
                calls.append(one(tree, fake.api_base))
                imports.append(import_dspy())
            else:
                imports.append(import_dspy())
                calls.append(one(tree, fake.api_base))
    finally:
        fake.close()
    print(json.dumps({"first_call_s": statistics.median(x["s"] for x in calls),
                      "call_after_imports_s": statistics.median(x["call_s"] for x in calls),
                      "rss_mib": statistics.median(x["rss_mib"] for x in calls),
                      "import_dspy_s": statistics.median(imports), "rounds": rounds}))


def main() -> None:
    if sys.argv[1] == "--vs-import":
        vs_import(os.path.abspath(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 5)
        return
    trees = sys.argv[1:3]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    fake = FakeOpenAI()
    fake.reply = '{"answer": "Paris"}'
    runs: dict[str, list[dict]] = {t: [] for t in trees}
    try:
        for r in range(rounds):
            for tree in (trees if r % 2 == 0 else trees[::-1]):
                runs[tree].append(one(tree, fake.api_base))
    finally:
        fake.close()
    for tree, rs in runs.items():
        print(f"{tree}: first call median {statistics.median(x['s'] for x in rs):.3f} s "
              f"(min {min(x['s'] for x in rs):.3f}, max {max(x['s'] for x in rs):.3f}), "
              f"of which the call after the imports {statistics.median(x['call_s'] for x in rs):.3f} s, "
              f"max RSS median {statistics.median(x['rss_mib'] for x in rs):.0f} MiB, litellm imported: "
              f"{sorted({x['litellm'] for x in rs})}")


if __name__ == "__main__":
    main()
