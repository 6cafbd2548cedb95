"""Per-predictor state: Signet's stored form (Go's `model.Predictor`) and DSPy's own.

DSPy saves a predictor as `{"traces", "train", "demos", "signature": {"instructions",
"fields": [{"prefix", "description"}, ...]}, "lm"}` (plus a decision `fields` map when
set), with the signature's fields in order and unnamed. Signet stores the same thing
with each field named and typed, so it can be read, diffed and edited, and applies it
with DSPy's own `load_state`, so what runs is what DSPy would run.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import dspy

from .errors import BadProgram
from .protocol import jsonable

# Keys of a predictor's dump_state() that Signet models; anything else is kept in `other`.
_MODELLED = ("signature", "demos", "lm")


def type_name(annotation: Any) -> str:
    """A field's type as DSPy's signature strings write it: str, list[str], Literal['a', 'b']."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    if origin is None:
        return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return f"Optional[{type_name(rest[0])}]"
        return "Union[" + ", ".join(type_name(a) for a in args) + "]"
    name = getattr(origin, "__name__", None) or str(origin).replace("typing.", "")
    return f"{name}[{', '.join(type_name(a) for a in args)}]" if args else name


def predictor_path(module: str, predictor: str) -> str:
    """A predictor's key in the program's dump_state(): "self" is the module itself."""
    return module if predictor == "self" else f"{module}.{predictor}"


def _fields(predictor: dspy.Predict) -> list[tuple[str, Any, bool]]:
    sig = predictor.signature
    return [(name, field, name in sig.input_fields) for name, field in sig.fields.items()]


def describe(name: str, predictor: dspy.Predict) -> dict[str, Any]:
    """The stored form of a built predictor's current state."""
    return from_dspy(name, predictor, predictor.dump_state(), where=name)


def module_predictors(module: dspy.Module) -> list[dict[str, Any]]:
    """Every predictor of a module, in named_predictors() order, in the stored form."""
    return [describe(name, p) for name, p in module.named_predictors()]


def from_dspy(name: str, predictor: dspy.Predict, state: Any, *, where: str) -> dict[str, Any]:
    """A predictor's DSPy state (as dump_state() or a saved file has it) in the stored form.

    The built predictor gives the field names and types, matched by position as DSPy's
    own load_state matches them; a state with another number of fields does not fit.
    """
    if not isinstance(state, dict):
        raise BadProgram(f"{where}: a predictor's state must be an object", field=where)
    sig = state.get("signature")
    if not isinstance(sig, dict) or not isinstance(sig.get("fields", []), list):
        raise BadProgram(f"{where}: no signature with instructions and fields", field=f"{where}.signature")
    fields = _fields(predictor)
    saved = sig.get("fields") or []
    if len(saved) != len(fields):
        raise BadProgram(
            f"{where}: the state has {len(saved)} fields, the predictor has {len(fields)} "
            f"({', '.join(n for n, _, _ in fields)})",
            field=f"{where}.signature.fields",
        )
    out_fields = []
    for i, ((fname, field, is_input), entry) in enumerate(zip(fields, saved)):
        if not isinstance(entry, dict):
            raise BadProgram(f"{where}: signature.fields[{i}] must be an object", field=f"{where}.signature.fields")
        item: dict[str, Any] = {"name": fname, "type": type_name(field.annotation)}
        if is_input:
            item["input"] = True
        for key, out_key in (("prefix", "prefix"), ("description", "description")):
            value = entry.get(key)
            if value is not None:
                if not isinstance(value, str):
                    raise BadProgram(f"{where}: signature.fields[{i}].{key} must be a string",
                                     field=f"{where}.signature.fields")
                item[out_key] = value
        out_fields.append(item)
    instructions = sig.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise BadProgram(f"{where}: signature.instructions must be a string", field=f"{where}.signature.instructions")
    demos = state.get("demos") or []
    if not isinstance(demos, list) or not all(isinstance(d, dict) for d in demos):
        raise BadProgram(f"{where}: demos must be a list of objects", field=f"{where}.demos")
    entry_out: dict[str, Any] = {"name": name, "instructions": instructions or "", "fields": out_fields,
                                 "demos": [jsonable(dict(d)) for d in demos]}
    other = {k: jsonable(v) for k, v in state.items() if k not in _MODELLED and not (k in ("traces", "train") and not v)}
    if other:
        entry_out["other"] = other
    return entry_out


