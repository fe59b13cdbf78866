"""A tiny validator for tool arguments against the tools' own (simple) JSON schemas.

Supports what our schemas use: objects with typed properties (string, integer, number, boolean, array,
object), `required`, `enum`, `minimum`/`maximum`, `default`, array `items` and nested objects. Unknown
arguments are refused (a typo like `file_path` should not silently do nothing). The messages are written
for the model: "argument 'path' is required", "argument 'limit' must be an integer".

A few lenient coercions that models need often and that cannot change meaning: an integral float
(`5.0`) or a decimal string (`"5"`) for an integer, `"true"`/`"false"` for a boolean.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_INT_RE = re.compile(r"-?\d{1,18}")
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "array": "an array",
    "object": "an object",
}


class ArgumentError(ValueError):
    """A bad argument; the message is meant for the model."""


def validate(schema: Mapping[str, Any], args: Mapping[str, object]) -> dict[str, Any]:
    """Check args against an object schema; return a copy with defaults filled in. Raises ArgumentError."""
    if not isinstance(args, Mapping):
        raise ArgumentError("the arguments must be a JSON object")
    return _object(schema, args, "")


def _name(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _object(schema: Mapping[str, Any], value: Mapping[str, object], prefix: str) -> dict[str, Any]:
    props: Mapping[str, Any] = schema.get("properties", {})
    out: dict[str, Any] = {}
    for key in value:
        if key not in props:
            known = ", ".join(props) or "none"
            raise ArgumentError(f"unknown argument '{_name(prefix, key)}' (expected: {known})")
    for key in schema.get("required", ()):
        if value.get(key) is None:
            raise ArgumentError(f"argument '{_name(prefix, key)}' is required")
    for key, sub in props.items():
        item = value.get(key)
        if item is None:
            if "default" in sub:
                out[key] = sub["default"]
            continue
        out[key] = _value(sub, item, _name(prefix, key))
    return out


def _value(schema: Mapping[str, Any], value: object, name: str) -> Any:
    kind = schema.get("type")
    checked: Any = value
    if kind == "string":
        if not isinstance(value, str):
            raise _type_error(name, kind)
    elif kind == "integer":
        checked = _integer(value, name)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(name, kind)
    elif kind == "boolean":
        checked = _boolean(value, name)
    elif kind == "array":
        if not isinstance(value, list):
            raise _type_error(name, kind)
        items: Mapping[str, Any] = schema.get("items", {})
        checked = [_value(items, item, f"{name}[{i}]") if items else item for i, item in enumerate(value)]
        if "minItems" in schema and len(checked) < schema["minItems"]:
            raise ArgumentError(f"argument '{name}' needs at least {schema['minItems']} item(s)")
    elif kind == "object":
        if not isinstance(value, Mapping):
            raise _type_error(name, kind)
        checked = _object(schema, value, name)
    if "enum" in schema and checked not in schema["enum"]:
        choices = ", ".join(repr(c) for c in schema["enum"])
        raise ArgumentError(f"argument '{name}' must be one of {choices} (got {checked!r})")
    if "minimum" in schema and checked < schema["minimum"]:
        raise ArgumentError(f"argument '{name}' must be at least {schema['minimum']} (got {checked})")
    if "maximum" in schema and checked > schema["maximum"]:
        raise ArgumentError(f"argument '{name}' must be at most {schema['maximum']} (got {checked})")
    return checked


def _integer(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise _type_error(name, "integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value)
    raise _type_error(name, "integer")


def _boolean(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _type_error(name, "boolean")


def _type_error(name: str, kind: str) -> ArgumentError:
    return ArgumentError(f"argument '{name}' must be {_TYPE_NAMES.get(kind, kind)}")
