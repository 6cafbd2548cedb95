"""`optimize`: run a DSPy optimizer on a program (docs/protocol.md, `optimize`).

The run, in phases: the base program is scored on the scoring set (the
validation set, or the training set when there is none) as trial 0; the
optimizer compiles; the program it returns is scored unless the optimizer
already scored that very program on the whole scoring set; both programs are
scored on the test set, if any.

Trials (candidate programs the optimizer evaluated) are observed, not
re-run: DSPy's `Evaluate` calls go through the callbacks (`on_evaluate_*`),
which random search, MIPROv2 and COPRO use for every candidate; GEPA reports
through its own callback protocol (`on_valset_evaluated`); SIMBA through the
metric wrapped per candidate program (see `simba_hooks`). LM usage and cost
come from the same Tracer `execute` uses, without span events.

A cancel or a spent budget raises `Cancelled` at the next hook; the run then
ends with a result whose program is the best one scored on the whole scoring
set so far (the base program if none).
"""

from __future__ import annotations

import contextvars
import inspect
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import dspy
from dspy.utils.callback import BaseCallback

from . import builder, lms, runner, typed
from .errors import BadInput, Cancelled, WorkerError, with_spent
from .export import by_path, clean_state, module_states
from .metrics import Metric, build_metric, example_of, passed, program_fields, retrieves, score_of
from .progress import COST_ATTR, OptTracer, Progress, RunControl
from .protocol import jsonable
from .tracing import PROFILE_ATTR
from .truncate import cut_span

OPTIMIZERS: dict[str, str] = {
    "labeled_fewshot": "LabeledFewShot",
    "bootstrap_fewshot": "BootstrapFewShot",
    "bootstrap_random_search": "BootstrapFewShotWithRandomSearch",
    "mipro_v2": "MIPROv2",
    "copro": "COPRO",
    "simba": "SIMBA",
    "gepa": "GEPA",
}

# Constructor/compile parameters the request itself decides; a setting naming one is bad_input.
RESERVED: dict[str, str] = {
    "metric": "metric", "student": "program", "trainset": "train", "valset": "val", "teacher": "program",
    "prompt_model": "prompt_lm", "task_model": "task_lm", "reflection_lm": "reflection_lm",
    "num_threads": "threads", "seed": "seed", "eval_kwargs": "threads", "requires_permission_to_run": "-",
    "restrict": "-", "use_wandb": "-", "wandb_api_key": "-", "wandb_init_kwargs": "-", "use_mlflow": "-",
    "instruction_proposer": "-", "code_proposer": "-",
}
DEFAULT_THREADS = 8
# A MIPROv2 minibatch larger than the validation set is an error in DSPy; smaller sets run without one.
MIPRO_MINIBATCH = 35
# An example's output, as a trial stores it, is cut to about this many bytes of text (with a marker).
OUTPUT_LIMIT = 4096


# --- examples -----------------------------------------------------------------------------------

@dataclass
class Dataset:
    examples: list[dspy.Example]
    ids: list[str]

    def id_of(self) -> dict[int, str]:
        return {id(ex): eid for ex, eid in zip(self.examples, self.ids)}


def _dataset(raw: Any, where: str, program: builder.SignetProgram) -> Dataset:
    needed = program.program_inputs()
    if raw is None:
        return Dataset([], [])
    if not isinstance(raw, list):
        raise BadInput(f"{where} must be a list of examples", field=where)
    examples, ids = [], []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise BadInput(f"{where}[{i}] must be an object with id, inputs and outputs", field=f"{where}[{i}]")
        inputs, outputs = item.get("inputs") or {}, item.get("outputs") or {}
        if not isinstance(inputs, dict) or not isinstance(outputs, dict):
            raise BadInput(f"{where}[{i}]: inputs and outputs must be objects", field=f"{where}[{i}]")
        missing = [n for n in needed if n not in inputs]
        if missing:
            raise BadInput(f"{where}[{i}] has no input {missing[0]!r} (the program needs {', '.join(needed)})",
                           field=f"{where}[{i}].inputs.{missing[0]}")
        inputs = typed.convert_inputs(program, inputs, where=f"{where}[{i}].inputs.")
        examples.append(example_of(inputs, outputs))
        ids.append(str(item.get("id") if item.get("id") is not None else f"{where}[{i}]"))
    return Dataset(examples, ids)


