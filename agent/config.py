"""corral's configuration: where the file is, how its layers combine, and what a provider resolves to.

Layers, lowest first: built-in defaults < the user's config file (TOML) < the project's
``.corral/config.toml`` < environment variables (CORRAL_PROVIDER, CORRAL_MODEL, CORRAL_MODE, CORRAL_SANDBOX,
CORRAL_THINKING, CORRAL_CONTEXT_WINDOW) < command-line flags (``overrides``). Every effective value remembers
the layer it came from in ``Config.sources`` ("default", "file PATH", "project PATH", "env VAR",
"flag --x"). A model chosen at a lower layer than a *different* provider is not carried over to that
provider: ``model = "gpt-5.1"`` in the file and ``--provider ollama`` give ollama's default model.

The project file comes with the repository being worked on. Until the user runs ``corral trust`` there
(``agent/trust.py``) it can only tighten: a stricter mode, the network off, lower limits; every other key
it sets is refused and reported in ``Config.warnings`` (one line each), never silently dropped. Once
trusted it may set anything the user's file may. Environment variables and flags are the user's and
override it either way.

Problems are ``ConfigError``s whose message names the file (or variable, or flag), the key path and what to
do, in a line or a few. The schema and the error wording live in ``agent/config_schema.py``; docs/CONFIG.md
is the user's guide.

Pydantic validates a file's content once: the validated layer is cached (``agent/config_cache.py``) and
later runs with the same bytes load it without importing pydantic. Environment and flag values get a
pydantic-free check (``agent/config_check.py``) and go to pydantic only when it cannot vouch for them, so
a bad value gets pydantic's message on every path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path

from agent import config_cache
from agent.config_check import check_settings, untrusted_settings
from agent.config_data import (
    DEFAULTS,
    EMPTY_FILE,
    ENV_INT_KEYS,
    ENV_VARS,
    PROJECT_CONFIG,
    PROJECT_RESERVED,
    SETTING_KEYS,
    FileLayer,
    describe_source,
)
from agent.config_providers import (
    ProviderEntry,
    build_providers,
    check_env_allow,
    expand_headers,
    secret_names,
)
from agent.errors import ConfigError
from agent.values import frozen

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:  # the warm path imports neither pydantic nor the provider modules
    from agent.config_schema import ModeName, SandboxName
    from agent.providers.base import Thinking
    from agent.providers.settings import ProviderSettings
    from agent.trust import TrustStatus

__all__ = [
    "Config",
    "ProviderEntry",
    "ProviderSettings",
    "config_file_path",
    "default_config_path",
    "load_config",
]


@frozen
class Config:
    """The effective configuration. ``path`` is the user's config file consulted (``loaded`` says whether it
    existed); ``sources`` maps every dotted key (``mode``, ``providers.local.timeout``) to its layer.

    ``project_root`` is the project whose ``.corral/config.toml`` was consulted (None: no project layer);
    ``project_file`` that file (``project_loaded``: it existed); ``trust`` the project's trust status, to
    give the policy engine and the prompts too; ``warnings`` one line per refused project setting."""

    path: Path
    loaded: bool
    provider: str
    model: str
    mode: ModeName
    thinking: Thinking
    sandbox: SandboxName
    sandbox_network: bool
    max_turns: int
    bash_timeout: float
    env_allow: tuple[str, ...]
    theme: str
    context_window: int | None
    compact_at: float
    providers: Mapping[str, ProviderEntry]
    sources: dict[str, str]
    project_root: Path | None
    project_file: Path | None
    project_loaded: bool
    trust: TrustStatus | None
    warnings: tuple[str, ...]
    environ: Mapping[str, str] = field(repr=False, compare=False)

    @property
    def trusted(self) -> bool:
        """Whether the project's ``.corral/`` may loosen (``policy.load_engine(root, trusted=...)``)."""
        return self.trust is not None and self.trust.trusted

    def resolve_provider(self, name: str | None = None) -> ProviderSettings:
        """The named (default: the selected) provider, ready to connect. Raises ConfigError for an unknown
        name, a missing API key (one line naming the variable) or a header variable that is not set."""
        name = self.provider if name is None else name
        entry = self.providers.get(name)
        if entry is None:
            raise ConfigError(f"unknown provider {name!r}; known providers: {', '.join(sorted(self.providers))} "
                              f"(or add a [providers.{name}] table to {self.path})")
        var, key = self.api_key(name)
        if entry.api_key_env and key is None:
            names = " or ".join(entry.api_key_env)
            raise ConfigError(f"no API key for provider {name}: set {names} "
                              "(or choose another provider with --provider)")
        from agent.providers.settings import ProviderSettings

        headers = expand_headers(entry, self.environ, self.sources)
        model = self.model if name == self.provider else entry.model
        prices = None if entry.prices is None else dict(entry.prices)
        return ProviderSettings(
            name=name, kind=entry.kind, base_url=entry.base_url, api_key=key, api_key_env=var,
            headers=headers, timeout=entry.timeout, verify_tls=entry.verify_tls,
            max_retries=entry.max_retries, context_window=entry.context_window, prices=prices,
            model=model,
        )

    def api_key(self, name: str) -> tuple[str | None, str | None]:
        """(variable, key) for provider name: the first of its variables that is set and not empty, else
        (its first variable, None); (None, None) when it needs no key."""
        entry = self.providers[name]
        for var in entry.api_key_env:
            value = self.environ.get(var, "").strip()
            if value:
                return var, value
        return (entry.api_key_env[0] if entry.api_key_env else None), None

    @property
    def secret_env_names(self) -> frozenset[str]:
        """Every variable holding a provider secret (API keys, header references): never for commands."""
        return secret_names(self.providers)


