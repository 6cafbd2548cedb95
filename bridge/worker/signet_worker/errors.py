"""Exceptions of the worker and their mapping to protocol error codes.

DSPy 3.4 surfaces provider failures as its own `dspy.utils.exceptions.LM*Error`
classes (projected from lm15's canonical errors), with the LiteLLM/OpenAI SDK
exception somewhere in the `__cause__` chain when the LiteLLM engine was used.
`to_error` walks the whole cause/context chain, outermost first, and also
recognises the LiteLLM and OpenAI classes by name, so it does not depend on
which engine DSPy picked.
"""

from __future__ import annotations

import traceback
from typing import Any

from . import redact

# code -> default retryable (docs/protocol.md, "Errors")
CODES: dict[str, bool] = {
    "lm_auth": False,
    "lm_rate_limit": True,
    "lm_timeout": True,
    "lm_unavailable": True,
    "lm_request": False,
    "lm_output": False,
    "bad_program": False,
    "bad_input": False,
    "user_code": False,
    "cancelled": False,
    "budget": False,
    "internal": False,
}

MAX_MESSAGE = 8000


class Cancelled(BaseException):
    """Raised by the tracing callback when the request was cancelled.

    A BaseException on purpose: DSPy's `with_callbacks` swallows `Exception`s
    raised by callbacks (it logs them), and DSPy modules such as ReAct catch
    `Exception` around tools. Cancellation must get through all of them.
    """


class BudgetRefused(BaseException):
    """The owner's budget gate refused an LM call (budget.py): a monthly cap would be passed.

    A BaseException for the reason `Cancelled` is one: it is raised from the LM start hook, and
    DSPy's `with_callbacks` swallows `Exception`s raised there.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class WorkerError(Exception):
    """An error the worker raises itself, with its protocol code."""

    code = "internal"

    def __init__(self, message: str, *, retryable: bool | None = None, **detail: Any):
        super().__init__(message)
        self.message = message
        self.retryable = CODES[self.code] if retryable is None else retryable
        self.detail = {k: v for k, v in detail.items() if v is not None}


class BadProgram(WorkerError):
    code = "bad_program"


class BadInput(WorkerError):
    code = "bad_input"


class LMAuthMissing(WorkerError):
    code = "lm_auth"


class LMRequest(WorkerError):
    code = "lm_request"


class UserCodeError(WorkerError):
    code = "user_code"


# --- user code registry: files loaded from the user's project -------------------------------------

_user_files: set[str] = set()


def register_user_file(path: str) -> None:
    _user_files.add(path)


def _in_user_code(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in _user_files:
            return True
        tb = tb.tb_next
    return False


# --- classification ---------------------------------------------------------------------------------

def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        todo.append(e.__cause__)  # type: ignore[arg-type]
        if not e.__suppress_context__ or e.__cause__ is None:
            todo.append(e.__context__)  # type: ignore[arg-type]
    return out


def _names(exc: BaseException) -> set[str]:
    return {f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__}


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):  # includes lm15.TimeoutError and socket timeouts
        return True
    return any(n.endswith(("Timeout", "TimeoutError", "TimeoutException")) for n in (c.__name__ for c in type(exc).__mro__))


_SDK_CODES = (
    # (class name suffixes in litellm / openai / httpx, code), most specific first
    (("AuthenticationError", "PermissionDeniedError", "BudgetExceededError"), "lm_auth"),
    (("RateLimitError",), "lm_rate_limit"),
    (("Timeout", "APITimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout"), "lm_timeout"),
    (("ServiceUnavailableError", "InternalServerError", "APIConnectionError", "BadGatewayError",
      "ConnectError", "ConnectionError"), "lm_unavailable"),
    (("ContextWindowExceededError", "BadRequestError", "NotFoundError", "UnprocessableEntityError",
      "UnsupportedParamsError", "InvalidRequestError"), "lm_request"),
)


def _sdk_code(exc: BaseException) -> str | None:
    mods = {c.__module__.split(".")[0] for c in type(exc).__mro__}
    if not mods & {"litellm", "openai", "httpx", "httpcore"}:
        return None
    names = {c.__name__ for c in type(exc).__mro__}
    for suffixes, code in _SDK_CODES:
        if names & set(suffixes):
            return code
    return None


def _dspy_code(exc: BaseException, rest: list[BaseException]) -> tuple[str, bool] | None:
    """Code for DSPy's own LM errors and AdapterParseError, or None."""
    try:
        from dspy.utils import exceptions as dx
    except Exception:  # pragma: no cover - dspy always importable in the worker
        return None
    if isinstance(exc, dx.AdapterParseError):
        return "lm_output", False
    if not isinstance(exc, dx.LMError):
        return None
    if isinstance(exc, (dx.LMAuthError, dx.LMBillingError, dx.LMNotConfiguredError)):
        return "lm_auth", False
    if isinstance(exc, dx.LMRateLimitError):
        return "lm_rate_limit", True
    if isinstance(exc, dx.LMTimeoutError):
        return "lm_timeout", True
    if isinstance(exc, dx.LMTransportError):
        if _is_timeout(exc) or any(_is_timeout(e) for e in rest):
            return "lm_timeout", True
        return "lm_unavailable", True
    if isinstance(exc, dx.LMServerError):
        return "lm_unavailable", True
    if isinstance(exc, (dx.LMInvalidRequestError, dx.LMUnsupportedFeatureError, dx.LMConfigurationError)):
        return "lm_request", False
    if isinstance(exc, dx.LMUnexpectedError):
        return None  # look further down the chain: an engine bug or user engine code
    return "lm_unavailable", dx.is_retryable_lm_error(exc)


