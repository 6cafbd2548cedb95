"""A cheaper way for DSPy to find the Tracer's hooks; what DSPy runs is unchanged.

With any callback registered, DSPy's `with_callbacks` pays, on every hooked call (each module, each
adapter format and parse, each LM call: 14 on a 3-module program), for `inspect.getcallargs` and
for two walks of an isinstance chain that checks `dspy.CodeInterpreter`, a runtime Protocol
(`typing` recomputes its members on every check in Python 3.11). Measured on the test LM, that alone
made an execution 1.5x plain DSPy with a callback that does nothing.

Spans need the hooks everywhere (modules, adapters, LM calls, tools), and usage, cost, the budget
gate and cancel need at least every LM call, including the LMs user code makes itself, so the
Tracer stays a global callback (`dspy.context(callbacks=[tracer])`) rather than one on chosen
instances. Instead this module replaces the two functions DSPy's wrapper looks the handlers up with
(`_get_on_start_handler`, `_get_on_end_handler`, module globals read at each call) and the
`inspect.getcallargs` it binds the arguments with:

- handlers: for a Tracer (or a subclass: the optimizer's), the handler's name is memoized by (class
  of the instance, method name, `supports_decision_requests`): DSPy's chain tests the class, except the CodeInterpreter Protocol,
  which an object could in principle meet through instance attributes alone; such an object would
  at worst get a span of the wrong kind. Any other callback gets DSPy's own lookup.
- arguments: the same mapping from a cached `inspect.Signature` (bind, then defaults), which is
  what getcallargs computes, without rebuilding the signature on every call.

Nothing DSPy runs changes: the same forward, adapter calls, LM calls and history; only how it finds
what to tell the tracer. `install` is idempotent; `uninstall` restores DSPy's functions (tests).
"""

from __future__ import annotations

import inspect
import threading
import types
from typing import Any, Callable

from dspy.utils import callback as _dspy_callback

_ORIGINAL = (_dspy_callback._get_on_start_handler, _dspy_callback._get_on_end_handler, _dspy_callback.inspect)
_lock = threading.Lock()
_names: dict[tuple[type, str, bool, bool], str] = {}  # (class, fn name, decision requests, start) -> handler
_signatures: dict[Callable, inspect.Signature] = {}
_tracer_type: type | None = None


def _handler(start: bool, callback: Any, instance: Any, fn: Callable) -> Callable:
    lookup = _ORIGINAL[0] if start else _ORIGINAL[1]
    if _tracer_type is None or not isinstance(callback, _tracer_type):
        return lookup(callback, instance, fn)
    key = (type(instance), fn.__name__, getattr(instance, "supports_decision_requests", False) is True, start)
    name = _names.get(key)
    if name is None:
        name = lookup(callback, instance, fn).__name__
        with _lock:
            _names[key] = name
    return getattr(callback, name)


def _on_start(callback: Any, instance: Any, fn: Callable) -> Callable:
    return _handler(True, callback, instance, fn)


def _on_end(callback: Any, instance: Any, fn: Callable) -> Callable:
    return _handler(False, callback, instance, fn)


def getcallargs(func: Callable, /, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """inspect.getcallargs(func, *args, **kwargs) with func's signature computed once."""
    sig = _signatures.get(func)
    if sig is None:
        sig = inspect.signature(func, follow_wrapped=False)  # as getcallargs: func itself
        with _lock:
            _signatures[func] = sig
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


# What DSPy's callback module sees as `inspect`: the real module but for getcallargs.
_inspect = types.SimpleNamespace(**{k: getattr(inspect, k) for k in dir(inspect) if not k.startswith("__")})
_inspect.getcallargs = getcallargs


def install(tracer_type: type) -> None:
    """Route DSPy's handler lookups for `tracer_type` callbacks through the memo above."""
    global _tracer_type
    _tracer_type = tracer_type
    _dspy_callback._get_on_start_handler = _on_start
    _dspy_callback._get_on_end_handler = _on_end
    _dspy_callback.inspect = _inspect


def uninstall() -> None:
    _dspy_callback._get_on_start_handler, _dspy_callback._get_on_end_handler, _dspy_callback.inspect = _ORIGINAL