# ------------------------------------------------------------------------------------------- the file


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/corral/config.toml`` (an absolute XDG_CONFIG_HOME only), else ``~/.config/...``."""
    from agent.xdg import config_dir

    return config_dir(env) / "config.toml"


def config_file_path(path: Path | None = None, env: Mapping[str, str] | None = None) -> tuple[Path, str | None]:
    """The config file to read and who chose it: ("flag --config" / "env CORRAL_CONFIG"), or None for the
    default location (which may be missing; an explicitly chosen file must exist)."""
    environ = os.environ if env is None else env
    if path is not None:
        return Path(path).expanduser(), "flag --config"
    if environ.get("CORRAL_CONFIG", ""):
        return Path(environ["CORRAL_CONFIG"]).expanduser(), "env CORRAL_CONFIG"
    return default_config_path(environ), None


def _read(path: Path, chosen_by: str | None) -> bytes | None:
    """The file's bytes; None for a missing default file."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        if chosen_by is None:
            return None
        how = "--config" if chosen_by.startswith("flag") else "CORRAL_CONFIG"
        raise ConfigError(f"config file {path} does not exist (given by {how}); create it or fix the path") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory; point to the config.toml file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}; check its permissions") from None


def _parse(path: Path, content: bytes) -> dict[str, object]:
    import tomllib

    try:
        return tomllib.loads(content.decode())
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}; fix the syntax") from None


def _file_layer(path: Path, content: bytes | None, file_where: str, environ: Mapping[str, str], *,
                project: bool = False) -> tuple[FileLayer, str | None]:
    """The validated file layer, and the cache key to store it under once the whole configuration proved
    valid (None: it came from the cache, or there is nothing to cache). A missing file is all defaults. A
    project file's PROJECT_RESERVED keys are taken out before validation (``FileLayer.reserved``)."""
    if content is None:
        return EMPTY_FILE, None
    key = config_cache.cache_key(content, project=project)
    if key is not None:
        cached = config_cache.load(environ, key)
        if cached is not None:
            return cached, None
    from agent.config_schema import validate_file  # pydantic: only for content not validated before

    data = _parse(path, content)
    reserved = tuple(k for k in PROJECT_RESERVED if k in data) if project else ()
    layer = validate_file({k: v for k, v in data.items() if k not in reserved}, file_where)
    return (FileLayer(layer.settings, layer.providers, reserved) if reserved else layer), key


