"""Inputs as DSPy receives them from Python code: each value converted to its field's declared type.

Requests carry JSON, and the CLI's `--input k=v` and untyped CSV cells carry strings, while a DSPy
module called from Python gets a `dspy.History`, a `dspy.Image`, a tuple, an int, a pydantic model...
`convert_inputs` closes that gap before a module runs (docs/protocol.md, "Inputs"):

- the type of an input is the annotation of the first module (in program order) that reads it and
  declares something other than `str`/`Any`: from its signature, or for a custom module without one,
  from its `forward()` annotations; a field no module types is left as it is;
- `dspy.History` from a list of turns (objects) or `{"messages": [...]}`; `dspy.Image` from a data
  URI, an http(s)/gs URL, `{"url": ...}` or the path of an image file (read as `Image.from_path` does;
  relative to the worker's working directory); also inside `list[...]`, `Optional[...]` and the like;
- anything else through pydantic's `TypeAdapter` (lists, dicts, tuples, numbers, booleans, `Literal`,
  `Optional`, `Union`, enums, pydantic models), as DSPy's own adapters validate;
- a string given for a field that is not a string is read as JSON first (`"3"` -> 3, `"[1, 2]"` ->
  [1, 2], `"true"` -> True), unless the type takes that string as it is (`Literal['a']`, `str | int`).

A value that does not fit is `bad_input` naming the field, the module and the expected type.
"""

from __future__ import annotations

import inspect
import json
import mimetypes
import os
import types
import typing
import weakref
from typing import Any

import dspy
import pydantic
from dspy.adapters.utils import get_annotation_name

from .errors import BadInput

_NO_JSON = object()
_SHOWN = 80  # characters of a bad value quoted in an error

# TypeAdapters by annotation: building one compiles a validator, and an optimization converts every example.
_adapters: dict[Any, pydantic.TypeAdapter | None] = {}


def convert_inputs(program: Any, inputs: Any, *, where: str = "") -> dict[str, Any]:
    """A copy of `inputs` with every value of a typed field converted to that type.

    `where` prefixes the field in errors (`train[3].inputs.` for an optimization's example).
    """
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise BadInput("inputs must be an object mapping field names to values", field=where.rstrip(".") or "inputs")
    types_ = input_types(program)
    out = dict(inputs)
    for name, value in inputs.items():
        typed_by = types_.get(name)
        if typed_by is not None:
            module, annotation = typed_by
            out[name] = convert(value, annotation, field=where + name, module=module)
    return out


def input_types(program: Any) -> dict[str, tuple[str, Any]]:
    """field -> (module, annotation) for every field some module reads with a declared type.

    Kept per program instance: its steps and its modules' classes do not change after the build,
    and a cached program serves many requests (a changed spec is a new instance)."""
    try:
        return _types_by_program[program]
    except KeyError:
        pass
    except TypeError:  # not weakly referenceable
        return _input_types(program)
    out = _types_by_program[program] = _input_types(program)
    return out


_types_by_program: weakref.WeakKeyDictionary[Any, dict[str, tuple[str, Any]]] = weakref.WeakKeyDictionary()


def _input_types(program: Any) -> dict[str, tuple[str, Any]]:
    out: dict[str, tuple[str, Any]] = {}
    for step in program.steps:
        for name, annotation in _step_types(program, step).items():
            if name not in out and not _untyped(annotation):
                out[name] = (step.name, annotation)
    return out


def _step_types(program: Any, step: Any) -> dict[str, Any]:
    if step.signature is not None:
        return {name: f.annotation for name, f in step.signature.input_fields.items()}
    forward = getattr(type(getattr(program, step.name)), "forward", None)
    if forward is None:
        return {}
    try:
        hints = typing.get_type_hints(forward)
    except Exception:  # noqa: BLE001 - a forward reference the module's globals cannot resolve
        hints = {k: v for k, v in getattr(forward, "__annotations__", {}).items() if not isinstance(v, str)}
    return {name: hints[name] for name in (*step.inputs, *step.optional) if name in hints}


