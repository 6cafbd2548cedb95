"""Loading the user's own Python code: `path/to/file.py:Name` references.

A file is imported once per (path, mtime, size) and kept; an edited file is
imported again on the next request. The file's directory goes on `sys.path`
so it can import its sibling modules, as it would when run from its project.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .errors import BadProgram, UserCodeError, register_user_file

# _lock guards the tables below and is never held across user code: a file
# whose import hangs must not stop other files from loading on other threads.
_lock = threading.Lock()
_modules: dict[tuple[str, int, int], ModuleType] = {}
# One lock per file, held across its import, so concurrent loads of one file
# import it once; loads of other files do not wait for it.
_file_locks: dict[str, threading.Lock] = {}


@dataclass(frozen=True)
class Ref:
    path: str  # absolute
    name: str  # attribute path inside the module, may be dotted


def parse_ref(ref: Any, base_dir: str | None, *, module: str, field: str) -> Ref:
    if not isinstance(ref, str) or ":" not in ref:
        raise BadProgram(
            f"module {module}: {field} must look like path/to/file.py:Name, got {ref!r}", module=module, field=field
        )
    path, _, name = ref.rpartition(":")
    path, name = path.strip(), name.strip()
    if not path or not name:
        raise BadProgram(f"module {module}: {field} must look like path/to/file.py:Name, got {ref!r}",
                         module=module, field=field)
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        path = os.path.join(base_dir or os.getcwd(), path)
    return Ref(os.path.realpath(path), name)


def _load_module(path: str, *, module: str, field: str) -> ModuleType:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise BadProgram(f"module {module}: {field}: cannot read {path}: {exc.strerror}", module=module,
                         field=field, path=path) from None
    key = (path, st.st_mtime_ns, st.st_size)
    with _lock:
        cached = _modules.get(key)
        if cached is not None:
            return cached
        file_lock = _file_locks.setdefault(path, threading.Lock())
    with file_lock:
        with _lock:
            cached = _modules.get(key)
        if cached is not None:
            return cached  # another thread imported it meanwhile
        mod = _import(path, key, module=module, field=field)
        with _lock:
            # Forget older versions of the same file.
            for old in [k for k in _modules if k[0] == path]:
                del _modules[old]
            _modules[key] = mod
        return mod


def _import(path: str, key: tuple[str, int, int], *, module: str, field: str) -> ModuleType:
    """Runs the file's top level: user code, so no shared lock is held here."""
    digest = hashlib.sha256(f"{path}|{key[1]}|{key[2]}".encode()).hexdigest()[:16]
    mod_name = f"signet_user_{digest}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise BadProgram(f"module {module}: {field}: {path} is not a Python file", module=module, field=field,
                         path=path)
    mod = importlib.util.module_from_spec(spec)
    register_user_file(path)
    register_user_file(os.path.abspath(path))
    directory = os.path.dirname(path)
    with _lock:
        if directory not in sys.path:
            sys.path.append(directory)
    sys.modules[mod_name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException as exc:
        sys.modules.pop(mod_name, None)
        raise UserCodeError(f"module {module}: importing {path} failed: {type(exc).__name__}: {exc}",
                            module=module, field=field, traceback=_format(exc)) from exc
    return mod


def _format(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def load(ref: Ref, *, module: str, field: str) -> Any:
    """The object a reference names."""
    mod = _load_module(ref.path, module=module, field=field)
    obj: Any = mod
    for part in ref.name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise BadProgram(f"module {module}: {field}: {ref.path} has no {ref.name!r}", module=module,
                             field=field, path=ref.path) from None
    return obj


def cached_files() -> int:
    return len(_modules)