# ----------------------------------------------------------------------------------------- the layers


def flag_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def _validated(raw: Mapping[str, object], where: dict[str, str], default_where: str) -> dict[str, object]:
    """raw validated and normalised: by the pydantic-free check when it vouches for every value, else by
    pydantic (whose error names the source and the key)."""
    clean = {k: (list(v) if isinstance(v, tuple) else v) for k, v in raw.items()}
    checked = check_settings(clean)
    if checked is None:
        from agent.config_schema import validate_settings

        checked = validate_settings(clean, where, default_where)
    return checked


Layer = dict[str, tuple[object, str]]
"""One layer of top-level values: key -> (value, source)."""


def _env_int(var: str, key: str, text: str) -> int:
    """An integer variable's value: digits only (a sign, a decimal point or an exponent is refused here, with
    a message about the variable, rather than reported by validation as "a string")."""
    if not (text.isascii() and text.isdigit()):
        raise ConfigError(f"environment variable {var}: {key}: needs a positive whole number (digits only, e.g. "
                          f"{var}=32768), got {text!r}; fix or unset it")
    return int(text)


def _user_layers(environ: Mapping[str, str], overrides: Mapping[str, object]) -> list[Layer]:
    """The environment and command-line layers, lowest first."""
    env_layer: Layer = {}
    for var, key in ENV_VARS.items():
        text = environ.get(var, "").strip()
        if text:
            source = f"env {var}"
            value: object = _env_int(var, key, text) if key in ENV_INT_KEYS else text
            env_layer[key] = (_validated({key: value}, {}, describe_source(source))[key], source)
    given = {k: v for k, v in overrides.items() if v is not None}
    for key in given:
        if key not in SETTING_KEYS:
            raise ConfigError(f"unknown setting {key!r} given on the command line; known: "
                              f"{', '.join(SETTING_KEYS)}")
    where = {k: describe_source(f"flag {flag_name(k)}") for k in given}
    checked = _validated(given, where, "command line") if given else {}
    flag_layer = {k: (v, f"flag {flag_name(k)}") for k, v in checked.items()}
    return [env_layer, flag_layer]


# ------------------------------------------------------------------------------------ the project file


@frozen
class _Project:
    root: Path
    path: Path
    content: bytes | None
    trust: TrustStatus


def _read_project(root: Path, environ: Mapping[str, str]) -> _Project:
    """The project's config file, read in the same pass that hashes ``.corral/`` for its trust status (so
    the bytes judged trusted are the bytes applied)."""
    from agent import trust

    path = root / trust.CORRAL_DIR / PROJECT_CONFIG
    try:
        snap = trust.snapshot(root, keep=(PROJECT_CONFIG,))
    except trust.TrustError as exc:
        raise ConfigError(str(exc)) from None
    status = trust.trust_status(root, environ, snap=snap)
    content = snap.kept.get(PROJECT_CONFIG)
    if content is None and os.path.lexists(path):  # not a regular file: a symlink (or .corral is one)
        content = _read(path, None)
    return _Project(root, path, content, status)


