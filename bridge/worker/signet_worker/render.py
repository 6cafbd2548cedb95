"""`render`: the messages each module would send, through DSPy's adapters, without an LM call."""

from __future__ import annotations

from typing import Any

import dspy

from .builder import SignetProgram, Step
from .errors import BadInput
from .tracing import messages_of


def _format(adapter: dspy.Adapter, predictor: dspy.Predict, inputs: dict[str, Any]) -> list[dict[str, str]]:
    kwargs = {k: v for k, v in inputs.items() if k in predictor.signature.input_fields}
    return messages_of(adapter.format(predictor.signature, list(predictor.demos), kwargs))


def render_step(step: Step, module: dspy.Module, adapter: dspy.Adapter, inputs: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"module": step.name, "messages": [], "missing": []}
    missing = [name for name in step.inputs if name not in inputs]
    if missing:
        entry["missing"] = missing
        return entry
    if step.type == "predict":
        entry["messages"] = _format(adapter, module, inputs)
    elif step.type == "chain_of_thought":
        entry["messages"] = _format(adapter, module.predict, inputs)  # the extended signature, with reasoning
    elif step.type == "react":
        with dspy.context(adapter=adapter):
            trajectory = module._format_trajectory({})
        entry["messages"] = _format(adapter, module.react, {**inputs, "trajectory": trajectory})
        entry["note"] = "the first step of the ReAct loop; later steps add the trajectory"
    elif step.type == "retrieve":
        entry["note"] = "a retrieve module calls the user's retriever, not an LM"
    else:
        predictors = module.named_predictors()
        usable = [p for _, p in predictors if all(k in inputs for k in p.signature.input_fields)]
        if len(predictors) == 1 and usable:
            entry["messages"] = _format(adapter, usable[0], inputs)
            entry["note"] = "the custom module's only predictor, called with the record's fields"
        else:
            entry["note"] = "a custom module builds its own LM calls in forward(); run it to see them"
    return entry


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
    return {"modules": [render_step(s, getattr(program, s.name), adapter_for(s.name), inputs) for s in steps]}
