"""Program specs (the JSON of Go's `model.Program`) to real `dspy.Module`s.

`SignetProgram` holds one DSPy module per program module, as an attribute
named after it, so `named_predictors()` gives stable names (`answer.predict`
for a ChainOfThought module called `answer`) and `dump_state()`/`load_state()`
are DSPy's own. Its `forward(**inputs)` runs the modules in order over a shared
record (program inputs plus earlier outputs) and returns a `dspy.Prediction` of
everything the modules produced.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass, field
from typing import Any

import dspy

from . import state, typed, userload
from .errors import BadInput, BadProgram, UserCodeError

MODULE_TYPES = ("predict", "chain_of_thought", "react", "retrieve", "custom")
DEFAULT_RETRIEVE_SIGNATURE = "query -> passages"


@dataclass
class Step:
    """What the program runner needs to know about one module."""

    name: str
    type: str
    inputs: list[str]
    outputs: list[str]
    signature: Any = None  # the declared dspy.Signature, if any
    pass_all: bool = False  # custom module whose forward takes **kwargs: give it the whole record
    optional: list[str] = field(default_factory=list)  # forward() parameters with defaults, passed when known


class SignetProgram(dspy.Module):
    """A Signet program as a DSPy module: its modules run in order over a shared record."""

    def __init__(self, name: str, steps: list[Step], modules: list[dspy.Module]):
        super().__init__()
        self._signet_name = name
        self._signet_steps = steps
        self._signet_overrides: dict[str, tuple[Any, Any]] = {}
        for step, module in zip(steps, modules):
            setattr(self, step.name, module)
        # The steps never change after the build: what a caller must give is worked out once.
        self._signet_inputs = tuple(_program_inputs(steps))

    @property
    def signet_name(self) -> str:
        return self._signet_name

    @property
    def steps(self) -> list[Step]:
        return self._signet_steps

    def set_module_context(self, module: str, lm: Any = None, adapter: Any = None) -> None:
        """Run `module` under dspy.context(lm=..., adapter=...) (a per-module LM override)."""
        self._signet_overrides[module] = (lm, adapter)

    def program_inputs(self) -> list[str]:
        """Fields a caller must give: module inputs no earlier module produces, in first-use order."""
        return list(self._signet_inputs)

    def forward(self, **inputs: Any) -> dspy.Prediction:
        record = dict(inputs)
        produced: dict[str, Any] = {}
        for step in self._signet_steps:
            if step.pass_all:
                kwargs = dict(record)
            else:
                kwargs = {name: record[name] for name in (*step.inputs, *step.optional) if name in record}
            module = getattr(self, step.name)
            override = self._signet_overrides.get(step.name)
            if override is None:
                result = module(**kwargs)
            else:
                lm, adapter = override
                settings = {k: v for k, v in (("lm", lm), ("adapter", adapter)) if v is not None}
                with dspy.context(**settings) if settings else contextlib.nullcontext():
                    result = module(**kwargs)
            values = _values(result, step)
            record.update(values)
            produced.update(values)
        return dspy.Prediction(**produced)


def _program_inputs(steps: list[Step]) -> list[str]:
    produced: set[str] = set()
    out: list[str] = []
    for step in steps:
        for name in step.inputs:
            if name not in produced and name not in out:
                out.append(name)
        produced.update(step.outputs)
    return out


def _values(result: Any, step: Step) -> dict[str, Any]:
    if isinstance(result, dspy.Example):  # Prediction is an Example
        values = dict(result.items())
    elif isinstance(result, dict):
        values = dict(result)
    elif len(step.outputs) == 1:
        values = {step.outputs[0]: result}
    else:
        raise UserCodeError(
            f"module {step.name} returned {type(result).__name__}; a module must return a dspy.Prediction",
            module=step.name,
        )
    missing = [name for name in step.outputs if name not in values]
    if missing:
        raise UserCodeError(f"module {step.name} did not produce {', '.join(missing)}", module=step.name,
                            field=missing[0])
    return values


# --- building ---------------------------------------------------------------------------------------

_RESERVED = frozenset(dir(SignetProgram)) | {"callbacks", "history", "_compiled"}


def _check_name(raw: Any, index: int) -> str:
    if not isinstance(raw, str) or not raw.isidentifier():
        raise BadProgram(f"modules[{index}].name {raw!r} is not a Python identifier", field=f"modules[{index}].name",
                         module=raw if isinstance(raw, str) else None)
    if raw in _RESERVED or raw.startswith("_signet"):
        raise BadProgram(f"module name {raw!r} is reserved by dspy.Module; choose another name", module=raw,
                         field="name")
    return raw


def make_signature(spec: dict, module: str, *, default: str | None = None) -> Any:
    """dspy.Signature(signature, instructions) with per-field descriptions."""
    text = spec.get("signature") or default
    if not isinstance(text, str) or not text.strip():
        raise BadProgram(f"module {module}: a signature is required (\"inputs -> outputs\")", module=module,
                         field="signature")
    instructions = spec.get("instructions") or None
    if instructions is not None and not isinstance(instructions, str):
        raise BadProgram(f"module {module}: instructions must be a string", module=module, field="instructions")
    try:
        sig = dspy.Signature(text, instructions) if instructions else dspy.Signature(text)
    except Exception as exc:
        raise BadProgram(f"module {module}: signature {text!r}: {exc}", module=module, field="signature") from exc
    if not sig.output_fields:
        raise BadProgram(f"module {module}: signature {text!r} has no output field", module=module,
                         field="signature")
    fields = spec.get("fields") or {}
    if not isinstance(fields, dict):
        raise BadProgram(f"module {module}: fields must map field names to descriptions", module=module,
                         field="fields")
    for name, desc in fields.items():
        if name not in sig.fields:
            raise BadProgram(f"module {module}: no field {name!r} in signature {text!r}", module=module,
                             field=f"fields.{name}")
        if not isinstance(desc, str):
            raise BadProgram(f"module {module}: the description of {name} must be a string", module=module,
                             field=f"fields.{name}")
        sig = sig.with_updated_fields(name, desc=desc)
    return sig


def _raw_demos(spec: dict, module: str) -> list[dict[str, Any]]:
    raw = spec.get("demos") or []
    if not isinstance(raw, list):
        raise BadProgram(f"module {module}: demos must be a list of objects", module=module, field="demos")
    for i, demo in enumerate(raw):
        if not isinstance(demo, dict):
            raise BadProgram(f"module {module}: demos[{i}] must be an object", module=module, field=f"demos[{i}]")
    return raw


def _config(spec: dict, module: str) -> dict[str, Any]:
    config = spec.get("config") or {}
    if not isinstance(config, dict):
        raise BadProgram(f"module {module}: config must be an object", module=module, field="config")
    return dict(config)


def _tool_refs(spec: dict, config: dict, module: str) -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    tools = config.pop("tools", None) or []
    if isinstance(tools, str):
        tools = [tools]
    if not isinstance(tools, list):
        raise BadProgram(f"module {module}: config.tools must be a list of path/to/file.py:function",
                         module=module, field="config.tools")
    refs.extend((t, "config.tools") for t in tools)
    source = spec.get("source")
    if source:
        path, _, names = str(source).rpartition(":")
        refs.extend((f"{path}:{n.strip()}", "source") for n in names.split(",") if n.strip())
    return refs


def _tools(spec: dict, config: dict, module: str, base_dir: str | None) -> list[dspy.Tool]:
    tools = []
    for ref_text, where in _tool_refs(spec, config, module):
        ref = userload.parse_ref(ref_text, base_dir, module=module, field=where)
        obj = userload.load(ref, module=module, field=where)
        if isinstance(obj, dspy.Tool):
            tools.append(obj)
        elif callable(obj):
            tools.append(dspy.Tool(obj))
        else:
            raise BadProgram(f"module {module}: {where}: {ref_text} is not callable", module=module, field=where)
    return tools


class UserRetrieve(dspy.Module):
    """A `retrieve` module backed by the user's retriever callable: fn(query, k=...) -> passages."""

    def __init__(self, fn: Any, query_field: str, output_field: str, k: int | None):
        super().__init__()
        self.fn = fn
        self.query_field = query_field
        self.output_field = output_field
        self.k = k

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        query = kwargs.get(self.query_field)
        try:
            takes_k = "k" in inspect.signature(self.fn).parameters
        except (TypeError, ValueError):
            takes_k = False
        result = self.fn(query, k=self.k) if (takes_k and self.k is not None) else self.fn(query)
        return dspy.Prediction(**{self.output_field: _passages(result)})


