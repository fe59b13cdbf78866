"""The pydantic models that validate a config file (and environment/flag values), and the translation of
pydantic errors into one-line messages. The plain data (built-in providers, defaults, allowed values) lives
in ``agent/config_data.py`` and is re-exported here.

Every model forbids unknown keys and is strict about types (TOML already gives typed values, so
``timeout = "30"`` is an error, not a silent conversion). A field left out is ``None``: the layering in
``agent/config.py`` then takes the value from a lower layer or the default.

Importing this module costs pydantic and the building of the models (a large part of a one-shot run), so
``agent.config`` imports it only to validate a file it has not validated before (``agent/config_cache.py``)
or a value its pydantic-free check (``agent/config_check.py``) cannot vouch for.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from agent.config_data import (
    BUILTIN_PROVIDERS,
    DEFAULTS,
    ENV_NAME_RE,
    ENV_PATTERN_RE,
    ENV_VARS,
    HEADER_NAME_RE,
    KINDS,
    MODES,
    PROVIDER_DEFAULTS,
    PROVIDER_NAME_RE,
    VAR_REF_RE,
    BuiltinProvider,
    FileLayer,
    describe_source,
    key_path,
)
from agent.errors import ConfigError

__all__ = [
    "BUILTIN_PROVIDERS", "DEFAULTS", "ENV_NAME_RE", "ENV_PATTERN_RE", "ENV_VARS", "HEADER_NAME_RE", "KINDS", "MODES",
    "PROVIDER_DEFAULTS", "PROVIDER_NAME_RE", "VAR_REF_RE", "BuiltinProvider", "ConfigFile", "ModeName",
    "PricesModel", "ProviderKind", "ProviderTable", "SandboxName", "Settings", "ThinkingName", "describe_error",
    "describe_source", "format_errors", "key_path", "validate_file", "validate_settings",
]

# The same values as KINDS, MODES, THINKING_LEVELS and SANDBOXES in config_data (a test checks it).
ProviderKind = Literal["openai", "openrouter", "anthropic", "gemini", "ollama"]
ModeName = Literal["restrictive", "read-only", "guarded", "standard", "yolo"]
ThinkingName = Literal["off", "low", "medium", "high"]
SandboxName = Literal["auto", "bwrap", "zerobox", "none"]

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
_Seconds = Field(default=None, gt=0)


def _header_name(name: str) -> str:
    if not HEADER_NAME_RE.match(name):
        raise ValueError(f"{name!r} is not a valid HTTP header name")
    return name


def _header_value(template: str) -> str:
    if "\r" in template or "\n" in template:
        raise ValueError("the value contains a line break")
    for ref in VAR_REF_RE.findall(template):
        if not ENV_NAME_RE.match(ref):
            raise ValueError(f"${{{ref}}} is not a valid ${{VARIABLE}} reference")
    if "${" in VAR_REF_RE.sub("", template):
        raise ValueError(f"unclosed ${{ in {template!r}; write ${{VARIABLE}}")
    return template


HeaderName = Annotated[str, AfterValidator(_header_name)]
HeaderValue = Annotated[str, AfterValidator(_header_value)]
"""Header values are templates: ``${VAR}`` is replaced from the environment when the provider is used."""


class PricesModel(BaseModel):
    """USD per million tokens."""

    model_config = _STRICT
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


class ProviderTable(BaseModel):
    """One ``[providers.NAME]`` table: every field optional (the built-in or the kind gives defaults)."""

    model_config = _STRICT
    kind: ProviderKind | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    headers: dict[HeaderName, HeaderValue] | None = None
    timeout: float | None = _Seconds
    verify_tls: bool | None = None
    max_retries: int | None = Field(default=None, ge=0, le=100)
    context_window: int | None = Field(default=None, gt=0)
    prices: PricesModel | None = None
    model: str | None = Field(default=None, min_length=1)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/") if value is not None else None

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME_RE.match(value):
            raise ValueError(f"{value!r} is not an environment variable name (the name, not the key itself)")
        return value


class Settings(BaseModel):
    """The top-level keys; also validates environment-variable and command-line values."""

    model_config = _STRICT
    provider: str | None = Field(default=None, min_length=1)
    model: str | None = Field(default=None, min_length=1)
    mode: ModeName | None = None
    thinking: ThinkingName | None = None
    sandbox: SandboxName | None = None
    sandbox_network: bool | None = None
    max_turns: int | None = Field(default=None, ge=1)
    bash_timeout: float | None = _Seconds
    env_allow: list[str] | None = None
    theme: str | None = Field(default=None, min_length=1)
    context_window: int | None = Field(default=None, gt=0)
    compact_at: float | None = Field(default=None, gt=0, le=1)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        if isinstance(value, str):
            norm = value.strip().lower().replace("_", "-")
            return "read-only" if norm == "readonly" else norm
        return value

    @field_validator("thinking", "sandbox", "provider", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("env_allow")
    @classmethod
    def _env_allow(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if not ENV_PATTERN_RE.match(name):
                raise ValueError(f"{name!r} is not an environment variable name or pattern (like LC_*)")
        return value


class ConfigFile(Settings):
    """A whole config file: the top-level keys and the provider tables."""

    providers: dict[str, ProviderTable] | None = None


# --------------------------------------------------------------------------------------- error messages


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
             dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    text = repr(value) if not isinstance(value, dict) else "a table"
    return text if len(text) <= 60 else text[:57] + "..."


_EXPECTED = {
    "float_type": "a number", "int_type": "an integer", "bool_type": "true or false", "string_type": "a string",
    "list_type": "an array of strings", "dict_type": "a table", "model_type": "a table",
    "int_from_float": "a whole number",
}


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that holds the last key of loc (for listing the known keys)."""
    current: type[BaseModel] | None = model
    rest = list(loc[:-1])
    while rest and current is not None:
        part = rest.pop(0)
        if part == "providers" and issubclass(current, ConfigFile):
            if not rest:
                return None
            rest.pop(0)
            current = ProviderTable
        elif part == "prices" and current is ProviderTable:
            current = PricesModel
        else:
            return None
    return current


