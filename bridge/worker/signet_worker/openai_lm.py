"""A DSPy LM for OpenAI-compatible servers (llama.cpp, vLLM, Ollama's /v1) over httpx, without LiteLLM.

DSPy's `json_schema` route goes through its LiteLLM engine, whose import costs seconds and ~150 MiB
per worker; a local server needs none of it. This LM posts `/chat/completions` itself and returns
the OpenAI-shaped response DSPy's legacy `forward()` contract expects (choices, usage, model), so
adapters, history and the tracing `lm` span read it exactly as they read DSPy's own LM:

- request body: `model` (without the `openai/` prefix), `messages`, and every LM kwarg that is set
  (temperature, max_tokens, response_format, stop, ...), as DSPy's compatibility engine sends them;
- cache: DSPy's cache (`dspy.cache`), keyed by the request body (not the key or address); a hit
  returns the stored response with empty usage, which is how DSPy marks a hit (nothing billed);
- retries: `num_retries` more attempts on 429, 5xx, timeouts and refused connections;
- errors: DSPy's own `LM*Error` classes with the HTTP status, which errors.py maps to protocol codes;
- cost: the profile's `free`/prices decide (tracing.py); else DSPy's own estimate for a model whose
  public prices it knows (as its native route does), else it is unknown.

No key is sent when the profile names none: an `Authorization` header exists only with a key.

A profile with `endpoints` (lmpool.py) is one such LM over a pool: the same model string, body, cache
and kwargs for every call; only the server (its address and key) differs from call to call.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import dspy
import httpx
from dspy.utils import exceptions as dx

from . import lmpool

PREFIX = "openai/"
DEFAULT_TIMEOUT = 600.0  # seconds, LiteLLM's default for a call
# Client settings this LM takes from the profile's kwargs; anything else client-side (headers,
# api_version, an engine, a model_type) keeps the profile on dspy.LM.
_CLIENT = {"timeout", "num_retries", "api_key", "api_base"}
_NOT_HERE = {"engine", "model_type", "headers", "extra_headers", "extra_query", "api_version", "organization",
             "project", "base_url", "custom_llm_provider", "azure_ad_token_provider", "stream"}
# What DSPy's native route reports for an unknown OpenAI-compatible model: no `response_format`, so
# DSPy's JSONAdapter sends none (the json_schema adapter sends its own).
_SUPPORTED = frozenset({"top_p", "frequency_penalty", "user", "logprobs", "top_logprobs", "logit_bias",
                        "presence_penalty", "seed", "max_completion_tokens", "stop", "temperature", "max_tokens"})
_CACHE_ID = "signet.openai_lm.chat"
_RETRYABLE_STATUS = (408, 409, 429)


def handles(model: str, api_base: str | None, kwargs: dict[str, Any]) -> bool:
    """True for a profile this LM serves: an `openai/` model at an `api_base`, no engine or client option it lacks."""
    return model.startswith(PREFIX) and bool(api_base) and not unsupported(kwargs)


def unsupported(kwargs: dict[str, Any]) -> list[str]:
    """The profile kwargs this LM does not take (they keep a profile on dspy.LM)."""
    return sorted(set(kwargs) & _NOT_HERE)


def client(api_base: str, api_key: str | None, timeout: float | None) -> httpx.Client:
    """The httpx client of one server: its address, its key as a bearer token when there is one."""
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.Client(base_url=api_base.rstrip("/"), headers=headers,
                        timeout=float(timeout) if timeout is not None else DEFAULT_TIMEOUT)


class OpenAICompatLM(dspy.BaseLM):
    """`dspy.BaseLM` over one OpenAI-compatible `/chat/completions` endpoint."""

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None,
                 temperature: float | None = None, max_tokens: int | None = None, cache: bool = True,
                 num_retries: int = 1, timeout: float | None = None, estimate_cost: bool = True,
                 pool: lmpool.Pool | None = None, **kwargs: Any):
        super().__init__(model, model_type="chat", temperature=temperature, max_tokens=max_tokens, cache=cache,
                         num_retries=num_retries, **kwargs)
        if not api_base and pool is None:
            raise ValueError("an OpenAI-compatible LM needs an api_base or a pool of endpoints")
        self.api_base = api_base.rstrip("/") if api_base else None
        self.pool = pool  # shared by every copy, like the client
        self._api_key = api_key
        self._timeout = float(timeout) if timeout is not None else DEFAULT_TIMEOUT
        self._estimate = estimate_cost  # off when the profile prices calls itself: DSPy's price table is not loaded
        # Every copy (a request's LM is a copy of the cached base) shares one client and its
        # connections: DSPy's copy() is shallow, so this holder goes along; the first call makes the client.
        self._shared = _SharedClient()

    @property
    def supported_params(self) -> set[str]:
        return set(_SUPPORTED)

    def dump_state(self) -> dict[str, Any]:
        state = super().dump_state()
        if self.pool is not None:
            state["endpoints"] = [e.spec.api_base for e in self.pool.endpoints]
        else:
            state["api_base"] = self.api_base
        return state

    def _http(self) -> httpx.Client:
        shared = self._shared
        with shared.lock:
            if shared.client is None:
                shared.client = client(self.api_base or "", self._api_key, self._timeout)
            return shared.client

    def body(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> dict[str, Any]:
        """The JSON body of a call: the model, the messages and every set parameter."""
        params = {k: v for k, v in {**self.kwargs, **kwargs}.items()
                  if v is not None and k not in _CLIENT and k not in ("cache", "rollout_id")}
        if messages is None:
            messages = [{"role": "user", "content": prompt}]
        return {"model": self.model[len(PREFIX):], "messages": messages, **params}

    def forward(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> dict[str, Any]:
        use_cache = kwargs.pop("cache", self.cache)
        body = self.body(prompt, messages, **kwargs)
        key = None
        if use_cache:
            key = {"_fn_identifier": _CACHE_ID, **body,
                   "rollout_id": kwargs.get("rollout_id", self.kwargs.get("rollout_id"))}
            hit = dspy.cache.get(key)
            if hit is not None:
                return {**hit, "usage": {}}  # DSPy's sign of a hit: the stored reply, nothing billed
        response = self._post(body)
        if key is not None:
            dspy.cache.put(key, response)
        return _Reply(response, cost=_estimate(response, body["model"]) if self._estimate else None)

    async def aforward(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> dict[str, Any]:
        import asyncio  # the worker itself calls synchronously; a user's async module still works

        return await asyncio.to_thread(self.forward, prompt, messages, **kwargs)

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.pool is not None:
            return self._post_pool(self.pool, body)
        data = json.dumps(body)
        for attempt in range(self.num_retries + 1):
            sent = self._send(self._http(), data, self.api_base)
            if not isinstance(sent, dx.LMError):
                return sent
            exc = sent
            if attempt >= self.num_retries or not dx.is_retryable_lm_error(exc):
                raise exc
            time.sleep(_delay(exc, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, client: httpx.Client, data: str, base: str | None) -> dict[str, Any] | dx.LMError:
        """One POST: the checked reply, or the DSPy error it came to (a reply that is not a completion raises)."""
        try:
            reply = client.post("/chat/completions", content=data, headers={"content-type": "application/json"})
        except httpx.TimeoutException as e:
            exc: dx.LMError = dx.LMTimeoutError(f"{self.model}: no reply within {self._timeout:g}s", model=self.model)
            exc.__cause__ = e
            return exc
        except httpx.TransportError as e:
            exc = dx.LMTransportError(f"{self.model}: cannot reach {base}: {e}", model=self.model)
            exc.__cause__ = e
            return exc
        if reply.status_code < 400:
            return _checked(reply, self.model)
        return _status_error(reply, self.model)

    def _post_pool(self, pool: lmpool.Pool, body: dict[str, Any]) -> dict[str, Any]:
        """One call over a pool: a failing or rate-limited endpoint is left, and the call goes to another.

        Each endpoint gets one try per call (failing over costs no delay), on top of `num_retries` more;
        only once every endpoint has failed this call does a retry wait as a single endpoint's would.
        """
        data = json.dumps(body)
        attempts = self.num_retries + len(pool.endpoints)
        failed: set[int] = set()
        for attempt in range(attempts):
            try:
                endpoint = pool.acquire(self._timeout)
            except lmpool.NoEndpoint as e:
                raise dx.LMRateLimitError(f"{self.model}: {e}", model=self.model) from e
            t0 = time.monotonic()
            try:
                sent = self._send(endpoint.client, data, endpoint.spec.api_base)
            except dx.LMServerError as e:  # a reply that is not a completion
                sent = e
            except BaseException:
                pool.ended(endpoint)
                raise
            if not isinstance(sent, dx.LMError):
                pool.release(endpoint, latency=time.monotonic() - t0, usage=sent["usage"])
                return sent
            exc = sent
            said = exc.message.removeprefix(f"{self.model}: ")  # what the endpoint said, for its report
            if isinstance(exc, dx.LMRateLimitError):
                pool.failed(endpoint, said, rate_limited=True, retry_after=exc.retry_after)
            elif dx.is_retryable_lm_error(exc):
                pool.failed(endpoint, said)
            else:  # the request's own fault (bad request, auth): another server would say the same
                pool.ended(endpoint)
                raise exc
            failed.add(id(endpoint))
            if attempt + 1 >= attempts:
                raise exc
            if len(failed) >= len(pool.endpoints) and not isinstance(exc, dx.LMRateLimitError):
                time.sleep(_delay(exc, attempt))  # every endpoint failed: back off as one server's retry would
        raise AssertionError("unreachable")  # pragma: no cover


class _SharedClient:
    """The httpx client of an LM and its copies, made at the first call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.client: httpx.Client | None = None