def _passages(result: Any) -> list[Any]:
    if isinstance(result, dspy.Prediction):
        result = result.get("passages", list(result.values())[0] if len(result.keys()) else [])
    if isinstance(result, str):
        return [result]
    if isinstance(result, (list, tuple)):
        out = []
        for item in result:
            if isinstance(item, dict):
                out.append(item.get("long_text") or item.get("text") or item)
            else:
                out.append(getattr(item, "long_text", None) or item)
        return out
    return [result]


def _build_custom(spec: dict, module: str, base_dir: str | None) -> tuple[dspy.Module, Step]:
    source = spec.get("source")
    if not source:
        raise BadProgram(f"module {module}: a custom module needs source: path/to/file.py:ClassOrFactory",
                         module=module, field="source")
    ref = userload.parse_ref(source, base_dir, module=module, field="source")
    obj = userload.load(ref, module=module, field="source")
    config = _config(spec, module)
    if isinstance(obj, type) and not issubclass(obj, dspy.Module):
        raise BadProgram(f"module {module}: {ref.name} in {ref.path} is not a dspy.Module subclass", module=module,
                         field="source")
    if not callable(obj):
        raise BadProgram(f"module {module}: {ref.name} in {ref.path} is neither a class nor a factory",
                         module=module, field="source")
    try:
        instance = obj(**config)
    except Exception as exc:
        raise UserCodeError(f"module {module}: {ref.name}(**config) raised {type(exc).__name__}: {exc}",
                            module=module, traceback=_tb(exc)) from exc
    if not isinstance(instance, dspy.Module):
        raise BadProgram(f"module {module}: {ref.name}(**config) returned {type(instance).__name__}, not a dspy.Module",
                         module=module, field="source")
    if spec.get("signature"):
        sig = make_signature(spec, module)
        step = Step(module, "custom", list(sig.input_fields), list(sig.output_fields), sig)
    else:
        inputs, optional, pass_all = _forward_params(instance)
        step = Step(module, "custom", inputs, [], None, pass_all=pass_all, optional=optional)
    state.apply(instance, spec, module, _raw_demos(spec, module))
    return instance, step


