"""Parse rate of DSPy's adapters on the demo programs, against a real (local) LM.

Runs the three demo programs (examples/qa.yaml, sentiment.yaml, facts.yaml) over every example of
their datasets (qa.jsonl, sentiment.csv) through the worker's own runner - the code path of an
`execute` request, tracing on - once per adapter, and prints one JSON object:

    python tests/parse_rate.py --api-base http://127.0.0.1:8089/v1 [--model ID] \\
        [--adapter chat,json,json_schema] [--programs qa,sentiment,facts] [--limit N] \\
        [--temperature 0] [--max-tokens 256] [--engine auto|litellm] [--dump runs.jsonl]

`--model` is the server's model id (from /v1/models; the default is its first model), sent as
`openai/<id>`; a value that already starts with `openai/` is used as it is. The LM profile is the
one Signet's `local` profile resolves to (`api_base`, no key, `free`, temperature 0, 256 tokens,
DSPy cache off so every call is real). `--engine litellm` runs chat/json through DSPy's LiteLLM
engine too (json_schema always uses it): DSPy's native route sends the token limit as
`max_completion_tokens`, which llama-cpp-python ignores, so there chat/json replies run on until
the context is full. Not collected by pytest: it needs the model server (start one with
tests/local_lm_server.py).

Per program and adapter:
- `calls`: LM calls that returned a completion (each one is parsed by its adapter; ChatAdapter's
  JSON fallback is a second call); `parsed`: those whose adapter `parse` succeeded;
  `parse_rate` = parsed / calls.
- `parsed_by`: parsed/calls per adapter class (ChatAdapter and its JSONAdapter fallback apart).
- `executions`, `ok`, `errors` (by protocol error code: a failed parse that ends the execution is
  `lm_output`), `module_ok` per module: predictor runs that produced their fields, fallback included.
- `latency_ms_mean` (wall time per execution), `prompt_tokens_mean` / `completion_tokens_mean` per
  call as the server reported them, `correct` (a rough answer check against the dataset label).
`overall` sums calls and parsed per adapter over the programs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

WORKER_DIR = Path(__file__).resolve().parent.parent
EXAMPLES = WORKER_DIR.parent.parent / "examples"
sys.path.insert(0, str(WORKER_DIR))
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.setdefault("DSPY_CACHEDIR", tempfile.mkdtemp(prefix="signet-parse-rate-cache-"))
os.environ.setdefault("TQDM_DISABLE", "1")

from signet_worker import protocol  # noqa: E402

# As in the worker: whatever DSPy or LiteLLM prints goes to stderr; stdout carries only the result.
_RESULT_FD = protocol.isolate_stdout()

import yaml  # noqa: E402

from signet_worker import errors, lms, runner  # noqa: E402

# program file -> (dataset file, input fields, label field)
DEMO = {
    "qa": ("qa.yaml", "qa.jsonl", ["question"], "answer"),
    "sentiment": ("sentiment.yaml", "sentiment.csv", ["review"], "sentiment"),
    "facts": ("facts.yaml", "qa.jsonl", ["question"], "answer"),
}
ADAPTERS = ("chat", "json", "json_schema")


def load_rows(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def first_model(api_base: str) -> str:
    with urllib.request.urlopen(api_base.rstrip("/") + "/models", timeout=10) as resp:
        return json.load(resp)["data"][0]["id"]


def correct(program: str, outputs: dict, label: str) -> bool:
    if program == "sentiment":
        return str(outputs.get("sentiment", "")).strip().lower() == label.strip().lower()
    return label.strip().lower() in str(outputs.get("answer", "")).lower()


def run_one(program: dict, inputs: dict, lm: dict, lm_cache: lms.LMCache) -> dict:
    spans: list[dict] = []

    def emit(span: dict) -> None:
        protocol.encode({"id": 1, "event": "spans", "data": {"spans": [span]}})  # the same encoding work as a worker
        if "end" in span:
            spans.append(span)

    started = time.perf_counter()
    try:
        result = runner.execute({"program": program, "inputs": inputs, "lm": lm, "trace": True},
                                emit=emit, cancel=None, lm_cache=lm_cache)
        error = None
    except BaseException as exc:  # noqa: BLE001 - reported like the worker reports it
        if isinstance(exc, KeyboardInterrupt):
            raise
        result, error = None, errors.to_error(exc)
    return {"result": result, "error": error, "spans": spans, "wall_ms": (time.perf_counter() - started) * 1000}


def summarize(program: str, runs: list[dict], labels: list[str]) -> dict:
    calls = parsed = ok = right = 0
    prompt_tokens: list[int] = []
    completion_tokens: list[int] = []
    codes: dict[str, int] = {}
    by_parser: dict[str, list[int]] = {}  # adapter class -> [calls, parsed]: ChatAdapter vs its JSON fallback
    module_runs: dict[str, list[int]] = {}
    for run, label in zip(runs, labels):
        modules_seen: dict[str, bool] = {}
        parse_ids = {s["id"] for s in run["spans"] if s["kind"] == "adapter" and s["name"].endswith(".parse")}
        for span in run["spans"]:
            if span["id"] in parse_ids:
                if span.get("parent") in parse_ids:
                    continue  # DSPy's nested callback wrapper of the same parse
                calls += 1
                parsed += "error" not in span
                entry = by_parser.setdefault(span["name"].rsplit(".", 1)[0], [0, 0])
                entry[0] += 1
                entry[1] += "error" not in span
            elif span["kind"] == "lm" and "usage" in span:
                prompt_tokens.append(span["usage"]["prompt_tokens"])
                completion_tokens.append(span["usage"]["completion_tokens"])
            elif span["kind"] == "module" and span.get("module") and span.get("parent") == _root(run):
                modules_seen[span["module"]] = "error" not in span
        for name, good in modules_seen.items():
            entry = module_runs.setdefault(name, [0, 0])
            entry[0] += 1
            entry[1] += good
        if run["error"] is None:
            ok += 1
            right += correct(program, run["result"]["outputs"], label)
        else:
            codes[run["error"]["code"]] = codes.get(run["error"]["code"], 0) + 1
    mean = (lambda xs: round(statistics.fmean(xs), 1) if xs else None)
    return {
        "executions": len(runs),
        "ok": ok,
        "errors": codes,
        "calls": calls,
        "parsed": parsed,
        "parse_rate": round(parsed / calls, 4) if calls else None,
        "parsed_by": {name: f"{good}/{n}" for name, (n, good) in by_parser.items()},
        "module_ok": {name: f"{good}/{n}" for name, (n, good) in module_runs.items()},
        "correct": right,
        "latency_ms_mean": mean([r["wall_ms"] for r in runs]),
        "prompt_tokens_mean": mean(prompt_tokens),
        "completion_tokens_mean": mean(completion_tokens),
    }


def _root(run: dict) -> str | None:
    for span in run["spans"]:
        if span["kind"] == "module" and "parent" not in span:
            return span["id"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-base", required=True, help="the server's OpenAI-compatible base, e.g. http://127.0.0.1:8089/v1")
    parser.add_argument("--model", help="model id on the server (default: the first of /v1/models)")
    parser.add_argument("--adapter", default=",".join(ADAPTERS), help="comma-separated: chat, json, json_schema")
    parser.add_argument("--programs", default=",".join(DEMO), help="comma-separated: qa, sentiment, facts")
    parser.add_argument("--limit", type=int, default=0, help="examples per program (default: all)")
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--engine", default="auto",
                        help="DSPy engine for chat/json: auto (DSPy's choice, as the worker runs them) or litellm; "
                             "json_schema always uses litellm")
    parser.add_argument("--cache", action="store_true", help="use DSPy's cache (default off: every call is real)")
    parser.add_argument("--dump", help="write every execution (outputs, error, completions) to this JSONL file")
    args = parser.parse_args()

    adapters = [a.strip() for a in args.adapter.split(",") if a.strip()]
    for adapter in adapters:
        if adapter not in lms.ADAPTERS:
            parser.error(f"unknown adapter {adapter!r} (one of {', '.join(lms.ADAPTERS)})")
    programs = [p.strip() for p in args.programs.split(",") if p.strip()]
    for name in programs:
        if name not in DEMO:
            parser.error(f"unknown program {name!r} (one of {', '.join(DEMO)})")
    model = args.model or first_model(args.api_base)
    if not model.startswith("openai/"):
        model = "openai/" + model

    runner.configure_dspy(os.environ["DSPY_CACHEDIR"], 2000)
    lm_cache = lms.LMCache()
    dump = open(args.dump, "w") if args.dump else None
    report: dict = {"model": model, "api_base": args.api_base, "temperature": args.temperature,
                    "max_tokens": args.max_tokens, "engine": args.engine, "programs": {}, "overall": {}}
    for adapter in adapters:
        lm = {"model": model, "api_base": args.api_base, "cache": args.cache, "adapter": adapter,
              "temperature": args.temperature, "max_tokens": args.max_tokens, "free": True}
        if args.engine != "auto" and adapter != "json_schema":
            lm["kwargs"] = {"engine": args.engine}
        total_calls = total_parsed = 0
        for name in programs:
            program_file, dataset_file, input_fields, label_field = DEMO[name]
            program = yaml.safe_load((EXAMPLES / program_file).read_text())
            rows = load_rows(EXAMPLES / dataset_file)
            if args.limit:
                rows = rows[:args.limit]
            runs = []
            for i, row in enumerate(rows):
                run = run_one(program, {k: row[k] for k in input_fields}, lm, lm_cache)
                runs.append(run)
                sys.stderr.write(f"[{adapter}] {name} {i + 1}/{len(rows)}: "
                                 f"{(run['error'] or {}).get('code', 'ok')} {run['wall_ms']:.0f} ms\n")
                if dump is not None:
                    dump.write(json.dumps({
                        "adapter": adapter, "program": name, "inputs": {k: row[k] for k in input_fields},
                        "label": row[label_field], "outputs": (run["result"] or {}).get("outputs"),
                        "error": run["error"],
                        "completions": [s.get("completion") for s in run["spans"] if s["kind"] == "lm"],
                    }) + "\n")
                    dump.flush()
            summary = summarize(name, runs, [row[label_field] for row in rows])
            report["programs"].setdefault(name, {})[adapter] = summary
            total_calls += summary["calls"]
            total_parsed += summary["parsed"]
        report["overall"][adapter] = {"calls": total_calls, "parsed": total_parsed,
                                      "parse_rate": round(total_parsed / total_calls, 4) if total_calls else None}
    if dump is not None:
        dump.close()
    os.write(_RESULT_FD, (json.dumps(report, indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
