"""Pydantic-free checks for the warm path of ``agent.config.load_config``.

``check_settings`` vouches for top-level values from the environment and the command line (a few simple
scalars). It accepts a value only when ``config_schema.Settings`` certainly accepts it, and returns the
value exactly as that model would normalise it; for anything else it returns None and the caller asks
pydantic, whose verdict (and error message) is then the one the user sees. So an accepted value costs no
pydantic import, and a bad one gets the same message on every path.

``layer_from_json`` turns a cache entry back into a ``FileLayer``, checking the shape and the types of
what a validated file can hold; anything else means the entry is corrupt (or not ours) and is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from agent.config_data import (
    ENV_PATTERN_RE,
    KINDS,
    MODES,
    PRICE_KEYS,
    SANDBOXES,
    SETTING_KEYS,
    THINKING_LEVELS,
    FileLayer,
)

_CHOICES: dict[str, tuple[str, ...]] = {"mode": MODES, "thinking": THINKING_LEVELS, "sandbox": SANDBOXES}


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def _check_one(key: str, value: object) -> tuple[bool, object]:
    """(True, normalised value) when Settings accepts value for key, else (False, None)."""
    if key in ("provider", "thinking", "sandbox", "mode"):
        if type(value) is not str:
            return False, None
        norm = value.strip().lower()
        if key == "mode":
            norm = norm.replace("_", "-")
            norm = "read-only" if norm == "readonly" else norm
        if key == "provider":
            return bool(norm), norm
        return norm in _CHOICES[key], norm
    if key in ("model", "theme"):
        return type(value) is str and bool(value), value
    if key == "sandbox_network":
        return type(value) is bool, value
    if key == "max_turns":
        return _is_int(value) and value >= 1, value  # type: ignore[operator]
    if key == "bash_timeout":
        ok = _is_number(value) and value > 0  # type: ignore[operator]
        return ok, float(value) if ok else None  # type: ignore[arg-type]
    if key == "env_allow":
        ok = type(value) is list and all(type(v) is str and ENV_PATTERN_RE.match(v) for v in value)
        return ok, list(value) if ok else None  # type: ignore[call-overload]
    return False, None


def check_settings(raw: Mapping[str, object]) -> dict[str, object] | None:
    """The values of raw as ``Settings`` would validate and normalise them, or None when any of them is not
    certainly valid (or its key unknown): then pydantic must judge."""
    out: dict[str, object] = {}
    for key in SETTING_KEYS:
        if key in raw:
            ok, value = _check_one(key, raw[key])
            if not ok:
                return None
            out[key] = value
    return out if len(out) == len(raw) else None


def _field_ok(key: str, v: object) -> bool:
    """Whether v is a value a validated [providers.NAME] table can hold for key."""
    if key == "kind":
        return v in KINDS
    if key == "base_url":
        return type(v) is str and v.startswith(("http://", "https://"))
    if key in ("api_key_env", "model"):
        return type(v) is str and bool(v)
    if key == "headers":
        return type(v) is dict and all(type(h) is str and type(t) is str for h, t in v.items())
    if key == "timeout":
        return _is_number(v) and v > 0  # type: ignore[operator]
    if key == "verify_tls":
        return type(v) is bool
    if key == "max_retries":
        return _is_int(v) and 0 <= v <= 100  # type: ignore[operator]
    if key == "context_window":
        return _is_int(v) and v > 0  # type: ignore[operator]
    if key == "prices":
        return (type(v) is dict and {"input", "output"} <= set(v) <= set(PRICE_KEYS)
                and all(_is_number(p) and p >= 0 for p in v.values()))
    return False


def _provider_ok(table: object) -> bool:
    return type(table) is dict and all(_field_ok(key, value) for key, value in table.items())


def layer_from_json(data: object) -> FileLayer | None:
    """The FileLayer a cache entry holds ({"settings": {...}, "providers": {...}}), or None if it is not
    one a validated file could have produced."""
    if not isinstance(data, dict) or set(data) != {"settings", "providers"}:
        return None
    settings, providers = data["settings"], data["providers"]
    if not isinstance(settings, dict) or not isinstance(providers, dict):
        return None
    if check_settings(settings) != settings:  # valid, and already normalised
        return None
    if not all(type(name) is str and _provider_ok(table) for name, table in providers.items()):
        return None
    return FileLayer(settings, providers)
