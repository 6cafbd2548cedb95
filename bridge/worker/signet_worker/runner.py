"""The methods that touch DSPy: execute, render, validate (docs/protocol.md, "Methods")."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import dspy
from dspy import clients as dspy_clients
from dspy.clients import base_lm

from . import builder, lms, programs, render as render_mod, runlock, scoring, typeadapters, typed
from .errors import BadInput
from .lazydisk import LazyDiskCache
from .protocol import jsonable
from .tracing import SpanSink, Tracer

# DSPy's adapters build a pydantic TypeAdapter per value; the worker keeps one per type (typeadapters.py).
typeadapters.install()

# Per-LM and per-module DSPy histories are kept this short: the tracer reads an
# entry right after the call that appended it.
MAX_HISTORY_SIZE = 32
# DSPy's process-wide history (dspy.inspect_history) keeps at most this many entries here.
GLOBAL_HISTORY_KEEP = 16


# DSPy's on-disk LM cache lives in the workspace; this bounds it (DSPy's own default is 30 GB).
DEFAULT_DISK_CACHE_LIMIT = 1 << 30


def configure_dspy(cache_dir: str | None, memory_cache_entries: int, disk_limit: int = DEFAULT_DISK_CACHE_LIMIT) -> None:
    """Process-wide DSPy settings for a long-lived worker (called once, from the main thread)."""
    directory = cache_dir or dspy_clients.DISK_CACHE_DIR
    # DSPy's cache with its memory tier; the disk tier is opened at its first use (lazydisk.py), with the
    # arguments DSPy's Cache would give FanoutCache.
    dspy.configure_cache(enable_disk_cache=False, memory_max_entries=memory_cache_entries, disk_cache_dir=directory,
                         disk_size_limit_bytes=disk_limit)
    cache = dspy.cache
    cache.disk_cache = LazyDiskCache(directory=directory, shards=16, timeout=10, size_limit=disk_limit)
    cache.enable_disk_cache = True
    # DSPy bounds its global history at MAX_HISTORY_SIZE (10 000 by default) on each append.
    base_lm.MAX_HISTORY_SIZE = GLOBAL_HISTORY_KEEP


def trim_global_history() -> None:
    history = base_lm.GLOBAL_HISTORY
    excess = len(history) - GLOBAL_HISTORY_KEEP
    if excess > 0:
        del history[:excess]


def _base_dir(params: dict) -> str | None:
    base_dir = params.get("base_dir")
    if base_dir is not None and not isinstance(base_dir, str):
        raise BadInput("base_dir must be a string", field="base_dir")
    return base_dir or None


def _module_profiles(params: dict, program: builder.SignetProgram) -> dict[str, lms.LMProfile]:
    raw = params.get("module_lms") or {}
    if not isinstance(raw, dict):
        raise BadInput("module_lms must map module names to LM profiles", field="module_lms")
    names = {s.name for s in program.steps}
    out = {}
    for name, spec in raw.items():
        if name not in names:
            raise BadInput(f"module_lms names no module of the program: {name!r}", field=f"module_lms.{name}")
        if spec is None:
            continue
        out[name] = lms.parse_profile(spec, f"module_lms.{name}")
    return out


def execute(params: dict, *, emit: SpanSink | Callable[[dict], None] | None, cancel: threading.Event | None,
            lm_cache: lms.LMCache, gate: Any = None, cache: programs.ProgramCache = programs.SHARED) -> dict[str, Any]:
    started = time.monotonic()
    base_dir = _base_dir(params)
    # One execution's Python at a time in this worker; its LM and tool calls let the others run (runlock.py).
    with runlock.running(), cache.checkout(params.get("program"), base_dir, params.get("indexes"),
                                           params.get("state"), params.get("program_key")) as built:
        return _execute(params, built, started, emit=emit, cancel=cancel, lm_cache=lm_cache, gate=gate,
                        base_dir=base_dir)


def _execute(params: dict, built: programs.Built, started: float, *, emit: SpanSink | Callable[[dict], None] | None,
             cancel: threading.Event | None, lm_cache: lms.LMCache, gate: Any, base_dir: str | None
             ) -> dict[str, Any]:
    program = built.program
    if params.get("lm") is None:
        raise BadInput("execute needs an LM profile (lm)", field="lm")
    profile = lms.parse_profile(params.get("lm"))
    module_profiles = _module_profiles(params, program)
    inputs = builder.check_inputs(program, params.get("inputs"))

    leases = [lm_cache.lease(profile)]
    try:
        lm = leases[0].lm
        profiles: dict[int, lms.LMProfile] = {id(lm): profile}
        for name, module_profile in module_profiles.items():
            leases.append(lm_cache.lease(module_profile))
            module_lm = leases[-1].lm
            profiles[id(module_lm)] = module_profile
            program.set_module_context(name, module_lm, lms.make_adapter(module_profile))
        return _run(params, built, started, inputs, lm, profile, profiles, emit=emit, cancel=cancel,
                    lm_cache=lm_cache, gate=gate, base_dir=base_dir)
    finally:
        for lease in leases:
            lease.release()


def _run(params: dict, built: programs.Built, started: float, inputs: dict[str, Any], lm: Any,
         profile: lms.LMProfile, profiles: dict[int, lms.LMProfile], *, emit: SpanSink | Callable[[dict], None] | None,
         cancel: threading.Event | None, lm_cache: lms.LMCache, gate: Any, base_dir: str | None) -> dict[str, Any]:
    program = built.program
    metric = scoring.build(params, program, task_lm=lm, lm_cache=lm_cache, profiles=profiles, cancel=cancel,
                           base_dir=base_dir)

    trace = params.get("trace", True) is not False
    tracer = Tracer(emit=emit if trace else None, cancel=cancel, program=program,
                    modules=built.module_map, profiles=profiles, gate=gate)
    score: float | None = None
    scores: dict[str, float] = {}
    try:
        with dspy.context(lm=lm, adapter=lms.make_adapter(profile), callbacks=[tracer], trace=[],
                          max_history_size=MAX_HISTORY_SIZE, track_usage=False):
            prediction = program(**inputs)
            if metric is not None:
                score = metric.score(inputs, prediction, tracer)
                scores = metric.scores(inputs, prediction, tracer)
    finally:
        trim_global_history()
    outputs = jsonable(dict(prediction.items()))
    result: dict[str, Any] = {
        "outputs": outputs,
        "usage": tracer.usage_dict(),
        "cost": round(tracer.cost, 12),
        "cost_unknown": tracer.cost_unknown,
        "duration_ms": round((time.monotonic() - started) * 1000, 3),
    }
    if metric is not None:
        result["score"] = score
        if scores:
            result["scores"] = scores
    embed_cache = tracer.embed_cache()
    if embed_cache is not None:
        result["embed_cache"] = embed_cache
    return result


def render(params: dict, cache: programs.ProgramCache = programs.SHARED) -> dict[str, Any]:
    with cache.checkout(params.get("program"), _base_dir(params), params.get("indexes"), params.get("state")) as built:
        return _render(params, built.program)


def _render(params: dict, program: builder.SignetProgram) -> dict[str, Any]:
    raw_lm = params.get("lm")
    if isinstance(raw_lm, dict) and not raw_lm.get("model"):
        # Only the adapter matters here; a caller without an LM profile may send an empty one.
        raw_lm = {"model": "-", "adapter": raw_lm.get("adapter") or "chat"}
    profile = lms.parse_profile(raw_lm) if raw_lm is not None else None
    module_profiles = _module_profiles(params, program)
    module = params.get("module")
    if module is not None and not isinstance(module, str):
        raise BadInput("module must be a module name or null", field="module")

    def adapter_for(name: str) -> dspy.Adapter:
        return lms.make_adapter(module_profiles.get(name, profile))

    inputs = typed.convert_inputs(program, params.get("inputs"))
    return render_mod.render(program, inputs, adapter_for, module)


def validate(params: dict, cache: programs.ProgramCache = programs.SHARED) -> dict[str, Any]:
    with cache.checkout(params.get("program"), _base_dir(params), params.get("indexes"), None) as built:
        return {"modules": builder.describe(built.program), "inputs": built.program.program_inputs()}
