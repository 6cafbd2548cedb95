"""`render`: the messages each predictor would send, through DSPy's adapters, without an LM call.

Every predictor of every module is rendered with its applied state (instructions, field
prefixes and descriptions, demos). A value known only during a run (an earlier module's
output, a ReAct trajectory, a field a custom module computes in forward()) is shown as
the placeholder `{name}` and listed in `placeholders`.
"""

from __future__ import annotations

from typing import Any

import dspy

from .builder import SignetProgram, Step
from .errors import BadInput
from .state import predictor_path
from .tracing import messages_of


def placeholder(name: str) -> str:
    return "{" + name + "}"


def _format(adapter: dspy.Adapter, predictor: dspy.Predict, inputs: dict[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    kwargs, missing = {}, []
    for name in predictor.signature.input_fields:
        if name in inputs:
            kwargs[name] = inputs[name]
        else:
            kwargs[name] = placeholder(name)
            missing.append(name)
    return messages_of(adapter.format(predictor.signature, list(predictor.demos), kwargs)), missing


def render_step(step: Step, module: dspy.Module, adapter: dspy.Adapter, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    if step.type == "retrieve":
        index = getattr(module, "index_spec", None)  # an IndexRetrieve (retriever: in the program file)
        note = (f"a retrieve module searching index {index.name} ({module.search}, k={module.k}), not an LM"
                if index is not None else "a retrieve module calls your retriever, not an LM")
        return [{"module": step.name, "predictor": "", "messages": [], "placeholders": [], "note": note}]
    entries = []
    for name, predictor in module.named_predictors():
        given = dict(inputs)
        note = ""
        if step.type == "react" and name == "react":
            with dspy.context(adapter=adapter):
                given["trajectory"] = module._format_trajectory({})
            note = "the first step of the ReAct loop; later steps add the trajectory"
        elif step.type == "react":
            note = "the extraction after the ReAct loop, over its trajectory"
        elif step.type == "custom" and len(module.named_predictors()) > 1:
            note = "called from the module's forward(), with the values it computes"
        messages, missing = _format(adapter, predictor, given)
        entries.append({"module": step.name, "predictor": name, "path": predictor_path(step.name, name),
                        "messages": messages, "placeholders": missing, "note": note})
    if not entries:
        entries.append({"module": step.name, "predictor": "", "messages": [], "placeholders": [],
                        "note": "a custom module without predictors: its forward() makes no DSPy LM call Signet can render"})
    return entries


def render(program: SignetProgram, inputs: dict[str, Any], adapter_for: Any, module: str | None = None) -> dict[str, Any]:
    """`adapter_for(module_name)` gives the adapter each module runs with."""
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise BadInput("inputs must be an object mapping field names to values", field="inputs")
    steps = program.steps
    if module is not None:
        steps = [s for s in steps if s.name == module]
        if not steps:
            raise BadInput(f"no module {module!r} in the program", field="module")
    out: list[dict[str, Any]] = []
    for s in steps:
        out += render_step(s, getattr(program, s.name), adapter_for(s.name), inputs)
    return {"modules": out}
