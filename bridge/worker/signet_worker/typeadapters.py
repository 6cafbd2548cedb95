"""One pydantic TypeAdapter per type for DSPy's adapters, instead of one per value they format or parse.

DSPy's adapters (`dspy/adapters/utils.py`) build `TypeAdapter(type(value))` for every field value they
format (each demo's and each input's) and `TypeAdapter(annotation)` for every output field they parse.
Building one compiles a pydantic core schema and costs several times using it: on a 3-module program
with four demos it was a fifth of an execution. A TypeAdapter keeps no state between uses, so the one
kept for a type formats and parses exactly as a new one would; the prompts and parsed fields DSPy
produces do not change (tests compare them with and without this).

Only the one-argument form is kept, for hashable types; anything else is built as DSPy builds it. The
memo is bounded: past MAX_TYPES distinct types (programs with classes made on the fly) it starts over.
`install` is idempotent; `uninstall` restores DSPy's name (tests, the benchmark's plain DSPy).
"""

from __future__ import annotations

import threading
from typing import Any

import pydantic
from dspy.adapters import utils as _dspy_utils

MAX_TYPES = 1024

_ORIGINAL = _dspy_utils.TypeAdapter
_lock = threading.Lock()
_adapters: dict[Any, pydantic.TypeAdapter] = {}


def type_adapter(kind: Any, *args: Any, **kwargs: Any) -> pydantic.TypeAdapter:
    """`pydantic.TypeAdapter(kind)`, made once per type."""
    if args or kwargs:
        return _ORIGINAL(kind, *args, **kwargs)
    try:
        return _adapters[kind]
    except KeyError:
        pass
    except TypeError:  # an unhashable annotation
        return _ORIGINAL(kind)
    adapter = _ORIGINAL(kind)
    with _lock:
        if len(_adapters) >= MAX_TYPES:
            _adapters.clear()
        _adapters[kind] = adapter
    return adapter


def install() -> None:
    _dspy_utils.TypeAdapter = type_adapter


def uninstall() -> None:
    _dspy_utils.TypeAdapter = _ORIGINAL


def installed() -> bool:
    return _dspy_utils.TypeAdapter is type_adapter