def _forward_params(instance: dspy.Module) -> tuple[list[str], list[str], bool]:
    """(required, optional, takes **kwargs) of a custom module's forward()."""
    try:
        params = inspect.signature(type(instance).forward).parameters
    except (TypeError, ValueError):
        return [], [], True
    required, optional, var_kw = [], [], False
    for i, (name, p) in enumerate(params.items()):
        if i == 0 and name == "self":
            continue
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            (required if p.default is p.empty else optional).append(name)
    return required, optional, var_kw


def _tb(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _build_index_retrieve(spec: dict, name: str, source: Any, indexes: dict[str, Any] | None
                          ) -> tuple[dspy.Module, Step]:
    """A retrieve module over an index Signet built (`retriever: {index, k, search}`)."""
    from .retrieval import search

    if source:
        raise BadProgram(f"module {name}: source and retriever are exclusive: a retrieve module searches your "
                         "function or an index, not both", module=name, field="retriever")
    sig = make_signature(spec, name, default=DEFAULT_RETRIEVE_SIGNATURE)
    if not sig.input_fields:
        raise BadProgram(f"module {name}: a retrieve signature needs a query input", module=name, field="signature")
    index, how, k = search.check_retriever(spec.get("retriever"), name, search.parse_indexes(indexes))
    mod = search.IndexRetrieve(index, how, k, next(iter(sig.input_fields)), next(iter(sig.output_fields)))
    return mod, Step(name, "retrieve", list(sig.input_fields), list(sig.output_fields), sig)


def build_module(spec: dict, index: int, base_dir: str | None,
                 indexes: dict[str, Any] | None = None) -> tuple[dspy.Module, Step]:
    if not isinstance(spec, dict):
        raise BadProgram(f"modules[{index}] must be an object", field=f"modules[{index}]")
    name = _check_name(spec.get("name"), index)
    kind = spec.get("type")
    if kind not in MODULE_TYPES:
        raise BadProgram(f"module {name}: unknown type {kind!r} (want {', '.join(MODULE_TYPES)})", module=name,
                         field="type")
    if kind == "custom":
        return _build_custom(spec, name, base_dir)
    config = _config(spec, name)
    if kind == "retrieve":
        source = spec.get("source")
        if spec.get("retriever") is not None:
            return _build_index_retrieve(spec, name, source, indexes)
        if not source:
            raise BadProgram(
                f"module {name}: a retrieve module needs source: path/to/file.py:function naming your retriever "
                "(called as function(query, k=...) and returning passages); Signet configures no retrieval "
                "model of its own",
                module=name, field="source",
            )
        sig = make_signature(spec, name, default=DEFAULT_RETRIEVE_SIGNATURE)
        if not sig.input_fields:
            raise BadProgram(f"module {name}: a retrieve signature needs a query input", module=name,
                             field="signature")
        ref = userload.parse_ref(source, base_dir, module=name, field="source")
        fn = userload.load(ref, module=name, field="source")
        if not callable(fn):
            raise BadProgram(f"module {name}: {source} is not callable", module=name, field="source")
        k = config.get("k")
        mod: dspy.Module = UserRetrieve(fn, next(iter(sig.input_fields)), next(iter(sig.output_fields)),
                                        int(k) if isinstance(k, (int, float)) else None)
        return mod, Step(name, kind, list(sig.input_fields), list(sig.output_fields), sig)
    sig = make_signature(spec, name)
    demos = _raw_demos(spec, name)
    if kind == "predict":
        mod = dspy.Predict(sig, **config)
    elif kind == "chain_of_thought":
        mod = dspy.ChainOfThought(sig, **config)
    else:  # react
        tools = _tools(spec, config, name, base_dir)
        max_iters = config.pop("max_iters", None)
        if max_iters is not None and (isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1):
            raise BadProgram(f"module {name}: config.max_iters must be a positive integer", module=name,
                             field="config.max_iters")
        mod = dspy.ReAct(sig, tools=tools, **({"max_iters": max_iters} if max_iters else {}))
    state.apply(mod, spec, name, demos)
    return mod, Step(name, kind, list(sig.input_fields), list(sig.output_fields), sig)


def build_program(spec: Any, base_dir: str | None = None, indexes: Any = None) -> SignetProgram:
    """A SignetProgram from a program spec; `bad_program` errors name the module and field.

    `indexes` is the request's `indexes` (index name -> {dir, retriever, embedder, passages}), read by
    retrieve modules with a `retriever`.
    """
    if not isinstance(spec, dict):
        raise BadProgram("program must be an object with name and modules", field="program")
    modules = spec.get("modules")
    if not isinstance(modules, list) or not modules:
        raise BadProgram("a program needs at least one module", field="modules")
    built, steps, seen = [], [], set()
    for i, module_spec in enumerate(modules):
        mod, step = build_module(module_spec, i, base_dir, indexes)
        if step.name in seen:
            raise BadProgram(f"duplicate module name {step.name!r}", module=step.name, field="name")
        seen.add(step.name)
        built.append(mod)
        steps.append(step)
    name = spec.get("name") if isinstance(spec.get("name"), str) else "program"
    return SignetProgram(name or "program", steps, built)


def load_state(program: SignetProgram, state: Any) -> None:
    """DSPy's own load_state, ignoring any LM recorded in the state (the LM profile decides)."""
    if state is None:
        return
    if not isinstance(state, dict):
        raise BadInput("state must be an object in DSPy's dump_state() form", field="state")
    state = {k: v for k, v in state.items() if k != "metadata"}
    cleaned = {k: ({**v, "lm": None} if isinstance(v, dict) and "lm" in v else v) for k, v in state.items()}
    missing = [name for name, _ in program.named_parameters() if name not in cleaned]
    if missing:
        raise BadInput(f"state does not match the program: no entry for {', '.join(missing)}", field="state",
                       predictor=missing[0])
    try:
        program.load_state(cleaned)
    except Exception as exc:
        raise BadInput(f"state does not load into the program: {type(exc).__name__}: {exc}", field="state") from exc


def check_inputs(program: SignetProgram, inputs: Any) -> dict[str, Any]:
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise BadInput("inputs must be an object mapping field names to values", field="inputs")
    needed = program.program_inputs()
    for name in needed:
        if name not in inputs:
            raise BadInput(f"missing input {name!r} (the program needs {', '.join(needed)})", field=name)
    return typed.convert_inputs(program, inputs)


def module_map(program: SignetProgram) -> dict[int, tuple[str, str]]:
    """id(sub-module) -> (program module name, dotted path) for every module inside the program."""
    out: dict[int, tuple[str, str]] = {}
    for step in program.steps:
        top = getattr(program, step.name)
        for sub_name, sub in top.named_sub_modules():
            path = step.name if sub_name == "self" else step.name + sub_name[len("self"):]
            out.setdefault(id(sub), (step.name, path))
        # Tools of a ReAct module are not sub-modules; give them their module too.
        tools = getattr(top, "tools", None)
        if isinstance(tools, dict):
            for tool_name, tool in tools.items():
                out.setdefault(id(tool), (step.name, f"{step.name}.tools.{tool_name}"))
    return out


def describe(program: SignetProgram) -> list[dict[str, Any]]:
    """Each module's fields. A custom module without a signature reads its forward()'s parameters; what it
    returns is known only when it runs, so its outputs here are those of its predictors (`declared` false)."""
    out = []
    for s in program.steps:
        entry: dict[str, Any] = {"name": s.name, "type": s.type, "inputs": list(s.inputs), "outputs": list(s.outputs)}
        if s.type == "custom" and s.signature is None:
            outputs: list[str] = []
            for _, predictor in getattr(program, s.name).named_predictors():
                outputs += [n for n in predictor.signature.output_fields if n not in outputs]
            entry.update(outputs=outputs, declared=False)
        out.append(entry)
    return out
