"""What a worker process costs on top of runner.execute: one real `python -m signet_worker` driven over its
pipes as Go drives it, against runner.execute in this process, on examples/qa.yaml's program and the test LM.

For each setting it starts a fresh worker, warms it up, sends N execute requests keeping `inflight` of them
outstanding, and reports the worker's CPU per execution (user + system, from /proc), the wall time per
execution and the context switches per execution its threads made (voluntary: a thread blocked, on a lock,
the GIL, a read; involuntary: preempted). The in-process figures are runner.execute called N times here, as is
and with the heap frozen after warm-up (as a worker forked from the zygote has DSPy's).

    python bench_process.py [-n 1000] [--settings 1:1,2:2,4:4]     # threads:inflight
    python bench_process.py --base /tmp/before/bridge/worker --rounds 5   # another tree's worker alternating

With --base, each round runs every setting on the base tree's worker and on this tree's, the order flipped
each round, and the medians over the rounds close the report. Linux only (/proc). Not a test: compare rows of
one run only.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("DSPY_CACHEDIR", tempfile.mkdtemp(prefix="signet-bench-process-"))

PROGRAM = {"name": "qa", "modules": [{
    "name": "answer", "type": "predict", "signature": "question -> answer",
    "instructions": "Answer the question with a short factual answer, a few words at most.",
    "fields": {"question": "a short factual question", "answer": "often a single word or number"},
    "demos": [{"question": "What is the capital of Germany?", "answer": "Berlin"},
              {"question": "How many days are in a week?", "answer": "7"},
              {"question": "What color is grass?", "answer": "green"},
              {"question": "Which planet is known as the Red Planet?", "answer": "Mars"}]}]}
LM = {"model": "signet/test", "cache": False}


def params(i: int) -> dict:
    return {"program": PROGRAM, "inputs": {"question": f"What is the capital of Country{i}?"}, "lm": LM, "trace": True}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_process(n: int) -> tuple[float, float]:
    """runner.execute's CPU per execution here: as a plain process has it (the worker driven above is one), and
    with the heap frozen after warm-up (as a worker forked from the zygote has DSPy's)."""
    from signet_worker import lms, programs, protocol, runner

    lm_cache, cache = lms.LMCache(), programs.ProgramCache()
    emit = protocol.SpanStream(protocol.FrameWriter(open(os.devnull, "wb")), 1)  # noqa: SIM115

    def timed(first: int) -> float:
        started = time.process_time()
        for i in range(first, first + n):
            runner.execute(params(i), emit=emit, cancel=None, lm_cache=lm_cache, cache=cache)
        return (time.process_time() - started) / n * 1000

    for i in range(50):
        runner.execute(params(i), emit=emit, cancel=None, lm_cache=lm_cache, cache=cache)
    plain = timed(1000)
    gc.freeze()
    return plain, timed(1000 + n)


def switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of all the process's threads so far."""
    vol = invol = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:  # the thread ended
            continue
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches"):
                vol += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches"):
                invol += int(line.split()[1])
    return vol, invol


def worker_process(n: int, threads: int, inflight: int, worker_dir: Path = HERE) -> tuple[float, float, float, float]:
    """CPU ms, wall ms, voluntary and involuntary context switches, per execution, of worker_dir's worker."""
    env = {**os.environ, "PYTHONPATH": str(worker_dir), "SIGNET_WORKER_THREADS": str(threads)}
    proc = subprocess.Popen([sys.executable, "-m", "signet_worker"], cwd=worker_dir, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdout.readline()  # the hello

    def send(i: int) -> None:
        proc.stdin.write((json.dumps({"id": i, "method": "execute", "params": params(i)}) + "\n").encode())

    def one_result() -> None:
        while True:
            frame = json.loads(proc.stdout.readline())
            if "result" in frame or "error" in frame:
                return

    try:
        for i in range(1, 51):  # warm-up
            send(i)
            proc.stdin.flush()
            one_result()
        cpu0, wall0, sw0 = cpu_seconds(proc.pid), time.perf_counter(), switches(proc.pid)
        sent = done = 0
        while done < n:
            while sent - done < inflight and sent < n:
                send(1000 + sent)
                sent += 1
            proc.stdin.flush()
            one_result()
            done += 1
        cpu1, wall1, sw1 = cpu_seconds(proc.pid), time.perf_counter(), switches(proc.pid)
    finally:
        proc.stdin.close()
        proc.wait()
    return (cpu1 - cpu0) / n * 1000, (wall1 - wall0) / n * 1000, (sw1[0] - sw0[0]) / n, (sw1[1] - sw0[1]) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="executions per setting")
    parser.add_argument("--settings", default="1:1,2:2,4:4", help="threads:inflight, comma-separated")
    parser.add_argument("--base", type=Path, help="another tree's bridge/worker, run alternating with this one")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every setting (with --base: of both)")
    args = parser.parse_args()
    settings = [tuple(int(x) for x in s.split(":")) for s in args.settings.split(",")]
    print(f"{args.n} executions each; CPU per execution (ms); load average {os.getloadavg()[0]:.2f}")
    trees = [("base", args.base.resolve()), ("this", HERE)] if args.base else [("this", HERE)]
    cpus: dict[tuple[str, int, int], list[float]] = {}
    for r in range(args.rounds):
        for name, worker_dir in (trees if r % 2 == 0 else trees[::-1]):
            for threads, inflight in settings:
                cpu, wall, vol, invol = worker_process(args.n, threads, inflight, worker_dir)
                cpus.setdefault((name, threads, inflight), []).append(cpu)
                print(f"{name}: worker process, {threads} threads, {inflight} in flight: CPU {cpu:.3f}, "
                      f"wall {wall:.3f}, context switches {vol:.1f} + {invol:.1f} involuntary")
    if args.rounds > 1:
        for (name, threads, inflight), values in cpus.items():
            print(f"median {name}, {threads}:{inflight}: CPU {statistics.median(values):.3f}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    plain, frozen = in_process(args.n)
    print(f"runner.execute in this process: CPU {plain:.3f}; heap frozen: {frozen:.3f}")


if __name__ == "__main__":
    main()
