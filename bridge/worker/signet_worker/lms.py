"""LM profiles (docs/protocol.md, `LM`) to DSPy LMs and adapters.

A base `dspy.LM` is built once per distinct profile and kept (its engine's
connection pools are reused); every request gets `base.copy()`, whose history,
callbacks and kwargs DSPy isolates, so LM history is per request and is dropped
with the request.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import dspy

from . import redact, testlm
from .errors import BadInput, LMAuthMissing, LMRequest

DEFAULT_NUM_RETRIES = 1  # Go retries whole executions; DSPy retries single calls once
ADAPTERS = ("chat", "json")
_MAX_BASES = 64


@dataclass(frozen=True)
class LMProfile:
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    cache: bool = True
    adapter: str = "chat"
    price_in: float | None = None  # USD per million prompt tokens
    price_out: float | None = None  # USD per million completion tokens
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def priced(self) -> bool:
        return self.price_in is not None or self.price_out is not None

    def price(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * (self.price_in or 0.0) + completion_tokens * (self.price_out or 0.0)) / 1_000_000

    def key(self) -> str:
        """Identity of the LM this profile builds (prices and adapter do not matter)."""
        data = {
            "model": self.model, "api_base": self.api_base, "api_key_env": self.api_key_env,
            "temperature": self.temperature, "max_tokens": self.max_tokens, "cache": self.cache,
            "kwargs": self.kwargs,
        }
        return json.dumps(data, sort_keys=True, default=str)


def _number(raw: dict, name: str, where: str, kind=float):
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(f"{where}.{name} must be a number, got {type(value).__name__}", field=f"{where}.{name}")
    return kind(value)


def parse_profile(raw: Any, where: str = "lm") -> LMProfile:
    """Check and convert an LM profile; errors are `bad_input` naming the field."""
    if not isinstance(raw, dict):
        raise BadInput(f"{where} must be an object with at least a model", field=where)
    model = raw.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadInput(f"{where}.model must be a non-empty string", field=f"{where}.model")
    for name in ("api_base", "api_key_env"):
        if raw.get(name) is not None and not isinstance(raw.get(name), str):
            raise BadInput(f"{where}.{name} must be a string", field=f"{where}.{name}")
    adapter = raw.get("adapter") or "chat"
    if adapter not in ADAPTERS:
        raise BadInput(f"{where}.adapter must be 'chat' or 'json', got {adapter!r}", field=f"{where}.adapter")
    kwargs = raw.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise BadInput(f"{where}.kwargs must be an object", field=f"{where}.kwargs")
    cache = raw.get("cache", True)
    return LMProfile(
        model=model.strip(),
        api_base=raw.get("api_base") or None,
        api_key_env=raw.get("api_key_env") or None,
        temperature=_number(raw, "temperature", where),
        max_tokens=_number(raw, "max_tokens", where, int),
        cache=True if cache is None else bool(cache),
        adapter=adapter,
        price_in=_number(raw, "price_in", where),
        price_out=_number(raw, "price_out", where),
        kwargs=dict(kwargs),
    )


def make_adapter(profile: LMProfile | None) -> dspy.Adapter:
    if profile is not None and profile.adapter == "json":
        return dspy.JSONAdapter()
    return dspy.ChatAdapter()


def read_key(profile: LMProfile) -> str | None:
    """The API key from the variable the profile names; `lm_auth` if it is unset."""
    if not profile.api_key_env:
        return None
    value = os.environ.get(profile.api_key_env)
    if not value:
        raise LMAuthMissing(
            f"the environment variable {profile.api_key_env} (api_key_env of the LM profile for "
            f"{profile.model}) is not set",
            variable=profile.api_key_env,
        )
    redact.register(value)
    return value


def build_lm(profile: LMProfile) -> dspy.BaseLM:
    """A new DSPy LM for a profile (not cached)."""
    key = read_key(profile)  # also for the test LM: an unset variable is the same error everywhere
    if profile.model == testlm.MODEL:
        return testlm.make_lm(profile)
    kwargs = dict(profile.kwargs)
    num_retries = kwargs.pop("num_retries", DEFAULT_NUM_RETRIES)
    if profile.api_base:
        kwargs["api_base"] = profile.api_base
    if key is not None:
        kwargs["api_key"] = key
    try:
        return dspy.LM(
            profile.model,
            temperature=profile.temperature,
            max_tokens=profile.max_tokens,
            cache=profile.cache,
            num_retries=num_retries,
            **kwargs,
        )
    except (ValueError, TypeError, dspy.utils.exceptions.LMError) as exc:
        raise LMRequest(f"DSPy refused the LM profile for {profile.model}: {exc}", field="lm.model") from exc


class LMCache:
    """Base LMs by profile, least recently used dropped beyond a bound."""

    def __init__(self, size: int = _MAX_BASES):
        self._size = size
        self._lock = threading.Lock()
        self._bases: collections.OrderedDict[str, dspy.BaseLM] = collections.OrderedDict()

    def for_request(self, profile: LMProfile) -> dspy.BaseLM:
        """A per-request copy of the base LM of this profile (own history and kwargs)."""
        secret = os.environ.get(profile.api_key_env, "") if profile.api_key_env else ""
        key = profile.key() + "|" + hashlib.sha256(secret.encode()).hexdigest()
        with self._lock:
            base = self._bases.get(key)
            if base is not None:
                self._bases.move_to_end(key)
        if base is None:
            base = build_lm(profile)
            with self._lock:
                self._bases[key] = base
                while len(self._bases) > self._size:
                    self._bases.popitem(last=False)
        copy = base.copy()
        copy.history = []
        return copy

    def bases(self) -> list[dspy.BaseLM]:
        with self._lock:
            return list(self._bases.values())