def load_config(path: Path | None = None, *, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, object] | None = None, project_root: Path | None = None) -> Config:
    """Read, validate and layer the configuration. ``path`` is ``--config`` (else CORRAL_CONFIG, else the
    default location); ``env`` defaults to os.environ (it also locates the cache and the trust file:
    XDG_CACHE_HOME, XDG_DATA_HOME or HOME); ``overrides`` maps top-level keys to command-line values (None
    values are ignored); ``project_root`` (``agent.project.find_project_root``) adds the project's
    ``.corral/config.toml`` as a layer, trusted or not (None: no project layer). Raises ConfigError."""
    environ = dict(os.environ if env is None else env)
    file_path, chosen_by = config_file_path(path, environ)
    content = _read(file_path, chosen_by)
    file_source = f"file {file_path}"
    parsed, store_key = _file_layer(file_path, content, describe_source(file_source), environ)
    project = _read_project(Path(project_root), environ) if project_root is not None else None
    project_source = f"project {project.path}" if project is not None else ""
    proj_layer, proj_key = (EMPTY_FILE, None) if project is None else _file_layer(
        project.path, project.content, describe_source(project_source), environ, project=True)

    values: dict[str, object] = dict(DEFAULTS)
    sources = dict.fromkeys(DEFAULTS, "default")
    level: dict[str, int] = {}
    provider_after = {0: str(DEFAULTS["provider"])}  # the provider in effect after each layer
    warnings: list[str] = []
    provider_layers = [(parsed.providers, file_source)]

    def apply(index: int, layer: Layer) -> None:
        for key, (value, source) in layer.items():
            values[key], sources[key], level[key] = value, source, index
        provider_after[index] = str(values["provider"])

    apply(1, {k: (v, file_source) for k, v in parsed.settings.items()})
    if project is not None and project.trust.state in ("damaged", "unusable"):
        warnings.append(f"project {project.root}: {project.trust.reason}")
    if project is not None and project.trust.trusted:
        if proj_layer.reserved:
            raise ConfigError(f"{describe_source(project_source)}: {proj_layer.reserved[0]}: MCP servers are not "
                              "supported yet; remove the key")
        apply(2, {k: (v, project_source) for k, v in proj_layer.settings.items()})
        provider_layers.append((proj_layer.providers, project_source))
    elif project is not None:
        window = parsed.providers.get(str(values["provider"]), {}).get("context_window")
        applied, refused = untrusted_settings(proj_layer, project.path, values,
                                              window if isinstance(window, int) else None)
        apply(2, {k: (v, project_source) for k, v in applied.items()})
        warnings.extend(refused)
    for index, layer in enumerate(_user_layers(environ, overrides or {}), start=3):
        apply(index, layer)

    providers = build_providers(provider_layers, sources)
    provider = str(values["provider"])
    if provider not in providers:
        raise ConfigError(f"{describe_source(sources['provider'])}: provider: unknown provider {provider!r}; known "
                          f"providers: {', '.join(sorted(providers))} (or add a [providers.{provider}] table "
                          f"with kind and base_url to {file_path})")
    model_level = level.get("model")
    if model_level is None or provider_after[model_level] != provider:
        # No model chosen, or one chosen for another provider at a lower layer: the provider's default.
        values["model"] = providers[provider].model
        sources["model"] = sources[f"providers.{provider}.model"]

    env_allow = tuple(str(v) for v in values["env_allow"])  # type: ignore[attr-defined]
    check_env_allow(env_allow, providers, describe_source(sources["env_allow"]))
    expand_headers(providers[provider], environ, sources)
    for key, layer_to_store in ((store_key, parsed), (proj_key, proj_layer)):
        if key is not None:  # the file passed every check: later runs need not validate it again
            config_cache.store(environ, key, layer_to_store)
    window = values["context_window"]
    return Config(
        path=file_path, loaded=content is not None, provider=provider, model=str(values["model"]),
        mode=values["mode"], thinking=values["thinking"], sandbox=values["sandbox"],  # type: ignore[arg-type]
        sandbox_network=bool(values["sandbox_network"]), max_turns=int(values["max_turns"]),  # type: ignore[call-overload]
        bash_timeout=float(values["bash_timeout"]),  # type: ignore[arg-type]
        env_allow=env_allow, theme=str(values["theme"]),
        context_window=int(window) if isinstance(window, int) else None,
        compact_at=float(values["compact_at"]),  # type: ignore[arg-type]
        providers=providers, sources=sources,
        project_root=None if project is None else project.root,
        project_file=None if project is None else project.path,
        project_loaded=project is not None and project.content is not None,
        trust=None if project is None else project.trust,
        warnings=tuple(warnings), environ=environ,
    )


def __getattr__(name: str) -> object:
    if name == "ProviderSettings":  # re-exported, imported on first use
        from agent.providers.settings import ProviderSettings

        return ProviderSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