def to_dspy(entry: dict[str, Any], predictor: dspy.Predict, *, where: str) -> dict[str, Any]:
    """A stored predictor as the state DSPy's load_state takes, over the predictor as built.

    Empty instructions and unlisted fields keep what the constructor made; a field the
    predictor does not have is an error naming it.
    """
    if not isinstance(entry, dict):
        raise BadProgram(f"{where} must be an object", field=where)
    current = predictor.signature.dump_state()
    names = [n for n, _, _ in _fields(predictor)]
    stored = entry.get("fields") or []
    if not isinstance(stored, list):
        raise BadProgram(f"{where}.fields must be a list", field=f"{where}.fields")
    by_name: dict[str, dict[str, Any]] = {}
    for i, f in enumerate(stored):
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            raise BadProgram(f"{where}.fields[{i}] must be an object with a name", field=f"{where}.fields[{i}]")
        if f["name"] not in names:
            raise BadProgram(f"{where}: no field {f['name']!r} in the predictor's signature (it has {', '.join(names)})",
                             field=f"{where}.fields[{i}].name")
        by_name[f["name"]] = f
    fields = []
    for name, saved in zip(names, current["fields"]):
        f = by_name.get(name, {})
        fields.append({"prefix": f.get("prefix") or saved["prefix"],
                       "description": f.get("description") or saved["description"]})
    instructions = entry.get("instructions") or current["instructions"]
    if not isinstance(instructions, str):
        raise BadProgram(f"{where}.instructions must be a string", field=f"{where}.instructions")
    demos = entry.get("demos") or []
    if not isinstance(demos, list) or not all(isinstance(d, dict) for d in demos):
        raise BadProgram(f"{where}.demos must be a list of objects", field=f"{where}.demos")
    other = entry.get("other") or {}
    if not isinstance(other, dict):
        raise BadProgram(f"{where}.other must be an object", field=f"{where}.other")
    state: dict[str, Any] = {"traces": [], "train": [], **{k: v for k, v in other.items() if k not in _MODELLED}}
    state.update({"demos": [dict(d) for d in demos], "signature": {"instructions": instructions, "fields": fields},
                  "lm": None})
    return state


def apply(module: dspy.Module, spec: dict[str, Any], module_name: str, demos: list[dict[str, Any]]) -> None:
    """Give a freshly built module its state: the module's own demos to every predictor
    without a stored state, then each stored predictor through DSPy's load_state."""
    named = dict(module.named_predictors())
    stored = spec.get("predictors") or []
    if not isinstance(stored, list):
        raise BadProgram(f"module {module_name}: predictors must be a list", module=module_name, field="predictors")
    entries: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(stored):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or name not in named:
            have = ", ".join(named) or "none"
            raise BadProgram(f"module {module_name}: no predictor {name!r} (it has {have})", module=module_name,
                             field=f"predictors[{i}].name", predictor=name if isinstance(name, str) else None)
        entries[name] = entry
    instructions = spec.get("instructions")
    if spec.get("type") == "custom" and instructions:
        # A custom module's constructor does not take instructions: they go to its one predictor.
        if len(named) != 1:
            raise BadProgram(f"module {module_name}: it has {len(named)} predictors ({', '.join(named)}); "
                             "give instructions per predictor (predictors[].instructions)",
                             module=module_name, field="instructions")
        (only,) = named.values()
        only.signature = only.signature.with_instructions(instructions)
    for name, predictor in named.items():
        if name not in entries and demos:
            inputs = predictor.signature.input_fields
            predictor.demos = [dspy.Example(**d).with_inputs(*[k for k in inputs if k in d]) for d in demos]
    for name, entry in entries.items():
        where = f"module {module_name}: predictors.{name}"
        predictor = named[name]
        try:
            predictor.load_state(to_dspy(entry, predictor, where=where))
        except BadProgram as exc:
            exc.detail.setdefault("module", module_name)
            exc.detail.setdefault("predictor", name)
            raise
        except Exception as exc:
            raise BadProgram(f"{where}: DSPy's load_state refused it: {type(exc).__name__}: {exc}",
                             module=module_name, predictor=name, field="predictors") from exc
