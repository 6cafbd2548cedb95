"""The `json_schema` adapter: DSPy's JSONAdapter with the signature's schema enforced by the server.

Small local models rarely follow ChatAdapter's `[[ ## field ## ]]` format, and DSPy's JSONAdapter
only sends a schema to LMs whose capabilities it knows (OpenAI-style structured outputs); for an
unknown model behind an OpenAI-compatible `api_base` it sends no `response_format` at all. This
adapter always sends one, built from the signature's output fields (ChainOfThought's `reasoning`
included, as the first field): llama.cpp's servers turn `{"type": "json_object", "schema": {...}}`
into a grammar, so the model can only produce a JSON object of exactly those fields, in order,
with `Literal` values from their enum and lists as arrays.

Everything else is DSPy's JSONAdapter: the same prompt, the same `parse` (so a reply that does not
fit the signature is still an `AdapterParseError`, reported as `lm_output`), the same callbacks.

Wire shape: for an LM reached over HTTP the format is llama.cpp's `json_object` + `schema`. The
worker's own OpenAI-compatible LM (openai_lm.py: `openai/` models at an `api_base`) sends it
as it is; for a `dspy.LM`: DSPy's native (lm15) request has no slot for that key, so DSPy sends the call through
its LiteLLM compatibility engine, which hands `response_format` to the server as it is (DSPy 3.4:
"an input the native route cannot carry selects LiteLLM before any I/O"). A custom engine
(`signet/test`) only takes canonical requests, so it gets the OpenAI `json_schema` shape, which
lm15 carries as `config.response_format` with the same schema.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import dspy
import pydantic

logger = logging.getLogger(__name__)

SCHEMA_NAME = "outputs"
# Annotation keys that carry no constraint: dropped to keep the schema (and the grammar) small.
_NOISE = ("title", "description", "default", "examples", "json_schema_extra")


def _tidy(node: Any) -> Any:
    """Drop descriptive keys; every object with declared properties requires all of them and no others."""
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {k: _tidy(v) for k, v in value.items()}  # names here are data, not keywords
        elif key in _NOISE:
            continue
        else:
            out[key] = _tidy(value)
    if isinstance(out.get("properties"), dict) and out["properties"]:
        out["type"] = "object"
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def output_schema(signature: type[dspy.Signature]) -> dict[str, Any]:
    """A JSON schema for the signature's output fields, in their order, all required, nothing else.

    Per field: pydantic's schema of its annotation (`str` -> string, `Literal[...]` -> enum,
    `list[str]` -> array of strings, `int`, `float`, `bool`, pydantic models with their `$defs`,
    `dict[...]` as an open object). A field whose type has no JSON schema accepts any JSON value.
    """
    fields = list(signature.output_fields.items())
    adapters = []
    for name, field in fields:
        try:
            adapters.append((name, "validation", pydantic.TypeAdapter(field.annotation)))
        except Exception:  # noqa: BLE001 - a type pydantic cannot wrap: leave the value free
            adapters.append((name, "validation", None))
    known = [a for a in adapters if a[2] is not None]
    schemas: dict[Any, Any] = {}
    defs: dict[str, Any] = {}
    try:
        schemas, top = pydantic.TypeAdapter.json_schemas(known)
        defs = top.get("$defs") or {}
    except Exception:  # noqa: BLE001 - one field without a JSON schema: build them one by one
        for name, mode, adapter in known:
            try:
                one = adapter.json_schema(mode=mode)
            except Exception:  # noqa: BLE001
                continue
            defs.update(one.pop("$defs", {}) or {})
            schemas[(name, mode)] = one
    properties = {name: copy.deepcopy(schemas.get((name, "validation"), {})) for name, _ in fields}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if defs:
        schema["$defs"] = defs
    schema = _tidy(schema)
    schema["required"] = list(properties)
    schema["additionalProperties"] = False
    return schema


def _custom_engine(lm: Any) -> bool:
    """True for an LM whose engine is an object (DSPy's custom-engine LMs, such as `signet/test`)."""
    try:
        engine = getattr(lm, "engine", "auto")
    except Exception:  # noqa: BLE001 - a BaseLM subclass without engines
        return False
    return engine is not None and not isinstance(engine, str)


def response_format(signature: type[dspy.Signature], lm: Any = None) -> dict[str, Any]:
    """The `response_format` the `json_schema` adapter sends with a call of `lm`."""
    schema = output_schema(signature)
    if lm is not None and _custom_engine(lm):
        return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "schema": schema}}
    return {"type": "json_object", "schema": schema}


class JSONSchemaAdapter(dspy.JSONAdapter):
    """JSONAdapter whose every call carries the signature's JSON schema as `response_format`.

    Only the choice of `response_format` differs from DSPy's JSONAdapter (which asks the LM's
    capabilities first and, for a model it does not know, sends none): the LM profile that selects
    this adapter states that its server enforces the schema.
    """

    def _prepare_response_format(self, lm, lm_kwargs, signature):
        try:
            lm_kwargs["response_format"] = response_format(signature, lm)
        except Exception as exc:  # noqa: BLE001 - never fail a call over its schema: plain JSON mode
            logger.warning("signet: no JSON schema for %s (%s); asking for any JSON object", signature, exc)
            lm_kwargs["response_format"] = {"type": "json_object"}


# DSPy's Adapter.__init_subclass__ wraps `format` and `parse` with its callbacks once more for every
# subclass, inherited methods included: left alone, each call of this adapter would show as three
# nested `format` spans and two `parse` spans. JSONAdapter's own (already wrapped) methods are used.
JSONSchemaAdapter.format = dspy.JSONAdapter.format
JSONSchemaAdapter.parse = dspy.JSONAdapter.parse