def describe_error(error: ErrorDetails, model: type[BaseModel]) -> str:
    """One pydantic error as 'what is wrong; what to do'."""
    kind = error["type"]
    value = error.get("input")
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        holder = _model_at(model, loc)
        known = sorted(holder.model_fields) if holder is not None else []
        name = str(loc[-1])
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key; {hint}known keys here: {', '.join(known)}"
    if kind == "missing":
        return "required key is missing; add it"
    if kind == "literal_error":
        return f"{_show(value)} is not allowed; use one of {ctx.get('expected', '')}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_show(value)} ({_type_name(value)})"
    if kind in ("greater_than", "greater_than_equal", "less_than_equal"):
        word = {"greater_than": "greater than", "greater_than_equal": "at least", "less_than_equal": "at most"}[kind]
        bound = ctx.get("gt", ctx.get("ge", ctx.get("le")))
        return f"{_show(value)} is too {'large' if kind == 'less_than_equal' else 'small'}; use a value {word} {bound}"
    if kind == "finite_number":
        return f"{_show(value)} is not a finite number"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(error.get("msg", "")).removeprefix("Value error, ")
    return str(error.get("msg", "invalid value"))


def format_errors(exc: ValidationError, model: type[BaseModel], where: dict[str, str], default_where: str,
                  prefix: tuple[str, ...] = ()) -> str:
    """A ValidationError as at most a few lines '<where>: <key>: <problem>'. `where` maps a top-level key to
    the description of the layer that set it (e.g. 'environment variable CORRAL_MODE')."""
    lines: list[str] = []
    errors = exc.errors()
    for err in errors[:4]:
        loc = prefix + tuple(p for p in err["loc"] if p not in ("[key]", "function-after", "function-before"))
        place = where.get(str(loc[0]), default_where) if loc else default_where
        lines.append(f"{place}: {key_path(loc)}: {describe_error(err, model)}")
    if len(errors) > 4:
        lines.append(f"(and {len(errors) - 4} more problems)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ validating


def validate_file(data: Mapping[str, object], file_where: str) -> FileLayer:
    """A parsed TOML document validated as a whole config file, as plain data. Raises ConfigError naming
    file_where ('config file PATH'), the key path and the problem."""
    try:
        parsed = ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, ConfigFile, {}, file_where)) from None
    settings = {k: getattr(parsed, k) for k in Settings.model_fields if k in parsed.model_fields_set}
    providers: dict[str, dict[str, object]] = {}
    for name, table in (parsed.providers or {}).items():
        fields: dict[str, object] = {}
        for key in ProviderTable.model_fields:
            if key in table.model_fields_set:
                value = getattr(table, key)
                fields[key] = value.model_dump(exclude_none=True) if isinstance(value, PricesModel) else value
        providers[name] = fields
    return FileLayer(settings, providers)


def validate_settings(raw: Mapping[str, object], where: dict[str, str], default_where: str) -> dict[str, object]:
    """Top-level values (from the environment or the command line) validated and normalised; only the keys
    given. Raises ConfigError naming the source of the bad key (`where`, else default_where)."""
    try:
        settings = Settings.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, Settings, where, default_where)) from None
    return {k: getattr(settings, k) for k in Settings.model_fields if k in settings.model_fields_set}