# --- trials -------------------------------------------------------------------------------------

def _fingerprint(program: dspy.Module) -> str:
    return json.dumps(clean_state(program.dump_state()), sort_keys=True, default=str)


def example_result(eid: str, prediction: Any, value: Any) -> dict[str, Any]:
    """One example's outcome in a trial: its score, and the program's output and what it cost when known."""
    out: dict[str, Any] = {"example": eid, "score": score_of(value), "pass": passed(value)}
    if prediction is not None:
        output = jsonable(prediction)
        out["output"] = cut_span({"outputs": output if isinstance(output, dict) else {"output": output}},
                                 OUTPUT_LIMIT)["outputs"]
        cost = getattr(prediction, COST_ATTR, None)
        if isinstance(cost, (int, float)):
            out["cost"] = round(float(cost), 12)
    return out


class Proposals:
    """MIPROv2's proposed instructions, by predictor path: sent once, with the first trial after them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[str]] | None = None

    def put(self, program: dspy.Module, candidates: Any) -> None:
        """candidates is what MIPROv2's _propose_instructions returns: {predictor index: [instructions]}."""
        if not isinstance(candidates, dict):
            return
        names = [name for name, _ in program.named_predictors()]
        out = {names[i]: [str(c) for c in cands] for i, cands in candidates.items()
               if isinstance(i, int) and 0 <= i < len(names) and isinstance(cands, list)}
        with self._lock:
            self._pending = out or None

    def take(self) -> dict[str, list[str]] | None:
        with self._lock:
            out, self._pending = self._pending, None
        return out


@dataclass
class Best:
    n: int
    score: float
    state: dict[str, Any]
    modules: dict[str, Any]
    results: list[dict[str, Any]]