def _untyped(annotation: Any) -> bool:
    return annotation in (str, Any, None, inspect.Parameter.empty)


def convert(value: Any, annotation: Any, *, field: str, module: str) -> Any:
    """value as `annotation`; `BadInput` naming field, module and type when it does not fit."""
    if _untyped(annotation):
        return value
    try:
        value = _custom(value, annotation)
        adapter = _adapter(annotation)
        if adapter is None:
            return value  # a type pydantic cannot check (an arbitrary class): DSPy would not either
        return _validate(adapter, value)
    except _Unfit as exc:
        raise _bad(value, annotation, field, module, str(exc)) from None
    except pydantic.ValidationError as exc:
        raise _bad(value, annotation, field, module, _first_error(exc)) from None


class _Unfit(Exception):
    """A value that does not fit; its message says why."""


def _validate(adapter: pydantic.TypeAdapter, value: Any) -> Any:
    if not isinstance(value, str):
        return adapter.validate_python(value)
    try:
        return adapter.validate_python(value, strict=True)  # a string the type takes as one
    except pydantic.ValidationError:
        pass
    if not value.strip():
        try:
            return adapter.validate_python(None)  # an empty cell of an Optional field
        except pydantic.ValidationError:
            pass
    parsed, json_error = _json(value)
    parsed_error: pydantic.ValidationError | None = None
    if parsed is not _NO_JSON:
        try:
            return adapter.validate_python(parsed)
        except pydantic.ValidationError as exc:
            parsed_error = exc
    try:
        return adapter.validate_python(value)  # pydantic's own coercions: "2024-01-31" for a date
    except pydantic.ValidationError:
        if parsed_error is not None:
            raise parsed_error from None  # the JSON the string held is what the caller meant
        if json_error and value.lstrip()[:1] in ("[", "{"):
            raise _Unfit(f"not valid JSON: {json_error}") from None
        raise


def _json(text: str) -> tuple[Any, str]:
    try:
        return json.loads(text), ""
    except ValueError as exc:
        return _NO_JSON, str(exc)


def _adapter(annotation: Any) -> pydantic.TypeAdapter | None:
    try:
        return _adapters[annotation]
    except KeyError:
        pass
    except TypeError:  # an unhashable annotation: build it every time
        return _build_adapter(annotation)
    adapter = _build_adapter(annotation)
    _adapters[annotation] = adapter
    return adapter


def _build_adapter(annotation: Any) -> pydantic.TypeAdapter | None:
    try:
        return pydantic.TypeAdapter(annotation)
    except Exception:  # noqa: BLE001 - pydantic has no schema for it
        return None


# --- DSPy's own types: what a Python caller would construct -------------------------------------------

def _custom(value: Any, annotation: Any) -> Any:
    """value with every History and Image in it built as DSPy's constructors would, else unchanged."""
    if annotation is dspy.History:
        return _history(value)
    if annotation is dspy.Image:
        return _image(value)
    if not _mentions(annotation, (dspy.History, dspy.Image)):
        return value
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            try:
                return _custom(value, arg) if _mentions(arg, (dspy.History, dspy.Image)) else _checked(value, arg)
            except (_Unfit, pydantic.ValidationError, ValueError) as exc:
                errors.append(str(exc))
        raise _Unfit("; ".join(errors))
    if isinstance(value, str):
        parsed, _ = _json(value)
        value = value if parsed is _NO_JSON else parsed
    if origin in (list, set, frozenset, typing.Sequence) and isinstance(value, list) and args:
        return [_item(v, args[0], f"item {i}") for i, v in enumerate(value)]
    if origin is tuple and isinstance(value, list) and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return [_item(v, args[0], f"item {i}") for i, v in enumerate(value)]
        return [_item(v, a, f"item {i}") for i, (v, a) in enumerate(zip(value, args))] + value[len(args):]
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return {k: _item(v, args[1], f"key {k!r}") for k, v in value.items()}
    return value


