"""LM profiles (docs/protocol.md, `LM`) to DSPy LMs and adapters.

A base `dspy.LM` is built once per distinct profile and kept (its engine's
connection pools are reused); every request gets `base.copy()`, whose history,
callbacks and kwargs DSPy isolates, so LM history is per request and is dropped
with the request. An execute leases its copies (`LMCache.lease`): once it has
ended, a copy goes back with every attribute as copied, for a later request.
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

from . import lmpool, openai_lm, redact, structured, testlm
from .errors import BadInput, LMAuthMissing, LMRequest

DEFAULT_NUM_RETRIES = 1  # Go retries whole executions; DSPy retries single calls once
# The key sent to an `api_base` that dspy.LM serves (a profile openai_lm does not take) when the
# profile names no key variable: DSPy's OpenAI-compatible routes refuse to call without some key,
# and an ambient OPENAI_API_KEY must never go to a server the profile did not give it to.
NO_KEY = "signet-no-key"
# chat: DSPy's ChatAdapter (with its JSONAdapter fallback); json: DSPy's JSONAdapter; json_schema:
# JSONAdapter with the signature's JSON schema sent as response_format for the server to enforce.
ADAPTERS = ("chat", "json", "json_schema")
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
    free: bool = False  # every call costs exactly 0 (a local model)
    endpoints: tuple[lmpool.EndpointSpec, ...] = ()  # several servers instead of api_base (lmpool.py)
    pool: str | None = None  # the profile's name, which its endpoints are reported under
    cooldown: float | None = None  # seconds a failed endpoint is left out (None: lmpool.COOLDOWN)
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def priced(self) -> bool:
        """The profile itself says what a call costs (free, or prices per token)."""
        return self.free or self.price_in is not None or self.price_out is not None

    def price(self, prompt_tokens: int, completion_tokens: int) -> float:
        if self.free:
            return 0.0
        return (prompt_tokens * (self.price_in or 0.0) + completion_tokens * (self.price_out or 0.0)) / 1_000_000

    def engine(self) -> str | None:
        """The DSPy engine the LM is built with, when the profile decides it (else DSPy's "auto").

        `json_schema` sends llama.cpp's `{"type": "json_object", "schema": ...}`, which DSPy's
        native (lm15) route cannot carry: its LM goes through DSPy's LiteLLM compatibility engine,
        which hands `response_format` to the server unchanged (and sends `max_tokens`, the name
        llama.cpp's servers read). A profile's own `kwargs.engine` wins. Only for profiles that
        openai_lm does not serve: an `openai/` model at an `api_base` never reaches dspy.LM.
        """
        if "engine" in self.kwargs or self.model == testlm.MODEL:
            return None
        return "litellm" if self.adapter == "json_schema" else None

    def key(self) -> str:
        """Identity of the LM this profile builds (prices do not matter; the adapter only by its engine)."""
        data = {
            "model": self.model, "api_base": self.api_base, "api_key_env": self.api_key_env,
            "temperature": self.temperature, "max_tokens": self.max_tokens, "cache": self.cache,
            "kwargs": self.kwargs, "engine": self.engine(), "endpoints": self.endpoints, "pool": self.pool,
            "cooldown": self.cooldown,
        }
        return _KEY_ENCODER.encode(data)


# One encoder for every key (json.dumps with options builds a new JSONEncoder on each call).
_KEY_ENCODER = json.JSONEncoder(sort_keys=True, default=str)
# The digest of "no key": most profiles (the test LM, a local model) name no key variable.
_NO_SECRET = hashlib.sha256(b"").hexdigest()


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
    for name in ("api_base", "api_key_env", "pool"):
        if raw.get(name) is not None and not isinstance(raw.get(name), str):
            raise BadInput(f"{where}.{name} must be a string", field=f"{where}.{name}")
    adapter = raw.get("adapter") or "chat"
    if adapter not in ADAPTERS:
        raise BadInput(f"{where}.adapter must be one of {', '.join(repr(a) for a in ADAPTERS)}, got {adapter!r}",
                       field=f"{where}.adapter")
    free = raw.get("free", False)
    if free is None:
        free = False
    if not isinstance(free, bool):
        raise BadInput(f"{where}.free must be true or false", field=f"{where}.free")
    kwargs = raw.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise BadInput(f"{where}.kwargs must be an object", field=f"{where}.kwargs")
    cache = raw.get("cache", True)
    price_in, price_out = _number(raw, "price_in", where), _number(raw, "price_out", where)
    endpoints = lmpool.parse_endpoints(raw.get("endpoints"), where)
    if endpoints and (raw.get("api_base") or raw.get("api_key_env")):
        raise BadInput(f"{where}: an LM with endpoints takes api_base and api_key_env per endpoint",
                       field=f"{where}.endpoints")
    if endpoints and not (model.strip().startswith(openai_lm.PREFIX) and not openai_lm.unsupported(kwargs)):
        raise BadInput(f"{where}.endpoints: only an {openai_lm.PREFIX} model without the client options "
                       f"{', '.join(openai_lm.unsupported(kwargs)) or '(engine, headers, ...)'} can list endpoints",
                       field=f"{where}.endpoints")
    cooldown = _number(raw, "cooldown_s", where)
    if cooldown is not None and (cooldown <= 0 or not endpoints):
        raise BadInput(f"{where}.cooldown_s must be a positive number of seconds, on an LM with endpoints",
                       field=f"{where}.cooldown_s")
    if free and (price_in or price_out):
        raise BadInput(f"{where}: a free LM profile cannot have a price (price_in/price_out)", field=f"{where}.free")
    return LMProfile(
        model=model.strip(),
        api_base=raw.get("api_base") or None,
        api_key_env=raw.get("api_key_env") or None,
        temperature=_number(raw, "temperature", where),
        max_tokens=_number(raw, "max_tokens", where, int),
        cache=True if cache is None else bool(cache),
        adapter=adapter,
        price_in=price_in,
        price_out=price_out,
        free=free,
        endpoints=endpoints,
        pool=(raw.get("pool") or model.strip()) if endpoints else None,
        cooldown=cooldown,
        kwargs=dict(kwargs),
    )


def make_adapter(profile: LMProfile | None) -> dspy.Adapter:
    if profile is not None and profile.adapter == "json":
        return dspy.JSONAdapter()
    if profile is not None and profile.adapter == "json_schema":
        return structured.JSONSchemaAdapter()
    return dspy.ChatAdapter()


def read_key(profile: LMProfile) -> str | None:
    """The API key from the variable the profile names; `lm_auth` if it is unset."""
    return _read_variable(profile.api_key_env, f"the LM profile for {profile.model}")


def _read_variable(variable: str | None, of: str) -> str | None:
    """The value of a key variable (registered for redaction); `lm_auth` naming it and `of` if unset."""
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        raise LMAuthMissing(f"the environment variable {variable} (api_key_env of {of}) is not set", variable=variable)
    redact.register(value)
    return value


def _pool(profile: LMProfile, timeout: Any) -> lmpool.Pool:
    """The process's pool of the profile's endpoints, each with its own client and key."""
    keys = [_read_variable(e.api_key_env, f"endpoint {e.api_base} of the LM profile for {profile.model}")
            for e in profile.endpoints]
    secrets = tuple(hashlib.sha256(k.encode()).hexdigest() if k else _NO_SECRET for k in keys)
    name = profile.pool or profile.model
    cooldown = lmpool.COOLDOWN if profile.cooldown is None else profile.cooldown

    def make() -> lmpool.Pool:
        return lmpool.Pool(name, [lmpool.Endpoint(e, openai_lm.client(e.api_base, key, timeout))
                                  for e, key in zip(profile.endpoints, keys)], cooldown=cooldown)

    return lmpool.shared(name, profile.endpoints + secrets + (cooldown,), make)


def build_lm(profile: LMProfile) -> dspy.BaseLM:
    """A new DSPy LM for a profile (not cached)."""
    key = read_key(profile)  # also for the test LM: an unset variable is the same error everywhere
    if profile.model == testlm.MODEL:
        return testlm.make_lm(profile)
    kwargs = dict(profile.kwargs)
    num_retries = kwargs.pop("num_retries", DEFAULT_NUM_RETRIES)
    if profile.endpoints:  # parse_profile made sure openai_lm serves it
        kwargs.pop("api_key", None)
        return openai_lm.OpenAICompatLM(
            profile.model, pool=_pool(profile, kwargs.get("timeout")), temperature=profile.temperature,
            max_tokens=profile.max_tokens, cache=profile.cache, num_retries=num_retries,
            estimate_cost=not profile.priced, **kwargs)
    if openai_lm.handles(profile.model, profile.api_base, kwargs):
        # An OpenAI-compatible server (the local model, vLLM, Ollama): no LiteLLM, no placeholder key.
        given = kwargs.pop("api_key", None)
        return openai_lm.OpenAICompatLM(
            profile.model, api_base=profile.api_base, api_key=key if key is not None else given,
            temperature=profile.temperature, max_tokens=profile.max_tokens, cache=profile.cache,
            num_retries=num_retries, estimate_cost=not profile.priced, **kwargs)
    engine = profile.engine()
    if engine is not None:
        kwargs["engine"] = engine
    if profile.api_base:
        kwargs["api_base"] = profile.api_base
    if key is not None:
        kwargs["api_key"] = key
    elif profile.api_base and "api_key" not in kwargs:
        kwargs["api_key"] = NO_KEY
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


# Idle request LMs kept per profile (LMCache.lease): one per request thread is enough.
_MAX_IDLE = 8


@dataclass
class _Base:
    lm: dspy.BaseLM
    idle: list[tuple[dspy.BaseLM, dict[str, Any]]] = field(default_factory=list)


# What DSPy's BaseLM.copy() gives each copy of its own.
_ISOLATED = ("history", "callbacks", "kwargs")


def _isolate(attrs: dict[str, Any]) -> dict[str, Any]:
    for name in _ISOLATED:
        value = attrs.get(name)
        if isinstance(value, (list, dict)):
            attrs[name] = type(value)(value)
    return attrs


class LMLease:
    """A request's LM from LMCache.lease; `release()` when the request has ended."""

    def __init__(self, lm: dspy.BaseLM, base: _Base, as_copied: dict[str, Any]):
        self.lm = lm
        self._base = base
        self._as_copied = as_copied

    def release(self) -> None:
        """Back to its profile's idle LMs, every attribute as the copy had it: this request's history,
        callbacks and kwargs (what DSPy's copy() isolates) and anything else set on it go."""
        _restore(self.lm, self._as_copied)
        idle = self._base.idle
        if len(idle) < _MAX_IDLE:
            idle.append((self.lm, self._as_copied))  # list.append/pop are atomic: no lock needed


def _restore(lm: dspy.BaseLM, as_copied: dict[str, Any]) -> None:
    attrs = lm.__dict__
    attrs.clear()
    attrs.update(as_copied)
    _isolate(attrs)


class LMCache:
    """Base LMs by profile, least recently used dropped beyond a bound."""

    def __init__(self, size: int = _MAX_BASES):
        self._size = size
        self._lock = threading.Lock()
        self._bases: collections.OrderedDict[str, _Base] = collections.OrderedDict()

    def _base(self, profile: LMProfile) -> _Base:
        secret = os.environ.get(profile.api_key_env, "") if profile.api_key_env else ""
        key = profile.key() + "|" + (hashlib.sha256(secret.encode()).hexdigest() if secret else _NO_SECRET)
        with self._lock:
            base = self._bases.get(key)
            if base is not None:
                self._bases.move_to_end(key)
                return base
        base = _Base(build_lm(profile))
        with self._lock:
            self._bases[key] = base
            while len(self._bases) > self._size:
                self._bases.popitem(last=False)
        return base

    def for_request(self, profile: LMProfile) -> dspy.BaseLM:
        """A per-request copy of the base LM of this profile (own history and kwargs)."""
        copy = self._base(profile).lm.copy()
        copy.history = []
        return copy

    def lease(self, profile: LMProfile) -> LMLease:
        """for_request's LM, reused: an idle one of an ended request when there is one.

        DSPy's copy() costs more than putting a used copy's attributes back as they were copied.
        """
        base = self._base(profile)
        try:
            lm, as_copied = base.idle.pop()
            # Again: a thread the last request left running (user code) may have used it since.
            _restore(lm, as_copied)
        except IndexError:
            lm = base.lm.copy()
            lm.history = []
            as_copied = _isolate(dict(lm.__dict__))
        return LMLease(lm, base, as_copied)

    def bases(self) -> list[dspy.BaseLM]:
        with self._lock:
            return [base.lm for base in self._bases.values()]
