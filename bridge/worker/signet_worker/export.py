"""`export`: compiled state in DSPy's own JSON form (docs/protocol.md), and the views of it.

`export` writes the built program with DSPy's `program.save(path)` (JSON,
save_program=False) and returns the file's content, so what Signet hands a user is
byte-for-byte what DSPy itself would write, and `program.load(path)` reads it in
plain DSPy into a module with the same attribute structure.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import dspy

from . import builder, pyfile, state
from .builder import SignetProgram
from .protocol import jsonable
from .runner import _base_dir


def module_states(program: SignetProgram) -> dict[str, dict[str, Any]]:
    """Per program module with predictors: {"predictors": [stored form of each]} (retrieve modules have none)."""
    out: dict[str, dict[str, Any]] = {}
    for step in program.steps:
        predictors = state.module_predictors(getattr(program, step.name))
        if predictors:
            out[step.name] = {"predictors": predictors}
    return out


def by_path(modules: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    """One key of every predictor ("instructions", "demos"), by its path in the program's dump_state()."""
    return {state.predictor_path(m, p["name"]): p[key] for m, v in modules.items() for p in v["predictors"]}


def clean_state(state: dict[str, Any]) -> dict[str, Any]:
    """A dump_state() without LMs: the LM profiles decide which LM runs, and an LM state may name servers."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, dict) and value.get("lm") is not None:
            value = {**value, "lm": None}
        out[key] = value
    return jsonable(out)


def saved_state(program: dspy.Module) -> dict[str, Any]:
    """Exactly what `program.save(path)` writes to a .json file, read back."""
    fd, path = tempfile.mkstemp(prefix="signet-export-", suffix=".json")
    os.close(fd)
    try:
        program.save(path)
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def export(params: dict) -> dict[str, Any]:
    """What `save(path)` writes: for a one-module program, that module's own save (so
    `dspy.ChainOfThought(sig).load(path)` or the user's own class loads it), else the program's."""
    program = builder.build_program(params.get("program"), _base_dir(params), params.get("indexes"))
    # Optional: a state to apply first (an optimization's result), exported without a program version.
    builder.load_state(program, params.get("state"))
    target = getattr(program, program.steps[0].name) if len(program.steps) == 1 else program
    result: dict[str, Any] = {"state": saved_state(target)}
    if params.get("python"):
        result["python"] = pyfile.render(params.get("program"), program, result["state"], _base_dir(params))
    return result
