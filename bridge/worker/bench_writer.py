"""The span stream and frame writer alone, an older commit's against this tree's: one traced execution's
span events, recorded from this tree's tracer (bench_hotpath's 3-module program on the test LM), replayed
into each one's SpanStream and FrameWriter (onto /dev/null), alternating per execution. Prints the
frames, span events and bytes each writes per execution (onto memory), and CPU medians
(time.process_time).

    python bench_writer.py --base REV [-n 5000]

Events wait for a trigger (an LM span, the result) as in a real run, never for the clock (FLUSH_EVERY
set to an hour on both sides), so the frames are the same on every run. Not a test: compare rows of
one run only.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
import json
import os
import statistics
import time
from typing import Any

import bench_ab
import bench_hotpath as hot  # sets up the path, the DSPy cache directory and the program


def record() -> list[tuple[str, dict, dict | None, bool]]:
    """The calls one traced execution makes on its span sink, as (start or end, span, delta, urgent)."""
    from signet_worker import dispatch, lms, programs, runner, tracing

    calls: list[tuple[str, dict, dict | None, bool]] = []

    class Recorder:
        def start(self, span: dict, urgent: bool) -> None:
            calls.append(("start", span, None, urgent))

        def end(self, span: dict, delta: dict, urgent: bool) -> None:
            calls.append(("end", span, delta, urgent))

    lm_cache, cache = lms.LMCache(), programs.ProgramCache()
    for i in range(5):  # the last of a few: caches warm, as in a serving worker
        calls.clear()
        dispatch.install(tracing.Tracer)
        runner.execute({"program": hot.PROGRAM, "program_key": hot.PROGRAM_KEY,
                        "inputs": {"question": f"What is the capital of Recorded{i}?"}, "lm": hot.LM, "trace": True},
                       emit=Recorder(), cancel=None, lm_cache=lm_cache, cache=cache)
    return calls


def takes_urgent(mod: Any) -> bool:
    """Whether mod's SpanStream is told which events are urgent (else it tells by the span's kind)."""
    return "urgent" in inspect.signature(mod.SpanStream.start).parameters


def replay(mod: Any, writer: Any, calls: list[tuple[str, dict, dict | None, bool]], urgent: bool) -> None:
    """calls into a SpanStream of mod over writer, then the request's result."""
    stream = mod.SpanStream(writer, 1)
    for what, span, delta, flag in calls:
        args = (span,) if delta is None else (span, delta)
        if urgent:
            args += (flag,)
        (stream.start if what == "start" else stream.end)(*args)
    writer.result(1, {"outputs": {"answer": "x"}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare with (git rev)")
    parser.add_argument("-n", type=int, default=5000, help="replays per side")
    args = parser.parse_args()
    bench_ab.load_base(args.base)
    from signet_worker import protocol, runner
    runner.configure_dspy(os.environ["DSPY_CACHEDIR"], 2000)
    calls = record()
    sides = {args.base: importlib.import_module(f"{bench_ab.BASE_PACKAGE}.protocol"), "tree": protocol}
    for mod in sides.values():
        mod.FLUSH_EVERY = 3600
    for name, mod in sides.items():
        out = io.BytesIO()
        replay(mod, mod.FrameWriter(out), calls, takes_urgent(mod))
        lines = out.getvalue().splitlines()
        events = sum(len(f["data"]["spans"]) for f in map(json.loads, lines) if f.get("event") == "spans")
        print(f"{name:<10} {len(lines)} frames, {events} span events, {len(out.getvalue())} bytes per execution")
    writers = {name: mod.FrameWriter(open(os.devnull, "wb", buffering=1 << 16))  # noqa: SIM115
               for name, mod in sides.items()}
    urgent = {name: takes_urgent(mod) for name, mod in sides.items()}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.n):
        for name, writer in writers.items():
            started = time.process_time()
            replay(sides[name], writer, calls, urgent[name])
            cpu[name].append((time.process_time() - started) * 1e6)
    print(f"writer CPU per execution, median of {args.n} alternating (load average {os.getloadavg()[0]:.2f}): "
          + ", ".join(f"{name} {statistics.median(ts):.1f} us" for name, ts in cpu.items()))


if __name__ == "__main__":
    main()