def _checked(value: Any, annotation: Any) -> Any:
    adapter = _adapter(annotation)
    return value if adapter is None else _validate(adapter, value)


def _item(value: Any, annotation: Any, where: str) -> Any:
    try:
        return _custom(value, annotation)
    except _Unfit as exc:
        raise _Unfit(f"{where}: {exc}") from None


def _mentions(annotation: Any, wanted: tuple[type, ...]) -> bool:
    if annotation in wanted:
        return True
    return any(_mentions(a, wanted) for a in typing.get_args(annotation))


def _history(value: Any) -> dspy.History:
    """A list of turns, or {"messages": [...]} (History's own fields), as dspy.History."""
    if isinstance(value, dspy.History):
        return value
    if isinstance(value, str):
        parsed, error = _json(value)
        if parsed is _NO_JSON:
            raise _Unfit(f"want a JSON list of turns (objects of field values), not valid JSON: {error}")
        value = parsed
    if isinstance(value, list):
        value = {"messages": value}
    if not isinstance(value, dict):
        raise _Unfit("want a list of turns (objects of field values) or {\"messages\": [...]}")
    for i, turn in enumerate(value.get("messages") or []):
        if not isinstance(turn, dict):
            raise _Unfit(f"turn {i} is {_kind(turn)}, want an object of field values such as "
                         "{\"question\": ..., \"answer\": ...}")
    return dspy.History.model_validate(value)


def _image(value: Any) -> dspy.Image:
    """A data URI, an http(s)/gs URL, {"url": ...} or an image file's path, as dspy.Image."""
    if isinstance(value, dspy.Image):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        parsed, error = _json(value)
        if parsed is _NO_JSON:
            raise _Unfit(f"not valid JSON: {error}")
        value = parsed
    if isinstance(value, dict):
        if set(value) != {"url"}:
            raise _Unfit("an image object has exactly one key, url")
        value = value["url"]
    if not isinstance(value, str) or not value.strip():
        raise _Unfit("want a data URI, an http(s) URL or the path of an image file")
    text = value.strip()
    if text.startswith("data:"):
        if ";base64," not in text:
            raise _Unfit("a data URI must be base64: data:image/png;base64,...")
        return dspy.Image(text)
    if "://" in text:
        try:
            return dspy.Image(text)  # DSPy keeps a URL as it is; the LM provider fetches it
        except ValueError as exc:
            raise _Unfit(f"not an http(s) or gs URL: {exc}") from None
    return _image_file(text)


def _image_file(path: str) -> dspy.Image:
    # Only image files: an input must not turn any file the worker can read into LM context.
    mime, _ = mimetypes.guess_type(path)
    if mime is None or not mime.startswith("image/"):
        raise _Unfit("want a data URI, an http(s) URL or the path of an image file (.png, .jpg, .gif, .webp, ...)")
    full = os.path.abspath(path)
    if not os.path.isfile(full):
        raise _Unfit(f"no image file {full}")
    try:
        return dspy.Image.from_path(full)
    except (OSError, ValueError) as exc:
        raise _Unfit(f"cannot read the image {full}: {exc}") from None


# --- errors ---------------------------------------------------------------------------------------------

def _bad(value: Any, annotation: Any, field: str, module: str, why: str) -> BadInput:
    expected = get_annotation_name(annotation)
    return BadInput(f"input {field!r} of module {module} must be {expected}: {why} (got {_shown(value)})",
                    field=field, module=module, expected=expected)


def _first_error(exc: pydantic.ValidationError) -> str:
    errors = exc.errors(include_url=False)
    if not errors:
        return str(exc)
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return (f"at {loc}: " if loc else "") + str(first.get("msg", "invalid")) + more


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _kind(value: Any) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean", list: "a list",
            type(None): "null"}.get(type(value), type(value).__name__)
