"""`import_state`: what DSPy's `save()` wrote, as a Signet program (docs/protocol.md).

Accepted: a bare `Predict` save (the predictor's state at the top level), any module's
JSON save (one key per predictor path), and, only when the caller trusts it, a
`save_program=True` directory (loaded with cloudpickle). The state goes into an existing
program (a new version of it) or makes a new one whose modules are inferred from the
state's shape. Either way the result is checked: the program built from it must dump
exactly the state that was imported, or nothing is imported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cloudpickle
import dspy

from . import builder, state
from .errors import BadInput, BadProgram
from .export import clean_state
from .protocol import jsonable
from .state import predictor_path
from .runner import _base_dir

AGENT_TEXT = "You are an Agent. In each episode"


def import_state(params: dict) -> dict[str, Any]:
    warnings: list[str] = []
    obj = None
    if params.get("pickle"):
        obj, raw = _unpickle(params["pickle"])
    else:
        raw = params.get("state")
    if not isinstance(raw, dict):
        raise BadInput("state must be an object, as DSPy's save() writes it", field="state")
    raw = dict(raw)
    metadata = raw.pop("metadata", None)
    warnings += _version_warnings(metadata)
    bare = "signature" in raw and "demos" in raw
    entries = {"self": raw} if bare else raw
    for key, value in entries.items():
        if not isinstance(value, dict):
            raise BadInput(f"state key {key!r} is not a predictor's state (an object)", field="state", predictor=key)
        if value.get("lm"):
            warnings.append(f"predictor {key} names an LM ({_lm_name(value['lm'])}); ignored: Signet's LM profiles "
                            "decide which LM runs")

    base_dir = _base_dir(params)
    spec = params.get("program")
    if spec is None:
        spec = _infer_program(params, entries, obj, warnings)
    elif not isinstance(spec, dict):
        raise BadInput("program must be an object", field="program")
    program = builder.build_program(spec, base_dir, params.get("indexes"))
    per_module, relative = _match(program, entries)

    spec = json.loads(json.dumps(spec))  # a copy the caller's object does not share
    for module in spec["modules"]:
        predictors = per_module.get(module["name"])
        if predictors is None:
            continue
        built = getattr(program, module["name"])
        named = dict(built.named_predictors())
        module["predictors"] = [state.from_dspy(name, named[name], value, where=predictor_path(module["name"], name))
                                for name, value in predictors]
        module.pop("demos", None)  # the predictors' own demos replace the module's
    _check_lossless(spec, base_dir, entries, relative, params.get("indexes"))
    return {"program": spec, "warnings": warnings}


def _unpickle(path: Any) -> tuple[dspy.Module | None, dict[str, Any]]:
    """A save_program=True directory (the module, and its state with metadata), or a state
    saved as .pkl (no module). Only ever called when the user trusts the file."""
    if not isinstance(path, str):
        raise BadInput("pickle must be the path of a save_program=True directory or a .pkl file", field="pickle")
    where = Path(path)
    if where.is_file():
        try:
            with open(where, "rb") as f:
                state = cloudpickle.load(f)
        except Exception as exc:
            raise BadInput(f"{where}: the pickled state does not load: {type(exc).__name__}: {exc}",
                           field="pickle") from exc
        if not isinstance(state, dict):
            raise BadInput(f"{where} holds a {type(state).__name__}, not a saved state", field="pickle")
        return None, jsonable(state)
    try:
        metadata = json.loads((where / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{where}: no readable metadata.json: {exc}", field="pickle") from exc
    try:
        obj = dspy.load(str(where), allow_pickle=True)
    except Exception as exc:
        raise BadInput(f"{where}: the pickled program does not load: {type(exc).__name__}: {exc}",
                       field="pickle") from exc
    if not isinstance(obj, dspy.Module):
        raise BadInput(f"{where}: program.pkl holds a {type(obj).__name__}, not a dspy.Module", field="pickle")
    return obj, {**obj.dump_state(), "metadata": metadata}


def _version_warnings(metadata: Any) -> list[str]:
    if not isinstance(metadata, dict):
        return []
    versions = metadata.get("dependency_versions")
    saved = versions.get("dspy") if isinstance(versions, dict) else None
    ours = getattr(dspy, "__version__", None)
    if saved and ours and saved != ours:
        return [f"the file was saved by DSPy {saved}; the workers run DSPy {ours}"]
    return []


def _lm_name(lm: Any) -> str:
    return str(lm.get("model")) if isinstance(lm, dict) and lm.get("model") else "an LM"


# --- matching keys to predictors --------------------------------------------------------------------

def _match(program: builder.SignetProgram,
           entries: dict[str, Any]) -> tuple[dict[str, list[tuple[str, Any]]], bool]:
    """{module: [(predictor name, its state)]}, every key placed and every predictor given; and whether
    the keys were those of a one-module program's module (its own save()) rather than the program's."""
    relative = False
    paths: dict[str, tuple[str, str]] = {}  # key in a program save -> (module, predictor)
    for step in program.steps:
        for name, _ in getattr(program, step.name).named_predictors():
            paths[predictor_path(step.name, name)] = (step.name, name)
    if len(program.steps) == 1:
        # A one-module program also takes what that module's own save() writes.
        only = program.steps[0].name
        own = {name: (only, name) for name, _ in getattr(program, only).named_predictors()}
        if len(set(entries) & set(own)) > len(set(entries) & set(paths)):
            paths, relative = own, True
    unknown = [k for k in entries if k not in paths]
    if unknown:
        have = ", ".join(paths) or "none"
        raise BadInput(f"state key {unknown[0]!r} fits no predictor of the program (its predictors: {have})",
                       field="state", predictor=unknown[0])
    missing = [k for k in paths if k not in entries]
    if missing:
        raise BadInput(f"the state has no entry for predictor {missing[0]!r} (DSPy's load() would raise KeyError)",
                       field="state", predictor=missing[0])
    out: dict[str, list[tuple[str, Any]]] = {}
    for key, (module, name) in paths.items():
        out.setdefault(module, []).append((name, entries[key]))
    return out, relative


def _check_lossless(spec: dict[str, Any], base_dir: str | None, entries: dict[str, Any], relative: bool,
                    indexes: Any = None) -> None:
    program = builder.build_program(spec, base_dir, indexes)
    target: dspy.Module = getattr(program, program.steps[0].name) if relative else program
    got = target.dump_state()
    if isinstance(target, dspy.Predict):
        got = {"self": got}
    got, want = _normal(got), _normal(entries)
    if got != want:
        diff = next(k for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k))
        raise BadInput(f"the imported state does not round-trip through DSPy at predictor {diff!r}; nothing imported",
                       field="state", predictor=diff)


def _normal(entries: dict[str, Any]) -> dict[str, Any]:
    """Predictor states compared as DSPy applies them: no LM, empty traces and train as absent."""
    out = {}
    for key, value in clean_state(entries).items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "lm" and not (k in ("traces", "train") and not v)}
        out[key] = value
    return out


# --- a new program from the state's shape ---------------------------------------------------------

def _infer_program(params: dict, entries: dict[str, Any], obj: Any, warnings: list[str]) -> dict[str, Any]:
    name = params.get("name")
    if not isinstance(name, str) or not name:
        raise BadInput("a new program needs a name", field="name")
    kind = params.get("type") or None
    signature = params.get("signature") or None
    source = params.get("source") or None
    if obj is not None:
        kind = kind or _kind_of(obj)
        signature = signature or _signature_of(obj, kind)
        instructions = _instructions_of(obj, kind)
    else:
        kind = kind or _kind_from_keys(entries, source)
        instructions = None
    module: dict[str, Any] = {"name": "main", "type": kind}
    if kind == "custom":
        if not source:
            raise BadInput("the state comes from your own dspy.Module (predictors "
                           f"{', '.join(entries)}): give its class with --source path/to/file.py:ClassName",
                           field="source")
        module["source"] = source
        if signature:
            module["signature"] = signature
        return {"name": name, "modules": [module]}
    if source:
        module["source"] = source  # ReAct's tools
    if signature is None:
        signature, guessed = _infer_signature(kind, entries)
        if guessed:
            warnings.append(f"the file does not say which fields are inputs; imported as {signature!r} "
                            "(pass --signature to say otherwise)")
    module["signature"] = signature
    if instructions is None:
        instructions = _user_instructions(kind, entries)
    default = dspy.Signature(signature).instructions
    if instructions and instructions != default:
        module["instructions"] = instructions
    if kind == "react" and not source:
        warnings.append("a ReAct state without its tools: pass --source tools.py:fn1,fn2 to run it with them")
    return {"name": name, "modules": [module]}


def _kind_of(obj: Any) -> str:
    if type(obj) is dspy.Predict:
        return "predict"
    if type(obj) is dspy.ChainOfThought:
        return "chain_of_thought"
    if type(obj) is dspy.ReAct:
        return "react"
    return "custom"


def _kind_from_keys(entries: dict[str, Any], source: str | None) -> str:
    keys = set(entries)
    if keys == {"self"}:
        return "predict"
    if keys == {"react", "extract.predict"}:
        return "react"
    if keys == {"predict"} and not source and any(_field_name(f) == "reasoning"
                                                  for f in _saved_fields(entries["predict"])):
        return "chain_of_thought"
    return "custom"


def _signature_of(obj: Any, kind: str) -> str | None:
    if kind == "predict":
        sig = obj.signature
    elif kind in ("chain_of_thought",):
        sig = obj.predict.signature.delete("reasoning")
    elif kind == "react":
        sig = obj.signature
    else:
        return None
    return _signature_string(sig)


def _signature_string(sig: Any) -> str:
    def side(fields: dict[str, Any]) -> str:
        return ", ".join(name if f.annotation is str else f"{name}: {state.type_name(f.annotation)}"
                         for name, f in fields.items())

    return f"{side(sig.input_fields)} -> {side(sig.output_fields)}"


def _instructions_of(obj: Any, kind: str) -> str | None:
    if kind == "predict":
        return obj.signature.instructions
    if kind == "chain_of_thought":
        return obj.predict.signature.instructions
    if kind == "react":
        return obj.signature.instructions
    return None


def _saved_fields(entry: Any) -> list[dict[str, Any]]:
    sig = entry.get("signature") if isinstance(entry, dict) else None
    fields = sig.get("fields") if isinstance(sig, dict) else None
    return [f for f in fields if isinstance(f, dict)] if isinstance(fields, list) else []


def _field_name(field: dict[str, Any]) -> str:
    """A saved field's name: DSPy's default description is "${name}"; else from the prefix."""
    desc = field.get("description")
    if isinstance(desc, str):
        m = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", desc)
        if m:
            return m.group(1)
    prefix = str(field.get("prefix") or "").strip().rstrip(":").strip()
    name = re.sub(r"[^0-9A-Za-z]+", "_", prefix).strip("_").lower()
    return name if name.isidentifier() else "field"


def _infer_signature(kind: str, entries: dict[str, Any]) -> tuple[str, bool]:
    if kind == "predict":
        names = [_field_name(f) for f in _saved_fields(entries["self"])]
        if len(names) < 2:
            raise BadInput("cannot tell the predictor's fields: pass --signature", field="signature")
        return f"{', '.join(names[:-1])} -> {names[-1]}", True
    if kind == "chain_of_thought":
        names = [_field_name(f) for f in _saved_fields(entries["predict"])]
        at = names.index("reasoning")
        return f"{', '.join(names[:at])} -> {', '.join(names[at + 1:])}", False
    # react: inputs precede "trajectory" in the react predictor; outputs follow "reasoning" in extract
    react = [_field_name(f) for f in _saved_fields(entries["react"])]
    extract = [_field_name(f) for f in _saved_fields(entries["extract.predict"])]
    if "trajectory" not in react or "reasoning" not in extract:
        raise BadInput("the ReAct state's fields are not DSPy's ReAct fields: pass --signature", field="signature")
    inputs = react[:react.index("trajectory")]
    outputs = extract[extract.index("reasoning") + 1:]
    return f"{', '.join(inputs)} -> {', '.join(outputs)}", False


def _user_instructions(kind: str, entries: dict[str, Any]) -> str | None:
    key = {"predict": "self", "chain_of_thought": "predict", "react": "react"}[kind]
    sig = entries[key].get("signature") or {}
    text = sig.get("instructions") if isinstance(sig, dict) else None
    if not isinstance(text, str):
        return None
    if kind == "react":
        at = text.find(AGENT_TEXT)
        if at < 0:
            return None  # rewritten by an optimizer: the react predictor's stored text says it all
        return text[:at].rstrip("\n") or None
    return text
