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
- arguments: the mapping `Signature.bind` then `apply_defaults` give, from the function's parameters
  read once (a bad call still goes through `bind`, for its TypeError);
- call ids: DSPy's module global `uuid` is the real module but for `uuid4`, whose `.hex` is a per-process
  random prefix and a counter (unique as uuid4 ids are, without a syscall per hooked call).

Nothing DSPy runs changes: the same forward, adapter calls, LM calls and history; only how it finds
what to tell the tracer. `install` is idempotent; `uninstall` restores DSPy's functions (tests).
"""

from __future__ import annotations

import inspect
import itertools
import os
import threading
import types
import uuid
from typing import Any, Callable

from dspy.primitives.module import Module as _Module
from dspy.utils import callback as _dspy_callback

_ORIGINAL = (_dspy_callback._get_on_start_handler, _dspy_callback._get_on_end_handler, _dspy_callback.inspect)
_lock = threading.Lock()
_PLAIN_GETATTRIBUTE = (object.__getattribute__, _Module.__getattribute__)
_names: dict[tuple[type, str, bool, bool], str] = {}  # (class, fn name, decision requests, start) -> handler
_tracer_type: type | None = None


_DECIDES = "supports_decision_requests"
# Classes whose instances can get `_DECIDES` from their own __dict__ only: no class in the MRO defines
# it, no __getattr__, and an __getattribute__ that adds nothing (object's; dspy.Module's only warns
# about `forward`). For those, the flag is read from the __dict__ without the AttributeError that
# getattr raised and caught on every hooked call of a module (0.9 us, twice a call).
_own_flag: dict[type, bool] = {}


def _decides(instance: Any) -> bool:
    """getattr(instance, "supports_decision_requests", False) is True, as DSPy's lookup tests it."""
    cls = type(instance)
    own = _own_flag.get(cls)
    if own is None:
        own = (cls.__getattribute__ in _PLAIN_GETATTRIBUTE and not hasattr(cls, "__getattr__")
               and not any(_DECIDES in vars(c) for c in cls.__mro__))
        with _lock:
            _own_flag[cls] = own
    if own:
        try:
            return object.__getattribute__(instance, "__dict__").get(_DECIDES, False) is True
        except AttributeError:  # no __dict__ (slots): nothing else can hold it
            return False
    return getattr(instance, _DECIDES, False) is True


def _handler(start: bool, callback: Any, instance: Any, fn: Callable) -> Callable:
    lookup = _ORIGINAL[0] if start else _ORIGINAL[1]
    if _tracer_type is None or not isinstance(callback, _tracer_type):
        return lookup(callback, instance, fn)
    key = (type(instance), fn.__name__, _decides(instance), start)
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


_P = inspect.Parameter
_EMPTY = inspect.Parameter.empty


class _Binder:
    """`sig.bind(*args, **kwargs)` then `apply_defaults()`, for the calls that bind without an error,
    from the parameters read once; None for anything else (the caller falls back to `sig.bind`,
    which raises what getcallargs would)."""

    __slots__ = ("names", "positional", "kinds", "defaults", "varargs", "varkw")

    def __init__(self, sig: inspect.Signature):
        params = list(sig.parameters.values())
        self.names = [p.name for p in params]
        self.positional = [p.name for p in params if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)]
        self.kinds = {p.name: p.kind for p in params}
        self.defaults = {p.name: p.default for p in params if p.default is not _EMPTY}
        self.varargs = next((p.name for p in params if p.kind is _P.VAR_POSITIONAL), None)
        self.varkw = next((p.name for p in params if p.kind is _P.VAR_KEYWORD), None)

    def bind(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any] | None:
        given: dict[str, Any] = dict(zip(self.positional, args))
        if len(args) > len(self.positional):
            if self.varargs is None:
                return None
            given[self.varargs] = args[len(self.positional):]
        extra: dict[str, Any] = {}
        for key, value in kwargs.items():
            kind = self.kinds.get(key)
            if kind is _P.POSITIONAL_OR_KEYWORD or kind is _P.KEYWORD_ONLY:
                if key in given:
                    return None  # given twice
                given[key] = value
            elif self.varkw is not None:
                extra[key] = value
            else:
                return None
        out: dict[str, Any] = {}
        for name in self.names:
            if name in given:
                out[name] = given[name]
            elif name == self.varargs:
                out[name] = ()
            elif name == self.varkw:
                out[name] = extra
            elif name in self.defaults:
                out[name] = self.defaults[name]
            else:
                return None  # missing
        return out


_binders: dict[Callable, _Binder] = {}


def getcallargs(func: Callable, /, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """inspect.getcallargs(func, *args, **kwargs) with func's parameters read once (Signature.bind
    alone cost more than DSPy's own work in a hooked call)."""
    binder = _binders.get(func)
    if binder is None:
        binder = _Binder(inspect.signature(func, follow_wrapped=False))  # as getcallargs: func itself
        with _lock:
            _binders[func] = binder
    bound = binder.bind(args, kwargs)
    if bound is None:
        sig = inspect.signature(func, follow_wrapped=False)
        b = sig.bind(*args, **kwargs)  # raises the TypeError a bad call gets
        b.apply_defaults()
        bound = dict(b.arguments)
    return bound


# Call ids: DSPy draws a uuid4 (a getrandom syscall) for each hooked call. Ids need only be unique
# (spans of every worker meet in one store): a random 64-bit prefix per process, drawn again in a forked
# child, and a counter; 32 hex digits as uuid4().hex.
_prefix = os.urandom(8).hex()
_counter = itertools.count()


def _reseed() -> None:
    global _prefix, _counter
    _prefix, _counter = os.urandom(8).hex(), itertools.count()


os.register_at_fork(after_in_child=_reseed)


def call_id() -> str:
    """A new call id, unique across processes as uuid4().hex, without a syscall."""
    return f"{_prefix}{next(_counter):016x}"


class _CallId:
    __slots__ = ("hex",)

    def __init__(self) -> None:
        self.hex = call_id()


# What DSPy's callback module sees as `uuid`: the real module but for uuid4, whose `.hex` it reads.
_ORIGINAL_UUID = _dspy_callback.uuid
_uuid = types.SimpleNamespace(**{k: getattr(uuid, k) for k in dir(uuid) if not k.startswith("__")})
_uuid.uuid4 = _CallId

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
    _dspy_callback.uuid = _uuid


def uninstall() -> None:
    _dspy_callback._get_on_start_handler, _dspy_callback._get_on_end_handler, _dspy_callback.inspect = _ORIGINAL
    _dspy_callback.uuid = _ORIGINAL_UUID
