"""`export` and `import_state`: compiled state in DSPy's own JSON form (docs/protocol.md).

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

from . import builder
from .builder import SignetProgram
from .errors import BadInput
from .protocol import jsonable
from .runner import _base_dir


def _demo_dict(demo: Any) -> dict[str, Any]:
    """A demo as plain fields: DSPy's bookkeeping key `augmented` dropped."""
    raw = demo.toDict() if hasattr(demo, "toDict") else dict(demo)
    return {str(k): jsonable(v) for k, v in raw.items() if k != "augmented"}


def module_views(program: SignetProgram) -> dict[str, dict[str, Any]]:
    """Per program module: the instructions and demos of its (first) predictor.

    A chain_of_thought module's predictor is `<module>.predict`, a react module's first one
    `<module>.react`; modules without a predictor (retrieve) are left out.
    """
    out: dict[str, dict[str, Any]] = {}
    for step in program.steps:
        module = getattr(program, step.name)
        predictors = module.named_predictors()
        if not predictors:
            continue
        predictor = predictors[0][1]
        out[step.name] = {
            "instructions": predictor.signature.instructions,
            "demos": [_demo_dict(d) for d in predictor.demos],
        }
    return out


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
    program = builder.build_program(params.get("program"), _base_dir(params))
    # Optional: a state to apply first (an optimization's result), exported without a program version.
    builder.load_state(program, params.get("state"))
    return {"state": saved_state(program)}


def import_state(params: dict) -> dict[str, Any]:
    program = builder.build_program(params.get("program"), _base_dir(params))
    state = params.get("state")
    if not isinstance(state, dict):
        raise BadInput("state must be an object in DSPy's dump_state() form", field="state")
    entries = {k: v for k, v in state.items() if k != "metadata"}
    names = [name for name, _ in program.named_parameters()]
    for name in names:
        if name not in entries:
            raise BadInput(f"state does not match the program: no entry for predictor {name}", field="state",
                           predictor=name)
    for name, entry in entries.items():
        if name not in names:
            raise BadInput(f"state does not match the program: it has predictor {name}, the program has "
                           f"{', '.join(names)}", field="state", predictor=name)
        if not isinstance(entry, dict):
            raise BadInput(f"state entry {name} must be an object", field="state", predictor=name)
    for name, predictor in program.named_parameters():
        try:
            predictor.load_state({**entries[name], "lm": None})
        except Exception as exc:
            raise BadInput(f"state for predictor {name} does not load: {type(exc).__name__}: {exc}",
                           field="state", predictor=name) from exc
    return {"modules": module_views(program)}
