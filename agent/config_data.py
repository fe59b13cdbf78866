"""The plain data of corral's configuration: built-in providers, defaults, environment variables, the
allowed values of the enumerated settings, and the wording of sources and key paths.

Nothing here imports pydantic (or ``typing``): the warm path of ``agent.config.load_config`` (a config
file validated before and found in the cache, see ``agent/config_cache.py``) needs only this data. The
pydantic models in ``agent/config_schema.py`` are built from it; ``tests/agent/test_config_cache.py``
checks that the two agree.
"""

from __future__ import annotations

import re

from agent.values import frozen

KINDS: tuple[str, ...] = ("openai", "openrouter", "anthropic", "gemini", "ollama")
MODES: tuple[str, ...] = ("restrictive", "read-only", "guarded", "standard", "yolo")
THINKING_LEVELS: tuple[str, ...] = ("off", "low", "medium", "high")
SANDBOXES: tuple[str, ...] = ("auto", "bwrap", "zerobox", "none")
"""The values of ``ProviderKind``, ``ModeName``, ``ThinkingName`` and ``SandboxName`` (config_schema)."""

SETTING_KEYS: tuple[str, ...] = ("provider", "model", "mode", "thinking", "sandbox", "sandbox_network",
                                 "max_turns", "bash_timeout", "env_allow", "theme", "context_window", "compact_at")
"""The top-level keys, in the order of the fields of ``config_schema.Settings``."""

PROVIDER_KEYS: tuple[str, ...] = ("kind", "base_url", "api_key_env", "headers", "timeout", "verify_tls",
                                  "max_retries", "context_window", "prices", "model")
"""The keys of a ``[providers.NAME]`` table, in the order of the fields of ``config_schema.ProviderTable``."""

PRICE_KEYS: tuple[str, ...] = ("input", "output", "cache_read", "cache_write")

ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
ENV_PATTERN_RE = re.compile(r"[A-Za-z0-9_*?\[\]!]+\Z")
PROVIDER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
VAR_REF_RE = re.compile(r"\$\{([^}]*)\}")
_PLAIN_KEY_RE = re.compile(r"[A-Za-z0-9_-]+\Z")


@frozen
class BuiltinProvider:
    kind: str  # one of KINDS
    base_url: str
    api_key_env: tuple[str, ...]  # tried in order; empty: the provider needs no key
    model: str


BUILTIN_PROVIDERS: dict[str, BuiltinProvider] = {
    "openrouter": BuiltinProvider("openrouter", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",),
                                  "anthropic/claude-sonnet-4.5"),
    "openai": BuiltinProvider("openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",), "gpt-5.1"),
    "anthropic": BuiltinProvider("anthropic", "https://api.anthropic.com", ("ANTHROPIC_API_KEY",),
                                 "claude-sonnet-4-5"),
    "gemini": BuiltinProvider("gemini", "https://generativelanguage.googleapis.com",
                              ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "gemini-2.5-pro"),
    "ollama": BuiltinProvider("ollama", "http://127.0.0.1:11434", (), "qwen3-coder"),
}
"""The providers usable without a table; a ``[providers.NAME]`` table with one of these names overrides
fields. A custom provider of kind K takes K's base URL and model as defaults, but no API key variable."""

PROVIDER_DEFAULTS: dict[str, object] = {"timeout": 120.0, "verify_tls": True, "max_retries": 4}

DEFAULTS: dict[str, object] = {
    "provider": "openrouter",
    "mode": "standard",
    "thinking": "off",
    "sandbox": "auto",
    "sandbox_network": False,
    "max_turns": 50,
    "bash_timeout": 120.0,
    "env_allow": (),
    "theme": "corral-dark",
    "context_window": None,
    "compact_at": 0.85,
}
"""Top-level defaults; ``model`` is missing on purpose: its default is the chosen provider's. A
``context_window`` of None means the provider's (or model's) own known window."""

ENV_VARS: dict[str, str] = {
    "CORRAL_PROVIDER": "provider",
    "CORRAL_MODEL": "model",
    "CORRAL_MODE": "mode",
    "CORRAL_SANDBOX": "sandbox",
    "CORRAL_THINKING": "thinking",
    "CORRAL_CONTEXT_WINDOW": "context_window",
}
"""Environment variables that set a top-level key (between the config files and the command line)."""

ENV_INT_KEYS: frozenset[str] = frozenset({"context_window"})
"""Keys whose environment value must be a positive whole number written in ASCII digits: anything else (a
sign, a decimal point, an exponent, a word) is refused with a message naming the variable
(``config._env_int``); 0 is refused by validation ("too small")."""

PROJECT_CONFIG = "config.toml"
"""The project config file, relative to the project's ``.corral/`` directory."""

PROJECT_RESERVED: tuple[str, ...] = ("mcp", "mcp_servers")
"""Keys a project file may hold that corral does not implement yet. An untrusted project's are refused and
reported; a trusted project's are an error, as in the user's file (an unknown key)."""

TIGHTENING_KEYS: tuple[str, ...] = ("mode", "sandbox_network", "max_turns", "bash_timeout", "context_window",
                                    "compact_at", "sandbox")
"""The keys an untrusted project file may set, and only to tighten (``config_check.tightens``); every other
key of an untrusted project file is refused and reported."""


@frozen
class FileLayer:
    """A validated config file as plain, JSON-able data (what the cache stores): ``settings`` maps each
    top-level key the file sets to its normalised value (``mode = "Read_Only"`` -> ``"read-only"``;
    ``env_allow`` a list); ``providers`` maps each table name to the keys it sets (``prices`` a table of
    the prices given, ``api_key_env`` one name). Keys appear in the order of SETTING_KEYS/PROVIDER_KEYS."""

    settings: dict[str, object]
    providers: dict[str, dict[str, object]]
    reserved: tuple[str, ...] = ()
    """PROJECT_RESERVED keys a project file holds (taken out before validation; never in a user file)."""


EMPTY_FILE = FileLayer({}, {})
"""The layer of a missing (default) file, and of an empty one."""


def describe_source(source: str) -> str:
    """'file P' -> 'config file P', 'project P' -> 'project config file P', 'env V' -> 'environment variable
    V', 'flag --x' -> 'command-line flag --x'."""
    kind, _, rest = source.partition(" ")
    names = {"file": "config file", "project": "project config file", "env": "environment variable",
             "flag": "command-line flag"}
    return names.get(kind, kind) + \
        (f" {rest}" if rest else "")


def key_path(loc: tuple[str | int, ...]) -> str:
    """('providers', 'local', 'timeout') -> 'providers.local.timeout'; list indexes as [i]."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _PLAIN_KEY_RE.match(part) else f'"{part}"'
            out += f".{text}" if out else text
    return out
