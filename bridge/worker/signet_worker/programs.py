"""Built programs kept between requests, so the hot path does not rebuild them.

Building a program (every `dspy.Signature` is a pydantic model made on the fly) and applying its
state (DSPy's `load_state`, which deep-copies the program for a trial run) cost several times a
traced execution on the test LM. The cache keys a built program by everything that shapes it: the
program JSON, `base_dir`, the request's `indexes`, the applied `state`, and the (mtime, size) of the
user files its modules load. A key holds idle instances; a request checks one out (building one
when none is idle), so two concurrent requests never share an instance. What a request sets on it
(per-module LMs and adapters) and what a run leaves on it (module histories, anything a module
assigned to itself) is undone at check-in by restoring every module's attributes as they were after
the build, so a cached program never carries one request's state into another.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterator

import dspy

from . import builder
from .errors import BadInput

DEFAULT_MAX_PROGRAMS = 64  # distinct keys kept
DEFAULT_MAX_IDLE = 8  # idle instances per key: the worker's default thread count


_CONTAINERS = (list, dict, set)


@dataclass
class Built:
    """One built program, its module map (for the tracer) and its attributes as built."""

    program: builder.SignetProgram
    module_map: dict[int, tuple[str, str]]
    # Per module: (module, attributes as built, names of the attributes that are lists, dicts or sets).
    _pristine: list[tuple[dspy.Module, dict[str, Any], tuple[str, ...]]] = field(default_factory=list)

    @classmethod
    def make(cls, program: builder.SignetProgram) -> "Built":
        pristine = []
        for _, module in program.named_sub_modules():
            attrs = _shallow(module.__dict__)
            pristine.append((module, attrs, tuple(k for k, v in attrs.items() if type(v) in _CONTAINERS)))
        return cls(program, builder.module_map(program), pristine)

    def reset(self) -> None:
        """Every module's attributes as they were after the build (containers copied one level)."""
        for module, attrs, containers in self._pristine:
            current = module.__dict__
            current.clear()
            current.update(attrs)
            # Lists, dicts and sets are copied so in-place changes (demos.append, history) never reach the snapshot.
            for name in containers:
                value = attrs[name]
                current[name] = type(value)(value)


def _shallow(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: (type(v)(v) if type(v) in _CONTAINERS else v) for k, v in attrs.items()}


def user_files(spec: Any, base_dir: str | None) -> list[tuple[str, int, int]]:
    """(path, mtime_ns, size) of each file the program's modules load (source, config.tools); an edited
    file changes the key. Files that do not exist count as (path, -1, -1): the build reports them."""
    out: list[tuple[str, int, int]] = []
    modules = spec.get("modules") if isinstance(spec, dict) else None
    for module in modules if isinstance(modules, list) else []:
        if not isinstance(module, dict):
            continue
        refs = [module.get("source")]
        config = module.get("config")
        tools = config.get("tools") if isinstance(config, dict) else None
        refs += tools if isinstance(tools, list) else [tools]
        for ref in refs:
            if not isinstance(ref, str) or ":" not in ref:
                continue
            path = os.path.expanduser(ref.rpartition(":")[0].strip())
            if not os.path.isabs(path):
                path = os.path.join(base_dir or os.getcwd(), path)
            path = os.path.realpath(path)
            try:
                st = os.stat(path)
                out.append((path, st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((path, -1, -1))
    return out


# One encoder for every key: json.dumps with options builds a new JSONEncoder on each call.
_KEY_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=repr)


def key_of(spec: Any, base_dir: str | None, indexes: Any, state: Any, sent: str | None = None) -> str:
    """A digest of everything build_program and load_state read.

    `sent` is the request's `program_key`: Go's digest of the `program` and `state` it sent, which
    then stand for those two (encoding a large state here again costs more than the rest of the key).
    """
    if sent is not None:
        doc: list[Any] = ["program_key", sent, base_dir, indexes, user_files(spec, base_dir)]
    else:
        doc = [spec, base_dir, indexes, state, user_files(spec, base_dir)]
    return hashlib.sha256(_KEY_ENCODER.encode(doc).encode()).hexdigest()


_HEX64 = re.compile(r"[0-9a-f]{64}")


def check_sent_key(raw: Any) -> str | None:
    """A request's `program_key` (64 hex digits), or None without one."""
    if raw is None:
        return None
    if not isinstance(raw, str) or _HEX64.fullmatch(raw) is None:
        raise BadInput("program_key must be 64 lowercase hex digits (the SHA-256 of program and state)",
                       field="program_key")
    return raw


class ProgramCache:
    """A bounded LRU of built programs (with their state applied), checked out one request at a time."""

    def __init__(self, max_programs: int = DEFAULT_MAX_PROGRAMS, max_idle: int = DEFAULT_MAX_IDLE):
        if max_programs < 1 or max_idle < 1:
            raise ValueError("max_programs and max_idle must be at least 1")
        self.max_programs = max_programs
        self.max_idle = max_idle
        self._lock = threading.Lock()
        self._idle: OrderedDict[str, list[Built]] = OrderedDict()
        self.builds = 0  # programs built, for tests and the benchmark

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle)

    def clear(self) -> None:
        with self._lock:
            self._idle.clear()

    @contextlib.contextmanager
    def checkout(self, spec: Any, base_dir: str | None, indexes: Any, state: Any,
                 sent_key: str | None = None) -> Iterator[Built]:
        """A built program with `state` applied, for this request alone; returned to the cache after.
        `sent_key` is the request's `program_key` (key_of)."""
        key = key_of(spec, base_dir, indexes, state, check_sent_key(sent_key))
        built = self._take(key)
        if built is None:
            built = self._build(spec, base_dir, indexes, state)
        try:
            yield built
        finally:
            built.reset()
            self._give(key, built)

    def _take(self, key: str) -> Built | None:
        with self._lock:
            idle = self._idle.get(key)
            if idle is None:
                return None
            self._idle.move_to_end(key)
            return idle.pop() if idle else None

    def _give(self, key: str, built: Built) -> None:
        with self._lock:
            idle = self._idle.get(key)
            if idle is None:
                self._idle[key] = idle = []
                while len(self._idle) > self.max_programs:
                    self._idle.popitem(last=False)
            else:
                self._idle.move_to_end(key)
            if len(idle) < self.max_idle:
                idle.append(built)

    def _build(self, spec: Any, base_dir: str | None, indexes: Any, state: Any) -> Built:
        # Outside the lock: two threads missing on one key both build, and both instances are kept.
        program = builder.build_program(spec, base_dir, indexes)
        builder.load_state(program, state)
        with self._lock:
            self.builds += 1
        return Built.make(program)


SHARED = ProgramCache()