@dataclass
class Recorder:
    """Numbers trials, sends their events, remembers the best full-scoring-set one."""

    emit: Callable[[dict[str, Any]], None] | None
    progress: Progress
    control: RunControl
    scoring: Dataset
    lock: threading.Lock = field(default_factory=threading.Lock)
    count: int = -1  # the baseline is trial 0
    best: Best | None = None
    full: dict[str, tuple[int, float, list[dict[str, Any]]]] = field(default_factory=dict)  # state -> trial
    last_cost: float = 0.0
    last_at: float | None = None

    def results(self, rows: list[tuple[dspy.Example, Any, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """Per-example results in scoring-set order, and whether they cover the whole scoring set.

        rows are (example, prediction, metric value); a prediction is None where the optimizer gave none.
        """
        index = self.scoring.id_of()
        by_id: dict[str, dict[str, Any]] = {}
        for example, prediction, value in rows:
            eid = index.get(id(example))
            if eid is None:
                return [], False
            by_id[eid] = example_result(eid, prediction, value)
        if not self.scoring.ids or set(by_id) != set(self.scoring.ids):
            return [], False
        return [by_id[eid] for eid in self.scoring.ids], True

    def record(self, program: dspy.Module, score: float, results: list[dict[str, Any]], full: bool,
               **extra: Any) -> int:
        """Number a trial and send it; extra are the optimizer's own fields of it (lineage, proposals)."""
        state = clean_state(program.dump_state())
        modules = module_states(program) if isinstance(program, builder.SignetProgram) else {}
        key = json.dumps(state, sort_keys=True, default=str)
        now = time.monotonic()
        cost = self.progress.tracer.totals()[3] if self.progress.tracer is not None else 0.0
        with self.lock:
            self.count += 1
            n = self.count
            # What the trial took: the time and cost since the trial before it (the run's start for the first).
            spent, took = cost - self.last_cost, now - (self.last_at or self.progress.started)
            self.last_cost, self.last_at = cost, now
            if full:
                self.full[key] = (n, score, results)  # the latest: a re-evaluation of the base is a trial
                if self.best is None or score > self.best.score:
                    self.best = Best(n, score, state, modules, results)
            best_score = self.best.score if self.best is not None else None
        if self.emit is not None:
            self.emit({
                "n": n, "score": score,
                "instructions": by_path(modules, "instructions"),
                "demos": by_path(modules, "demos"),
                "results": results if full else [],
                "modules": modules,
                "cost": round(max(spent, 0.0), 12),
                "duration_s": round(took, 3),
                **{k: v for k, v in extra.items() if v is not None},
            })
        self.progress.on_trial(n, score, best_score)
        self.control.check()  # a trial boundary is a cancel point
        return n

    @property
    def trials(self) -> int:
        return max(0, self.count)


class EvaluateWatch(BaseCallback):
    """Every `dspy.Evaluate` call of the optimizer is a trial (the worker's own are not)."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder
        self.enabled = True
        self.own: set[int] = set()
        self.proposals = Proposals()
        self._calls: dict[str, tuple[Any, list[Any]]] = {}
        self._lock = threading.Lock()

    def on_evaluate_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        if not self.enabled or id(instance) in self.own:
            return
        devset = inputs.get("devset")
        if devset is None:
            devset = getattr(instance, "devset", None) or []
        with self._lock:
            self._calls[call_id] = (inputs.get("program"), list(devset))

    def on_evaluate_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        with self._lock:
            call = self._calls.pop(call_id, None)
        if call is None or exception is not None or outputs is None:
            return
        program, _ = call
        rows = list(getattr(outputs, "results", None) or [])
        if not rows or not isinstance(program, dspy.Module):
            return
        score = sum(score_of(v) for _, _, v in rows) / len(rows)
        results, full = self.recorder.results(rows)
        self.recorder.record(program, score, results, full, proposals=self.proposals.take())


# --- SIMBA: no Evaluate, no callbacks -----------------------------------------------------------

class SimbaWatch:
    """Groups SIMBA's metric calls by the candidate program they score (see `simba_hooks`)."""

    def __init__(self, recorder: Recorder, progress: Progress, steps: int, bsize: int):
        self.recorder = recorder
        self.progress = progress
        self.steps = max(1, steps)
        self.bsize = bsize
        self.step = 0
        self._lock = threading.Lock()
        self._groups: dict[int, tuple[dspy.Module, list[tuple[dspy.Example, Any, Any]]]] = {}
        self._wraps: dict[int, int] = {}

    def step_start(self) -> None:
        self.flush()
        self.step += 1
        self.progress.fraction = min(1.0, (self.step - 1) / self.steps)
        self.progress.tick()

    def metric_for(self, program: dspy.Module, metric: Callable[..., Any]) -> Callable[..., Any]:
        with self._lock:
            self._wraps[id(program)] = self._wraps.get(id(program), 0) + 1
            self._groups.setdefault(id(program), (program, []))

        def scored(example: dspy.Example, prediction: Any, *args: Any, **kwargs: Any) -> Any:
            value = metric(example, prediction, *args, **kwargs)
            with self._lock:
                self._groups[id(program)][1].append((example, prediction, value))
            return value

        return scored

    def flush(self) -> None:
        """Candidates scored since the last flush become trials (a sampled trajectory, wrapped once, is not)."""
        with self._lock:
            groups = [(p, pairs) for key, (p, pairs) in self._groups.items()
                      if pairs and (self._wraps.get(key, 0) > 1 or self.bsize == 1)]
            self._groups.clear()
            self._wraps.clear()
        for program, rows in groups:
            score = sum(score_of(v) for _, _, v in rows) / len(rows)
            results, full = self.recorder.results(rows)
            self.recorder.record(program, score, results, full)


_SIMBA: contextvars.ContextVar[SimbaWatch | None] = contextvars.ContextVar("signet_simba", default=None)
_simba_lock = threading.Lock()
_simba_installed = False


def simba_hooks() -> None:
    """Route SIMBA's `wrap_program` and `prepare_models_for_resampling` through the run's SimbaWatch.

    SIMBA offers no hook: it wraps each candidate with the metric (`wrap_program`) and starts each
    step by preparing LMs. The module-level names SIMBA calls are replaced once, process-wide, by
    pass-throughs that consult a context variable, so concurrent requests each see their own watch
    and a run without one sees DSPy's behaviour unchanged.
    """
    global _simba_installed
    with _simba_lock:
        if _simba_installed:
            return
        from dspy.teleprompt import simba as simba_mod

        wrap_program = simba_mod.wrap_program
        prepare = simba_mod.prepare_models_for_resampling

        def hooked_wrap_program(program: dspy.Module, metric: Callable[..., Any]) -> Callable[..., Any]:
            watch = _SIMBA.get()
            return wrap_program(program, watch.metric_for(program, metric) if watch is not None else metric)

        def hooked_prepare(program: dspy.Module, n: int, teacher_settings: dict | None = None) -> list[Any]:
            watch = _SIMBA.get()
            if watch is not None:
                watch.step_start()
            return prepare(program, n, teacher_settings)

        simba_mod.wrap_program = hooked_wrap_program
        simba_mod.prepare_models_for_resampling = hooked_prepare
        _simba_installed = True


# --- GEPA ---------------------------------------------------------------------------------------

class GepaWatch:
    """GEPA's callback and stop condition: its valset evaluations are the trials."""

    def __init__(self, recorder: Recorder, progress: Progress, control: RunControl, base: dspy.Module,
                 optimizer: Any):
        self.recorder = recorder
        self.progress = progress
        self.control = control
        self.base = base
        self.optimizer = optimizer
        self.trial_of: dict[int, int] = {}  # GEPA's candidate index -> trial number
        self.pending: list[str] = []  # the predictors the last proposal rewrote

    def __call__(self, gepa_state: Any) -> bool:  # StopperProtocol
        return self.control.should_stop()

    def candidate_program(self, candidate: dict[str, str]) -> dspy.Module:
        program = self.base.deepcopy()
        for name, predictor in program.named_predictors():
            if name in candidate:
                predictor.signature = predictor.signature.with_instructions(candidate[name])
        return program

    def on_valset_evaluated(self, event: dict[str, Any]) -> None:
        scores = event.get("scores_by_val_id") or {}
        outputs = event.get("outputs_by_val_id") or {}
        examples = self.recorder.scoring.examples
        rows = [(examples[i], outputs.get(i), s) for i, s in scores.items()
                if isinstance(i, int) and 0 <= i < len(examples)]
        score = float(event.get("average_score") or 0.0)
        results, full = self.recorder.results(rows) if len(rows) == len(scores) else ([], False)
        # GEPA numbers its candidates itself: the lineage is kept in its numbers and mapped to trials here.
        idx = event.get("candidate_idx")
        parents = [self.trial_of[p] for p in (event.get("parent_ids") or [])
                   if isinstance(p, int) and p in self.trial_of]
        # A child evaluated on the validation set was accepted from the last proposal (a merge proposes none).
        reflection, self.pending = (sorted(self.pending) if parents else None), []
        n = self.recorder.record(self.candidate_program(event.get("candidate") or {}), score, results, full,
                                 parents=parents or None, reflection=reflection or None)
        if isinstance(idx, int):
            self.trial_of[idx] = n

    def on_proposal_end(self, event: dict[str, Any]) -> None:
        """The predictors reflection rewrote: the next candidate accepted is made of them."""
        self.pending = [str(k) for k in (event.get("new_instructions") or {})]

    def on_candidate_rejected(self, event: dict[str, Any]) -> None:
        self.pending = []

    def on_merge_attempted(self, event: dict[str, Any]) -> None:
        self.pending = []

    def on_budget_updated(self, event: dict[str, Any]) -> None:
        total = getattr(self.optimizer, "max_metric_calls", None)
        used = event.get("metric_calls_used")
        if total and isinstance(used, int):
            self.progress.fraction = min(1.0, used / total)
        self.progress.tick()

    def __getattr__(self, name: str) -> Any:
        # The other GEPACallback events are of no use here; GEPA calls whichever methods exist.
        if name.startswith("on_"):
            return lambda event: None
        raise AttributeError(name)


# --- settings -----------------------------------------------------------------------------------

def _params(fn: Callable[..., Any]) -> set[str]:
    return {name for name, p in inspect.signature(fn).parameters.items()
            if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def split_settings(cls: type, settings: dict[str, Any], optimizer: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(constructor kwargs, compile kwargs); an unknown or reserved key is bad_input naming it."""
    init_keys, compile_keys = _params(cls.__init__), _params(cls.compile)
    init, compile_ = {}, {}
    for key, value in settings.items():
        if key in RESERVED:
            by = RESERVED[key]
            hint = f" (the request's {by} sets it)" if by != "-" else " (not supported by Signet)"
            raise BadInput(f"settings.{key} cannot be set for {optimizer}{hint}", field=f"settings.{key}")
        if key in init_keys:
            init[key] = value
        elif key in compile_keys:
            compile_[key] = value
        else:
            known = sorted((init_keys | compile_keys) - set(RESERVED))
            raise BadInput(f"unknown setting {key!r} for {optimizer} (known: {', '.join(known)})",
                           field=f"settings.{key}")
    return init, compile_


# --- the run ------------------------------------------------------------------------------------

@dataclass
class Run:
    """What one optimize request holds while it runs."""

    params: dict[str, Any]
    program: builder.SignetProgram
    metric: Metric
    train: Dataset
    val: Dataset
    test: Dataset
    scoring: Dataset
    control: RunControl
    tracer: OptTracer
    progress: Progress
    recorder: Recorder
    watch: EvaluateWatch
    threads: int
    seed: int | None
    lm: Any
    prompt_lm: Any
    task_lm: Any
    reflection_lm: Any

    def evaluate(self, program: dspy.Module, data: Dataset) -> tuple[float, list[tuple[dspy.Example, Any, Any]]]:
        """The worker's own scoring of a program (not a trial of the optimizer's)."""
        errors: list[BaseException] = []

        def call(**inputs: Any) -> Any:
            try:
                return program(**inputs)
            except Exception as exc:
                errors.append(exc)
                raise

        evaluator = dspy.Evaluate(devset=data.examples, metric=self.metric, num_threads=self.threads,
                                  display_progress=False, display_table=False, max_errors=len(data.examples) + 1,
                                  failure_score=0.0, provide_traceback=False)
        self.watch.own.add(id(evaluator))
        try:
            result = evaluator(call)
        finally:
            self.watch.own.discard(id(evaluator))
        rows = list(result.results)
        if errors and len(errors) >= len(data.examples):
            # Every example failed: a broken configuration (a refused key, an unknown model), not a score.
            raise errors[0]
        score = sum(score_of(v) for _, _, v in rows) / len(rows) if rows else 0.0
        return score, rows


def _lm_for(raw: Any, where: str, lm_cache: lms.LMCache, profiles: dict[int, Any]) -> Any:
    if raw is None:
        return None
    profile = lms.parse_profile(raw, where)
    lm = lm_cache.for_request(profile)
    setattr(lm, PROFILE_ATTR, profile)
    profiles[id(lm)] = profile
    return lm


def optimize(params: dict, *, emit: Callable[[str, dict[str, Any]], None] | None, cancel: threading.Event | None,
             lm_cache: lms.LMCache, gate: Any = None) -> dict[str, Any]:
    started = time.monotonic()
    base_dir = runner._base_dir(params)
    program = builder.build_program(params.get("program"), base_dir, params.get("indexes"))
    if params.get("lm") is None:
        raise BadInput("optimize needs an LM profile (lm)", field="lm")
    optimizer_name = params.get("optimizer")
    if optimizer_name not in OPTIMIZERS:
        raise BadInput(f"unknown optimizer {optimizer_name!r} (want {', '.join(OPTIMIZERS)})", field="optimizer")
    settings = params.get("settings") or {}
    if not isinstance(settings, dict):
        raise BadInput("settings must be an object", field="settings")
    cls = getattr(dspy, OPTIMIZERS[optimizer_name])
    split_settings(cls, _aliases(optimizer_name, settings), optimizer_name)  # bad keys fail before any LM call

    profiles: dict[int, Any] = {}
    profile = lms.parse_profile(params.get("lm"))
    lm = _lm_for(params.get("lm"), "lm", lm_cache, profiles)
    for name, module_profile in runner._module_profiles(params, program).items():
        module_lm = lm_cache.for_request(module_profile)
        setattr(module_lm, PROFILE_ATTR, module_profile)
        profiles[id(module_lm)] = module_profile
        program.set_module_context(name, module_lm, lms.make_adapter(module_profile))
    builder.load_state(program, params.get("state"))

    train = _dataset(params.get("train"), "train", program)
    val = _dataset(params.get("val"), "val", program)
    test = _dataset(params.get("test"), "test", program)
    if not train.examples:
        raise BadInput("optimize needs training examples (train)", field="train")
    scoring = val if val.examples else train

    threads = params.get("threads") or DEFAULT_THREADS
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise BadInput("threads must be a positive integer", field="threads")
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadInput("seed must be an integer", field="seed")
    budget = params.get("budget")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget < 0):
        raise BadInput("budget must be a number of USD (0 or absent for none)", field="budget")

    control = RunControl(cancel, float(budget) if budget else None)
    progress = Progress((lambda data: emit("progress", data)) if emit is not None else None)
    tracer = OptTracer(control=control, profiles=profiles, on_lm=progress.tick, gate=gate)
    progress.tracer = tracer
    control.on_metric = progress.tick

    metric_spec = params.get("metric")
    metric_lm = _lm_for(metric_spec.get("lm"), "metric.lm", lm_cache, profiles) if isinstance(metric_spec, dict) else None
    inputs, outputs = program_fields(program)
    metric = build_metric(metric_spec, control, inputs=inputs, outputs=outputs, base_dir=base_dir,
                          judge_lm=metric_lm or lm, retrieves=retrieves(program))
    recorder = Recorder((lambda data: emit("trial", data)) if emit is not None else None, progress, control, scoring)
    watch = EvaluateWatch(recorder)
    run = Run(params, program, metric, train, val, test, scoring, control, tracer, progress, recorder, watch,
              threads, seed, lm, _lm_for(params.get("prompt_lm"), "prompt_lm", lm_cache, profiles),
              _lm_for(params.get("task_lm"), "task_lm", lm_cache, profiles),
              _lm_for(params.get("reflection_lm"), "reflection_lm", lm_cache, profiles))

    result: dict[str, Any] = {"baseline_score": None, "best_score": None, "test_baseline": None, "test_score": None,
                              "best_trial": None, "stopped": None}
    best_program: dspy.Module | None = None
    val_results: dict[str, list[dict[str, Any]]] = {"baseline": [], "best": []}
    try:
        with dspy.context(lm=lm, adapter=lms.make_adapter(profile), callbacks=[tracer, watch], trace=[],
                          max_history_size=runner.MAX_HISTORY_SIZE, track_usage=False):
            progress.set_phase("baseline")
            score, pairs = run.evaluate(program, scoring)
            result["baseline_score"] = score
            val_results["baseline"], _ = recorder.results(pairs)
            recorder.record(program, score, val_results["baseline"], True)

            compiled = _compile(run, optimizer_name, cls, settings)

            best_program = compiled
            seen = recorder.full.get(_fingerprint(compiled))
            if seen is not None and seen[0] > 0:
                n, best_score, best_results = seen
            else:
                progress.set_phase("evaluate")
                best_score, pairs = run.evaluate(compiled, scoring)
                best_results, _ = recorder.results(pairs)
                n = recorder.record(compiled, best_score, best_results, True)
            result.update(best_score=best_score, best_trial=n)
            val_results["best"] = best_results

            if test.examples:
                progress.set_phase("test")
                result["test_baseline"], _ = run.evaluate(program, test)
                result["test_score"], _ = run.evaluate(compiled, test)
    except Cancelled:
        if control.error is not None:
            raise with_spent(control.error, tracer.spent()) from None
        result["stopped"] = control.reason if control.reason in ("budget", "cancelled") else "cancelled"
        best_program = None
    except BaseException as exc:
        # A failed run is charged what it spent: the error says so (detail.spent).
        with_spent(exc, tracer.spent())
        raise
    finally:
        runner.trim_global_history()

    if best_program is not None:
        state = clean_state(best_program.dump_state())
        modules = module_states(best_program)
    elif recorder.best is not None:
        state, modules = recorder.best.state, recorder.best.modules
        result.update(best_score=recorder.best.score, best_trial=recorder.best.n)
        val_results["best"] = recorder.best.results
    else:
        state, modules = clean_state(program.dump_state()), module_states(program)
    progress.set_phase("done")
    lm_calls, _, _, cost = tracer.totals()
    result.update({
        "trials": recorder.trials,
        "modules": modules,
        "state": state,
        "lm_calls": lm_calls,
        "usage": tracer.usage_totals(),
        "cost": round(cost, 12),
        "cost_unknown": tracer.cost_unknown,
        "duration_ms": round((time.monotonic() - started) * 1000, 3),
        "val_results": val_results,
    })
    return result


def _aliases(optimizer: str, settings: dict[str, Any]) -> dict[str, Any]:
    """LabeledFewShot calls its demo count `k`; Signet's forms call it max_labeled_demos for every optimizer."""
    if optimizer == "labeled_fewshot" and "max_labeled_demos" in settings:
        settings = dict(settings)
        settings.setdefault("k", settings.pop("max_labeled_demos"))
    return settings


def _compile(run: Run, name: str, cls: type, settings: dict[str, Any]) -> dspy.Module:
    settings = _aliases(name, settings)
    init, compile_kwargs = split_settings(cls, settings, name)
    student = run.program
    train = run.train.examples
    val = run.val.examples or None
    progress, threads = run.progress, run.threads

    def build(**extra: Any) -> Any:
        try:
            return cls(**{**extra, **init})
        except (ValueError, TypeError, AssertionError) as exc:
            raise BadInput(f"{name}: {exc}", field="settings") from exc

    def go(optimizer: Any, **kwargs: Any) -> dspy.Module:
        try:
            return optimizer.compile(student, **{**kwargs, **compile_kwargs})
        except (ValueError, AssertionError) as exc:
            if isinstance(exc, WorkerError):
                raise
            raise BadInput(f"{name}: {type(exc).__name__}: {exc}", field="settings") from exc

    if name == "labeled_fewshot":
        progress.set_phase("bootstrap", trials=1)
        return go(build(), trainset=train)
    if name == "bootstrap_fewshot":
        progress.set_phase("bootstrap", trials=1)
        # Its one candidate takes a pass over the training set, one metric call per example tried (it stops
        # early once it has its demos): that pass is its progress, and so its time left.
        control, start = run.control, run.control.metric_calls
        progress.follow(lambda: control.metric_calls - start, len(train))
        try:
            return go(build(metric=run.metric), trainset=train)
        finally:
            progress.follow(None)
    if name == "bootstrap_random_search":
        optimizer = build(metric=run.metric, num_threads=threads)
        progress.set_phase("trials", trials=optimizer.num_candidate_sets + 3)
        return go(optimizer, trainset=train, valset=val)
    if name == "mipro_v2":
        return _mipro(run, build, go, settings, train, val)
    if name == "copro":
        optimizer = build(metric=run.metric, prompt_model=run.prompt_lm)
        npred = len(student.predictors())
        progress.set_phase("trials", trials=optimizer.depth * optimizer.breadth * max(1, npred))
        return go(optimizer, trainset=train,
                  eval_kwargs={"num_threads": threads, "display_progress": False, "display_table": False})
    if name == "simba":
        extra: dict[str, Any] = {"metric": run.metric, "num_threads": threads, "prompt_model": run.prompt_lm}
        if "bsize" not in init:
            extra["bsize"] = min(32, len(train))  # DSPy's 32 asserts on smaller training sets
        optimizer = build(**extra)
        simba_hooks()
        watch = SimbaWatch(run.recorder, progress, optimizer.max_steps, optimizer.bsize)
        progress.set_phase("trials")
        token = _SIMBA.set(watch)
        try:
            kwargs: dict[str, Any] = {"trainset": train}
            if run.seed is not None:
                kwargs["seed"] = run.seed
            compiled = go(optimizer, **kwargs)
            watch.flush()
            return compiled
        finally:
            _SIMBA.reset(token)
    # gepa
    extra = {"metric": run.metric, "num_threads": threads,
             "reflection_lm": run.reflection_lm or run.prompt_lm or run.lm}
    if not any(k in init for k in ("auto", "max_full_evals", "max_metric_calls")):
        extra["auto"] = "light"
    if run.seed is not None:
        extra["seed"] = run.seed
    gepa_kwargs = dict(init.pop("gepa_kwargs", None) or {})
    watch = GepaWatch(run.recorder, progress, run.control, student, None)
    gepa_kwargs["callbacks"] = list(gepa_kwargs.get("callbacks") or []) + [watch]
    stops = gepa_kwargs.get("stop_callbacks") or []
    gepa_kwargs["stop_callbacks"] = (list(stops) if isinstance(stops, (list, tuple)) else [stops]) + [watch]
    optimizer = build(gepa_kwargs=gepa_kwargs, **extra)
    watch.optimizer = optimizer
    run.watch.enabled = False  # GEPA's own evaluations (minibatches with traces) are not candidates
    progress.set_phase("trials")
    try:
        return go(optimizer, trainset=train, valset=val)
    finally:
        run.watch.enabled = True


def _mipro(run: Run, build: Callable[..., Any], go: Callable[..., dspy.Module], settings: dict[str, Any],
           train: list[dspy.Example], val: list[dspy.Example] | None) -> dspy.Module:
    extra: dict[str, Any] = {"metric": run.metric, "num_threads": run.threads}
    if run.prompt_lm is not None:
        extra["prompt_model"] = run.prompt_lm
    if run.task_lm is not None:
        extra["task_model"] = run.task_lm
    if run.seed is not None:
        extra["seed"] = run.seed
    if ("num_trials" in settings or "num_candidates" in settings) and "auto" not in settings:
        extra["auto"] = None  # explicit trials: DSPy refuses them together with its default auto="light"
    optimizer = build(**extra)
    progress = run.progress
    kwargs: dict[str, Any] = {"trainset": train, "valset": val}
    if optimizer.auto is None and "minibatch" not in settings:
        size = len(val) if val else max(1, int(len(train) * 0.8))
        kwargs["minibatch"] = size > settings.get("minibatch_size", MIPRO_MINIBATCH)

    def phase(attr: str, name: str, trials: Callable[..., int | None] | None = None,
              then: Callable[..., None] | None = None) -> None:
        original = getattr(optimizer, attr)

        def hooked(*args: Any, **kw: Any) -> Any:
            progress.set_phase(name, trials=trials(*args, **kw) if trials is not None else None)
            out = original(*args, **kw)
            if then is not None:
                then(out, *args)
            return out

        setattr(optimizer, attr, hooked)

    def trial_count(program: Any, instructions: Any, demos: Any, evaluate: Any, valset: Any, num_trials: int,
                    minibatch: bool, minibatch_size: int, full_eval_steps: int, *rest: Any) -> int:
        # The Evaluate calls MIPROv2 makes: the default program, each trial, and (with minibatches) the
        # periodic and final full evaluations; plus the worker's own evaluation of the result.
        if not minibatch:
            return num_trials + 1
        extra_end = 1 if num_trials % full_eval_steps else 0
        return num_trials + num_trials // full_eval_steps + 1 + extra_end

    phase("_bootstrap_fewshot_examples", "bootstrap")
    phase("_propose_instructions", "propose",
          then=lambda candidates, program, *rest: run.watch.proposals.put(program, candidates))
    phase("_optimize_prompt_parameters", "trials", trial_count)
    return go(optimizer, **kwargs)
