"""``corral config show`` and ``corral config path``: the effective configuration with where each value came
from, and where the config file is.

``show`` includes the project layer of the current directory's project (``.corral/config.toml``): its
trust status, the values it set (source ``project FILE``) and every setting it was refused (untrusted).

Secrets are never printed: an API key shows as ``set (VAR)`` or ``missing (VAR)``; a header value that
came from ``${VAR}`` or whose name looks like a credential shows as ``***``, and so do passwords and
secret-looking query parameters in base URLs. A configuration error exits 2 with its message.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from agent.errors import ConfigError

SETTINGS = ("provider", "model", "mode", "thinking", "sandbox", "sandbox_network", "max_turns", "bash_timeout",
            "env_allow", "theme", "context_window", "compact_at")
PROVIDER_FIELDS = ("kind", "base_url", "api_key", "headers", "timeout", "verify_tls", "max_retries",
                   "context_window", "prices", "model")
REDACTED = "***"
_SECRET_NAME = re.compile(r"auth|key|token|secret|passw|cookie|session|signature|credential", re.IGNORECASE)

if TYPE_CHECKING:  # agent.config (and pydantic) are imported only when a subcommand runs
    from agent.config import Config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cfg = sub.add_parser("config", help="show the effective configuration, or where its file is")
    csub = cfg.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    cfg.set_defaults(handler=lambda _a: _print_help(cfg))

    show = csub.add_parser(
        "show",
        help="print the effective configuration and where each value came from",
        description=(
            "Print every setting with its source (default, the config file, the project's .corral/config.toml, "
            "an environment variable or a flag), the selected provider, and the project settings refused because "
            "the project is not trusted. Secrets are redacted: API keys show as set or missing."
        ),
    )
    show.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                      help="the config file (default: $CORRAL_CONFIG, else ~/.config/corral/config.toml)")
    show.add_argument("--json", action="store_true", help="print one JSON object (every provider)")
    show.add_argument("--all", action="store_true",
                      help="show every provider, not only the selected and configured ones")
    show.set_defaults(handler=run_show)

    path = csub.add_parser("path", help="print the path of the config file")
    path.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                      help="the config file (default: $CORRAL_CONFIG, else ~/.config/corral/config.toml)")
    path.set_defaults(handler=run_path)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _fail(exc: ConfigError) -> int:
    from agent.cli import EXIT_USAGE

    print(f"corral: {exc}", file=sys.stderr)
    return EXIT_USAGE


def run_path(args: argparse.Namespace) -> int:
    from agent.config import config_file_path

    path, chosen_by = config_file_path(getattr(args, "config", None))
    print(path)
    if not path.exists():
        if chosen_by is not None:  # an explicitly chosen file must exist: a run would refuse to start
            how = "--config" if chosen_by.startswith("flag") else "CORRAL_CONFIG"
            print(f"corral: {path} does not exist (given by {how}): corral will not start until it does; create it "
                  "or fix the path", file=sys.stderr)
            return 2
        print(f"corral: {path} does not exist (the defaults apply)", file=sys.stderr)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from agent.config import load_config
    from agent.project import find_project_root

    try:
        config = load_config(getattr(args, "config", None), project_root=find_project_root(Path.cwd()))
    except ConfigError as exc:
        return _fail(exc)
    if getattr(args, "json", False):
        print(json.dumps(describe(config), indent=2))
        return 0
    print(render_text(config, all_providers=getattr(args, "all", False)))
    return 0


# ------------------------------------------------------------------------------------------- describing


def redact_url(url: str) -> str:
    """The URL without a password and with secret-looking query values replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if _SECRET_NAME.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_header(name: str, template: str) -> str:
    return REDACTED if "${" in template or _SECRET_NAME.search(name) else template