class _Reply(dict):
    """The OpenAI-shaped reply, with the cost DSPy's history entry reads from `_hidden_params`."""

    def __init__(self, data: dict[str, Any], *, cost: float | None):
        super().__init__(data)
        self._hidden_params = {"response_cost": cost}


def _estimate(response: dict[str, Any], wire_model: str) -> float | None:
    """DSPy's own estimate for the model's public per-token prices, as its native route makes it; None if unknown."""
    try:
        from dspy._vendor.lm15.providers.openai_chat import response_from_openai_chat
        from dspy.clients.costs import estimate_cost

        cost, _ = estimate_cost(response_from_openai_chat(response, model=wire_model), provider="openai-chat",
                                requested_model=wire_model)
        return cost
    except Exception:  # noqa: BLE001 - advisory: never fail a completed call over pricing
        return None


def _delay(exc: dx.LMError, attempt: int) -> float:
    hint = exc.retry_after
    if isinstance(hint, (int, float)) and 0 <= hint <= 60:
        return float(hint)
    return min(2.0 ** attempt, 60.0)  # as DSPy's engines back off


def _checked(reply: httpx.Response, model: str) -> dict[str, Any]:
    try:
        data = reply.json()
    except ValueError as e:
        raise dx.LMServerError(f"{model}: the server's reply is not JSON: {reply.text[:200]!r}", model=model,
                               status=reply.status_code) from e
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise dx.LMServerError(f"{model}: the server's reply has no choices: {reply.text[:200]!r}", model=model,
                               status=reply.status_code)
    data.setdefault("model", model)
    data["usage"] = data.get("usage") or {}
    return data


def _status_error(reply: httpx.Response, model: str) -> dx.LMError:
    """The DSPy error class for an HTTP error status, carrying the server's own message."""
    status = reply.status_code
    try:
        detail = reply.json().get("error") or {}
        message = detail.get("message") if isinstance(detail, dict) else str(detail)
    except (ValueError, AttributeError):
        message = None
    message = f"{model}: HTTP {status}: {message or reply.text[:500] or reply.reason_phrase}"
    retry_after = lmpool.parse_retry_after(reply.headers.get("retry-after"), time.time())
    meta: dict[str, Any] = {"model": model, "status": status, "retry_after": retry_after}
    if status in (401, 403):
        return dx.LMAuthError(message, **meta)
    if status == 402:
        return dx.LMBillingError(message, **meta)
    if status == 429:
        return dx.LMRateLimitError(message, **meta)
    if status in (408, 504):
        return dx.LMTimeoutError(message, **meta)
    if status >= 500 or status in _RETRYABLE_STATUS:
        return dx.LMServerError(message, **meta)
    return dx.LMInvalidRequestError(message, **meta)
