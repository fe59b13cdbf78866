"""Providers as configured: built-in fields merged with ``[providers.NAME]`` tables, and what a provider
resolves to (``agent.providers.settings.ProviderSettings``: API key read from its variable, ``${VAR}``
header references expanded).

Part of ``agent/config.py`` (which re-exports the public names); kept apart to keep modules small. Works on
plain data (``FileLayer.providers``, already validated by pydantic), so it never imports pydantic.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence

from agent.config_data import (
    BUILTIN_PROVIDERS,
    KINDS,
    PROVIDER_DEFAULTS,
    PROVIDER_NAME_RE,
    VAR_REF_RE,
    describe_source,
    key_path,
)
from agent.errors import ConfigError
from agent.values import frozen


@frozen
class ProviderEntry:
    """A provider as configured (built-in fields merged with its table), before secrets are resolved.
    ``headers`` holds the templates as written (``${VAR}`` not yet expanded)."""

    name: str
    kind: str
    base_url: str
    api_key_env: tuple[str, ...]
    headers: Mapping[str, str]
    timeout: float
    verify_tls: bool
    max_retries: int
    context_window: int | None
    prices: Mapping[str, float] | None
    model: str
    builtin: bool
    configured: bool


ProviderTables = Mapping[str, Mapping[str, object]]
"""``FileLayer.providers``: table name -> the keys one file sets (validated)."""


def build_providers(layers: Sequence[tuple[ProviderTables, str]], sources: dict[str, str]) -> dict[str, ProviderEntry]:
    """Every provider: the built-ins (changed by tables of the same name) and the custom tables. ``layers``
    are (tables, source) pairs, lowest first (the user's file, then a trusted project file): a later table
    changes the fields it sets. Records the source of each field in sources (``providers.NAME.FIELD``).
    Raises ConfigError for what the schema cannot see alone: a custom provider without kind, a built-in
    given another kind, an unusable name."""
    merged: dict[str, dict[str, tuple[object, str]]] = {}
    table_source: dict[str, str] = {}  # the last file with a table of each name
    for tables, source in layers:
        for name, table in tables.items():
            if not PROVIDER_NAME_RE.match(name):
                raise ConfigError(f"{describe_source(source)}: {key_path(('providers', name))}: not a usable "
                                  "provider name; use letters, digits, '-', '_' or '.'")
            merged.setdefault(name, {}).update({key: (value, source) for key, value in table.items()})
            table_source[name] = source
    entries: dict[str, ProviderEntry] = {}
    for name in [*BUILTIN_PROVIDERS, *(n for n in merged if n not in BUILTIN_PROVIDERS)]:
        given: dict[str, tuple[object, str]] = merged.get(name, {})
        builtin = BUILTIN_PROVIDERS.get(name)
        prefix = f"providers.{name}"
        kind, kind_source = given.get("kind", (None, ""))
        if builtin is None and kind is None:
            raise ConfigError(f"{describe_source(table_source[name])}: {prefix}.kind: required for a custom "
                              f"provider; add kind = \"openai\" (or {', '.join(k for k in KINDS if k != 'openai')})")
        if builtin is not None and kind is not None and kind != builtin.kind:
            raise ConfigError(f"{describe_source(kind_source)}: {prefix}.kind: {name} is the built-in {builtin.kind} "
                              f"provider; remove kind, or give your {kind} provider another table name")
        base = builtin or BUILTIN_PROVIDERS[_first_of_kind(str(kind))]
        fields: dict[str, object] = {
            "kind": base.kind, "base_url": base.base_url, "model": base.model, "headers": {},
            "api_key_env": base.api_key_env if builtin is not None else (),
            "context_window": None, "prices": None, **PROVIDER_DEFAULTS,
        }
        for key in fields:
            sources[f"{prefix}.{key}"] = "default"
        for key, (value, source) in given.items():
            if key == "api_key_env":
                value = (value,)
            elif key in ("headers", "prices"):
                value = dict(value)  # type: ignore[call-overload]
            fields[key] = value
            sources[f"{prefix}.{key}"] = source
        entries[name] = ProviderEntry(name=name, builtin=builtin is not None, configured=name in merged,
                                      **fields)  # type: ignore[arg-type]
    return entries


def _first_of_kind(kind: str) -> str:
    return next(n for n, b in BUILTIN_PROVIDERS.items() if b.kind == kind)


def secret_names(providers: Mapping[str, ProviderEntry]) -> frozenset[str]:
    """The variables holding provider secrets: API key variables and ``${VAR}`` header references."""
    names: set[str] = set()
    for entry in providers.values():
        names.update(entry.api_key_env)
        for template in entry.headers.values():
            names.update(VAR_REF_RE.findall(template))
    return frozenset(names)


def check_env_allow(patterns: tuple[str, ...], providers: Mapping[str, ProviderEntry], where: str) -> None:
    """Refuse an env_allow pattern that would let a provider secret into the sandbox."""
    secrets = sorted(secret_names(providers))
    for pattern in patterns:
        leaked = [s for s in secrets if fnmatch.fnmatchcase(s, pattern)]
        if leaked:
            raise ConfigError(f"{where}: env_allow: {pattern!r} would pass {', '.join(leaked)} (a provider "
                              "secret) into commands; name the variables commands need instead")


def expand_headers(entry: ProviderEntry, environ: Mapping[str, str], sources: Mapping[str, str]) -> dict[str, str]:
    """The entry's headers with ``${VAR}`` replaced from environ; a missing (or empty) variable is an error."""
    out: dict[str, str] = {}
    for header, template in entry.headers.items():
        for var in VAR_REF_RE.findall(template):
            value = environ.get(var, "")
            if not value:
                where = describe_source(sources.get(f"providers.{entry.name}.headers", "default"))
                raise ConfigError(f"{where}: providers.{entry.name}.headers.{header}: environment variable {var} "
                                  f"is not set; export {var}, or change the header")
            if "\r" in value or "\n" in value:
                raise ConfigError(f"environment variable {var} (used in header {header} of provider "
                                  f"{entry.name}) contains a line break; fix its value")
        out[header] = VAR_REF_RE.sub(lambda m: environ[m.group(1)], template)
    return out
