"""Pydantic-free checks for the warm path of ``agent.config.load_config``.

``check_settings`` vouches for top-level values from the environment and the command line (a few simple
scalars). It accepts a value only when ``config_schema.Settings`` certainly accepts it, and returns the
value exactly as that model would normalise it; for anything else it returns None and the caller asks
pydantic, whose verdict (and error message) is then the one the user sees. So an accepted value costs no
pydantic import, and a bad one gets the same message on every path.

``layer_from_json`` turns a cache entry back into a ``FileLayer``, checking the shape and the types of
what a validated file can hold; anything else means the entry is corrupt (or not ours) and is ignored.

``untrusted_settings`` keeps what an untrusted project file may set: a value applies only when it makes
corral stricter than the value in effect (``tightens``), and everything else is reported
(``docs/CONFIG.md``, "Project configuration and trust").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from agent.config_data import (
    ENV_PATTERN_RE,
    KINDS,
    MODES,
    PRICE_KEYS,
    PROJECT_RESERVED,
    SANDBOXES,
    SETTING_KEYS,
    THINKING_LEVELS,
    TIGHTENING_KEYS,
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
    if key == "context_window":
        return _is_int(value) and value > 0, value  # type: ignore[operator]
    if key == "compact_at":
        ok = _is_number(value) and 0 < value <= 1  # type: ignore[operator]
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
    if not isinstance(data, dict) or set(data) - {"reserved"} != {"settings", "providers"}:
        return None
    settings, providers = data["settings"], data["providers"]
    if not isinstance(settings, dict) or not isinstance(providers, dict):
        return None
    reserved = data.get("reserved", [])
    if not isinstance(reserved, list) or not all(k in PROJECT_RESERVED for k in reserved):
        return None
    if check_settings(settings) != settings:  # valid, and already normalised
        return None
    if not all(type(name) is str and _provider_ok(table) for name, table in providers.items()):
        return None
    return FileLayer(settings, providers, tuple(reserved))


# ------------------------------------------------------------------------------ untrusted project values

_LOWER_ONLY = {"max_turns": "turns", "bash_timeout": "seconds", "context_window": "tokens", "compact_at": ""}


def tightens(key: str, value: object, effective: object) -> tuple[bool, str | None]:
    """Whether an untrusted project may change key from effective to value (both validated):
    (True, None) it only tightens, apply it; (False, None) it changes nothing; (False, why) refused, why
    being a short phrase for the report. ``context_window``'s effective value is the window known before
    the project (None: unknown, so a project value cannot be shown to be lower)."""
    if value == effective:
        return False, None
    if key == "mode":
        if MODES.index(str(value)) < MODES.index(str(effective)):
            return True, None
        return False, f'looser than "{effective}", the mode in effect; a project may only choose a stricter mode'
    if key == "sandbox_network":
        return (True, None) if value is False else (False, "it would give sandboxed commands the network")
    if key == "sandbox":
        if value == "none":
            return False, "it would run commands without a sandbox"
        return False, f'"{effective}" is in effect; choosing the sandbox backend is yours alone'
    if key in _LOWER_ONLY:
        if effective is None:
            return False, "the model's own context window is not known here, so a lower one cannot be told"
        if value < effective:  # type: ignore[operator]
            return True, None
        unit = f" {_LOWER_ONLY[key]}" if _LOWER_ONLY[key] else ""
        return False, f"higher than {effective!r}{unit}, the value in effect; a project may only lower it"
    return False, "an untrusted project may not set it (it cannot tighten anything)"


def _refusal(key: str, value: object, path: Path, why: str) -> str:
    """One line: the file, the key (and value), why it was refused, what to do."""
    import json

    shown = f" = {json.dumps(value)}" if isinstance(value, str | int | float | bool | list) else ""
    return (f"ignored {key}{shown} from untrusted project file {path}: {why}; "
            "run `corral trust` after reviewing .corral/ to accept it")


def untrusted_settings(layer: FileLayer, path: Path, values: Mapping[str, object],
                       known_window: int | None) -> tuple[dict[str, object], list[str]]:
    """The settings of an untrusted project file (``layer``, from ``path``) that only tighten ``values``
    (in effect before the project), and a refusal for every other setting, provider table and reserved
    key it holds. known_window: the context window in effect when ``values`` has none (a provider
    table's), else None."""
    applied: dict[str, object] = {}
    refused: list[str] = []
    for key, value in layer.settings.items():
        effective = values.get(key)
        if key == "context_window" and effective is None:
            effective = known_window
        if key in TIGHTENING_KEYS:
            apply, why = tightens(key, value, effective)
        else:
            apply, why = False, "an untrusted project may not set it"
        if apply:
            applied[key] = value
        elif why is not None:
            refused.append(_refusal(key, value, path, why))
    for name in layer.providers:
        refused.append(_refusal(f"[providers.{name}]", None, path, "an untrusted project may not add or change "
                                "providers"))
    for key in layer.reserved:
        refused.append(_refusal(key, None, path, "an untrusted project may not add MCP servers"))
    return applied, refused