def _lm_detail(exc: BaseException) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    for name in ("status", "provider", "model", "retry_after"):
        value = getattr(exc, name, None)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            detail[name] = value
    return detail


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + " ..."
    return redact.redact(text)


def _traceback(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if len(text) > 4 * MAX_MESSAGE:
        text = "...\n" + text[-4 * MAX_MESSAGE:]
    return redact.redact(text)


SPENT_ATTR = "_signet_spent"


def with_spent(exc: BaseException, spent: dict[str, Any]) -> BaseException:
    """Attach what the request spent before `exc` ended it: `to_error` reports it as `detail.spent`,
    so a failed run is charged its LM calls."""
    setattr(exc, SPENT_ATTR, spent)
    return exc


def to_error(exc: BaseException) -> dict[str, Any]:
    """The protocol error body for an exception, with `detail.spent` when the request spent something."""
    body = _body(exc)
    spent = getattr(exc, SPENT_ATTR, None)
    if isinstance(spent, dict):
        body["detail"] = {**(body.get("detail") or {}), "spent": spent}
    return body


def _body(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, Cancelled):
        return {"code": "cancelled", "message": "the request was cancelled", "retryable": False}
    if isinstance(exc, BudgetRefused):
        return {"code": "budget", "message": redact.redact(exc.message), "retryable": False}
    if isinstance(exc, WorkerError):
        body: dict[str, Any] = {"code": exc.code, "message": redact.redact(exc.message), "retryable": exc.retryable}
        if exc.detail:
            body["detail"] = {k: (redact.redact(v) if isinstance(v, str) else v) for k, v in exc.detail.items()}
        return body
    chain = _chain(exc)
    for i, e in enumerate(chain):
        if isinstance(e, (Cancelled, BudgetRefused, WorkerError)):
            return _body(e)
        found = _dspy_code(e, chain[i + 1:])
        if found is None:
            code = _sdk_code(e)
            if code is not None:
                found = (code, CODES[code])
        if found is not None:
            code, retryable = found
            body = {"code": code, "message": _message(e), "retryable": retryable}
            detail = _lm_detail(e)
            detail["type"] = type(e).__name__
            detail["traceback"] = _traceback(exc)
            body["detail"] = detail
            return body
    if _in_user_code(exc) or any(_in_user_code(e) for e in chain):
        return {"code": "user_code", "message": _message(exc), "retryable": False,
                "detail": {"type": type(exc).__name__, "traceback": _traceback(exc)}}
    return {"code": "internal", "message": _message(exc), "retryable": False,
            "detail": {"type": type(exc).__name__, "traceback": _traceback(exc)}}
