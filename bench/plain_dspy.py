"""Plain DSPy baselines for the end-to-end benchmark (perf_bench_test.go): examples/qa.yaml's program
written directly in DSPy 3.4, on the same deterministic `signet/test` LM, without Signet.

    python bench/plain_dspy.py evaluate DATA.jsonl [--threads 8] [--program cot]   # dspy.Evaluate over every example
    python bench/plain_dspy.py single QUESTION [-n 200]            # one process, module built once, n calls
    python bench/plain_dspy.py script QUESTION                     # a one-off script: import, build, one call
    python bench/plain_dspy.py firstcall QUESTION --api-base URL --model NAME   # first call on a served model

`--program qa` (the default) is examples/qa.yaml; `--program cot` is DSPy's first tutorial program, a bare
`dspy.ChainOfThought("question -> answer")`, whose small prompt shows Signet's fixed cost per execution most.

Prints one JSON object: `seconds` is the timed part (evaluate: Evaluate's call; single: per call, median;
script: the answer, as the caller times the whole process; firstcall: the program's first call after the
import, on `openai/NAME` at URL with DSPy's JSONAdapter, as the `local` profile is shaped).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bridge" / "worker"))  # only for the test LM, signet_worker/testlm.py
os.environ.setdefault("DSPY_CACHEDIR", tempfile.mkdtemp(prefix="signet-plain-cache-"))

import dspy  # noqa: E402

from signet_worker import testlm  # noqa: E402


def qa_program() -> dspy.Module:
    """examples/qa.yaml: one Predict with its instructions, field descriptions and four demos."""
    sig = dspy.Signature(
        {"question": dspy.InputField(desc="a short factual question"),
         "answer": dspy.OutputField(desc="often a single word or number")},
        "Answer the question with a short factual answer, a few words at most.")
    program = dspy.Predict(sig)
    program.demos = [dspy.Example(question=q, answer=a) for q, a in [
        ("What is the capital of Germany?", "Berlin"), ("How many days are in a week?", "7"),
        ("What color is grass?", "green"), ("Which planet is known as the Red Planet?", "Mars")]]
    return program


PROGRAMS = {"qa": qa_program, "cot": lambda: dspy.ChainOfThought("question -> answer")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["evaluate", "single", "script", "firstcall"])
    parser.add_argument("arg", help="evaluate: a JSONL file of {question, answer}; else a question")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--api-base", help="firstcall: the OpenAI-compatible server")
    parser.add_argument("--model", help="firstcall: the model it serves")
    parser.add_argument("--program", choices=sorted(PROGRAMS), default="qa")
    args = parser.parse_args()
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    if args.mode == "firstcall":
        lm = dspy.LM(f"openai/{args.model}", api_base=args.api_base, api_key="signet-no-key", temperature=0.0,
                     max_tokens=256, cache=False)
        dspy.configure(lm=lm, adapter=dspy.JSONAdapter())
        program = qa_program()
        started = time.perf_counter()
        answer = program(question=args.arg).answer
        print(json.dumps({"seconds": time.perf_counter() - started, "answer": answer}))
        return
    dspy.configure(lm=testlm.make_lm(), adapter=dspy.ChatAdapter())
    program = PROGRAMS[args.program]()
    if args.mode == "evaluate":
        with open(args.arg) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        devset = [dspy.Example(question=r["question"], answer=r["answer"]).with_inputs("question") for r in rows]
        evaluate = dspy.Evaluate(devset=devset, metric=lambda ex, pred, trace=None: ex.answer == pred.answer,
                                 num_threads=args.threads, display_progress=False, provide_traceback=True)
        started = time.perf_counter()
        result = evaluate(program)
        print(json.dumps({"seconds": time.perf_counter() - started, "n": len(devset), "score": result.score}))
    elif args.mode == "single":
        program(question=args.arg)  # warm-up, as a built-once module
        times = []
        for _ in range(args.n):
            started = time.perf_counter()
            program(question=args.arg)
            times.append(time.perf_counter() - started)
        print(json.dumps({"seconds": statistics.median(times), "n": args.n}))
    else:
        print(json.dumps({"answer": program(question=args.arg).answer}))


if __name__ == "__main__":
    main()