def _provider_view(config: Config, name: str) -> dict[str, tuple[object, str]]:
    """field -> (display value, source) with secrets redacted."""
    entry = config.providers[name]
    prefix = f"providers.{name}"
    var, key = config.api_key(name)
    if var is None:
        api_key: tuple[object, str] = ("not needed", "default")
    elif key is None:
        api_key = (f"missing ({' or '.join(entry.api_key_env)})", config.sources[f"{prefix}.api_key_env"])
    else:
        api_key = (f"set ({var})", f"env {var}")
    headers = {h: redact_header(h, t) for h, t in entry.headers.items()}
    prices = None if entry.prices is None else dict(entry.prices)
    values: dict[str, object] = {
        "kind": entry.kind, "base_url": redact_url(entry.base_url), "headers": headers, "timeout": entry.timeout,
        "verify_tls": entry.verify_tls, "max_retries": entry.max_retries, "context_window": entry.context_window,
        "prices": prices, "model": entry.model,
    }
    view = {k: (v, config.sources.get(f"{prefix}.{k}", "default")) for k, v in values.items()}
    view["api_key"] = api_key
    return {k: view[k] for k in PROVIDER_FIELDS}


def describe(config: Config) -> dict[str, object]:
    """The effective configuration as JSON-ready data: {"value": ..., "source": ...} for every key."""
    settings = {k: {"value": _plain(getattr(config, k)), "source": config.sources[k]} for k in SETTINGS}
    providers = {}
    for name in sorted(config.providers):
        entry = config.providers[name]
        fields: dict[str, object] = {"selected": name == config.provider, "builtin": entry.builtin}
        fields.update({k: {"value": _plain(v), "source": s} for k, (v, s) in _provider_view(config, name).items()})
        providers[name] = fields
    project = None
    if config.project_root is not None and config.trust is not None:
        project = {"root": str(config.project_root), "config_file": str(config.project_file),
                   "loaded": config.project_loaded, "trusted": config.trust.trusted, "trust": config.trust.state,
                   "reason": config.trust.reason}
    return {"config_file": str(config.path), "loaded": config.loaded, "project": project, "settings": settings,
            "providers": providers, "warnings": list(config.warnings)}


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _toml(value: object) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, str) and (value == REDACTED or value.startswith(("set (", "missing (", "not needed"))):
        return value
    return json.dumps(_plain(value), ensure_ascii=False)


def render_text(config: Config, *, all_providers: bool = False) -> str:
    rows: list[tuple[str, str, str]] = []
    for key in SETTINGS:
        rows.append((key, _toml(getattr(config, key)), config.sources[key]))
    shown = [n for n in sorted(config.providers)
             if all_providers or n == config.provider or config.providers[n].configured]
    state = "loaded" if config.loaded else "not found, the defaults apply"
    lines = [f"# config file: {config.path} ({state})"]
    if config.project_file is not None and config.trust is not None:
        found = "loaded" if config.project_loaded else "not found"
        lines.append(f"# project config: {config.project_file} ({found}; {config.trust.reason})")
    blocks: list[tuple[str, list[tuple[str, str, str]]]] = [("", rows)]
    for name in shown:
        entry = config.providers[name]
        tags = ", ".join(t for t, on in (("selected", name == config.provider), ("built-in", entry.builtin)) if on)
        prows: list[tuple[str, str, str]] = []
        for key, (value, source) in _provider_view(config, name).items():
            if key == "headers" and isinstance(value, dict) and value:
                prows.extend((f"headers.{h}", _toml(v), source) for h, v in value.items())
            else:
                prows.append((key, _toml(value), source))
        blocks.append((f"[providers.{name}]" + (f"  # {tags}" if tags else ""), prows))
    width = max(len(f"{k} = {v}") for _, block in blocks for k, v, _ in block)
    for title, block in blocks:
        if title:
            lines.extend(["", title])
        lines.extend(f"{f'{k} = {v}':<{width}}  # {s}" for k, v, s in block)
    others = [n for n in sorted(config.providers) if n not in shown]
    if others:
        lines.extend(["", f"# other providers: {', '.join(others)} (corral config show --all)"])
    if config.warnings:
        lines.extend(["", "# refused project settings:", *(f"# {w}" for w in config.warnings)])
    return "\n".join(lines)
