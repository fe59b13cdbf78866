"""Configuration: real TOML files under tmp_path and explicit environments (never the user's own).

Covers the layering (defaults < file < environment < flags) and the source of every value, the error
messages (file, key path, what to do; never a pydantic dump), provider resolution (built-ins, overrides,
custom providers, ``${VAR}`` headers, API keys) and ``corral config show``/``path`` with redaction.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import config_file_path, default_config_path, load_config
from agent.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-or-v1-THIS-IS-THE-SECRET-0123456789"
TEAM_SECRET = "team-secret-42"


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with its own home and XDG config dir (no config file there unless a test writes one)."""
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"), **extra}


def error_of(path: Path | None, env: dict[str, str], overrides: dict[str, object] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env, overrides=overrides)
    message = str(info.value)
    assert "pydantic" not in message.lower() and "validation error" not in message.lower()
    assert "Traceback" not in message and "errors.pydantic.dev" not in message
    assert len(message.splitlines()) <= 5
    return message


# ------------------------------------------------------------------------------------------- defaults


def test_defaults_when_the_default_file_is_missing(tmp_path: Path) -> None:
    config = load_config(env=base_env(tmp_path))
    assert config.path == tmp_path / "xdg" / "corral" / "config.toml"
    assert not config.loaded
    assert config.provider == "openrouter"
    assert config.model == "anthropic/claude-sonnet-4.5"
    assert config.mode == "standard"
    assert config.thinking == "off"
    assert config.sandbox == "auto"
    assert config.sandbox_network is False
    assert config.max_turns == 50
    assert config.bash_timeout == 120
    assert config.env_allow == ()
    assert config.theme == "corral-dark"
    for key in ("provider", "model", "mode", "thinking", "sandbox", "sandbox_network", "max_turns",
                "bash_timeout", "env_allow", "theme"):
        assert config.sources[key] == "default", key


def test_default_path_honours_xdg_and_home(tmp_path: Path) -> None:
    assert default_config_path({"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/h"}) == Path("/x/cfg/corral/config.toml")
    # a relative XDG_CONFIG_HOME is ignored, as the XDG spec says
    assert default_config_path({"XDG_CONFIG_HOME": "rel", "HOME": "/h"}) == Path("/h/.config/corral/config.toml")
    assert default_config_path({"HOME": "/h"}) == Path("/h/.config/corral/config.toml")


def test_default_file_is_read_when_present(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    (tmp_path / "xdg" / "corral").mkdir(parents=True)
    write(tmp_path / "xdg" / "corral", 'mode = "guarded"\n')
    config = load_config(env=env)
    assert config.loaded and config.mode == "guarded"
    assert config.sources["mode"] == f"file {tmp_path / 'xdg' / 'corral' / 'config.toml'}"


def test_corral_config_env_chooses_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'theme = "light"\n', "other.toml")
    config = load_config(env=base_env(tmp_path, CORRAL_CONFIG=str(path)))
    assert config.path == path and config.theme == "light"
    assert config_file_path(None, {"CORRAL_CONFIG": str(path)}) == (path, "env CORRAL_CONFIG")
    # --config beats CORRAL_CONFIG
    flag = write(tmp_path, 'theme = "solar"\n', "flag.toml")
    assert load_config(flag, env=base_env(tmp_path, CORRAL_CONFIG=str(path))).theme == "solar"


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    message = error_of(missing, base_env(tmp_path))
    assert str(missing) in message and "--config" in message and "does not exist" in message
    message = error_of(None, base_env(tmp_path, CORRAL_CONFIG=str(missing)))
    assert str(missing) in message and "CORRAL_CONFIG" in message


def test_invalid_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'mode = "standard"\nmax_turns = \n')
    message = error_of(path, base_env(tmp_path))
    assert str(path) in message and "not valid TOML" in message and "line 2" in message


# ------------------------------------------------------------------------------------- file and layers


FULL = """
provider = "anthropic"
model = "claude-opus-4-1"
mode = "read-only"
thinking = "high"
sandbox = "bwrap"
sandbox_network = true
max_turns = 12
bash_timeout = 30.5
env_allow = ["JAVA_HOME", "GOPATH", "LC_*"]
theme = "light"
"""


def test_file_values(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    config = load_config(path, env=base_env(tmp_path))
    assert config.loaded
    assert (config.provider, config.model, config.mode, config.thinking) == (
        "anthropic", "claude-opus-4-1", "read-only", "high")
    assert (config.sandbox, config.sandbox_network, config.max_turns, config.bash_timeout) == ("bwrap", True, 12, 30.5)
    assert config.env_allow == ("JAVA_HOME", "GOPATH", "LC_*")
    assert config.theme == "light"
    assert all(config.sources[k] == f"file {path}" for k in ("provider", "model", "mode", "env_allow", "theme"))


def test_mode_spellings_are_normalised(tmp_path: Path) -> None:
    path = write(tmp_path, 'mode = "Read_Only"\nthinking = "HIGH"\n')
    config = load_config(path, env=base_env(tmp_path))
    assert config.mode == "read-only" and config.thinking == "high"


def test_env_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    env = base_env(tmp_path, CORRAL_MODE="guarded", CORRAL_THINKING="low", CORRAL_SANDBOX="zerobox",
                   CORRAL_MODEL="claude-haiku-4-5", CORRAL_PROVIDER="anthropic")
    config = load_config(path, env=env)
    assert (config.mode, config.thinking, config.sandbox, config.model) == (
        "guarded", "low", "zerobox", "claude-haiku-4-5")
    assert config.sources["mode"] == "env CORRAL_MODE"
    assert config.sources["thinking"] == "env CORRAL_THINKING"
    assert config.sources["sandbox"] == "env CORRAL_SANDBOX"
    assert config.sources["model"] == "env CORRAL_MODEL"
    assert config.sources["max_turns"] == f"file {path}"  # untouched by the environment


def test_empty_env_values_are_ignored(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'mode = "guarded"\n'), env=base_env(tmp_path, CORRAL_MODE=""))
    assert config.mode == "guarded"


def test_overrides_beat_env(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    env = base_env(tmp_path, CORRAL_MODE="guarded", CORRAL_MODEL="from-env")
    config = load_config(path, env=env, overrides={"mode": "yolo", "model": "from-flag", "max_turns": 3,
                                                   "sandbox_network": False, "thinking": None})
    assert (config.mode, config.model, config.max_turns, config.sandbox_network) == ("yolo", "from-flag", 3, False)
    assert config.thinking == "high"  # None means "flag not given"
    assert config.sources["mode"] == "flag --mode"
    assert config.sources["model"] == "flag --model"
    assert config.sources["max_turns"] == "flag --max-turns"
    assert config.sources["sandbox_network"] == "flag --sandbox-network"
    assert config.sources["thinking"] == f"file {path}"


def test_bad_env_and_flag_values_name_their_source(tmp_path: Path) -> None:
    message = error_of(None, base_env(tmp_path, CORRAL_MODE="careful"))
    assert "CORRAL_MODE" in message and "'careful'" in message and "read-only" in message
    message = error_of(None, base_env(tmp_path), overrides={"max_turns": "ten"})
    assert "--max-turns" in message and "max_turns" in message and "integer" in message
    message = error_of(None, base_env(tmp_path), overrides={"colour": "red"})
    assert "colour" in message


def test_a_model_chosen_for_another_provider_is_not_carried_over(tmp_path: Path) -> None:
    path = write(tmp_path, 'model = "openai/gpt-5.1"\n')  # meant for openrouter, the default provider
    config = load_config(path, env=base_env(tmp_path, CORRAL_PROVIDER="ollama"))
    assert config.model == "qwen3-coder" and config.sources["model"] == "default"
    # the same provider at a higher layer keeps the model
    path = write(tmp_path, 'provider = "ollama"\nmodel = "llama3"\n')
    assert load_config(path, env=base_env(tmp_path, CORRAL_PROVIDER="ollama")).model == "llama3"
    # provider and model given together on the command line stay together, whatever the order
    for overrides in ({"model": "m", "provider": "openai"}, {"provider": "openai", "model": "m"}):
        assert load_config(path, env=base_env(tmp_path), overrides=overrides).model == "m"


@pytest.mark.parametrize(("provider", "model"), [
    ("openrouter", "anthropic/claude-sonnet-4.5"), ("openai", "gpt-5.1"), ("anthropic", "claude-sonnet-4-5"),
    ("gemini", "gemini-2.5-pro"), ("ollama", "qwen3-coder"),
])
def test_default_model_per_provider(tmp_path: Path, provider: str, model: str) -> None:
    assert load_config(env=base_env(tmp_path), overrides={"provider": provider}).model == model


# -------------------------------------------------------------------------------------------- errors


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'mode = "standard"\nmax_turn = 5\n')
    message = error_of(path, base_env(tmp_path))
    assert str(path) in message and "max_turn" in message and "unknown key" in message
    assert "did you mean 'max_turns'" in message


def test_unknown_key_in_a_provider_table(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.local]\nkind = "openai"\nbase_url = "http://127.0.0.1:8000/v1"\n'
                           'api_key = "sk-inline"\n')
    message = error_of(path, base_env(tmp_path))
    assert str(path) in message and "providers.local.api_key" in message and "unknown key" in message
    assert "api_key_env" in message  # the keys that are known there


def test_bad_value_type_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.local]\nkind = "openai"\ntimeout = "x"\n')
    message = error_of(path, base_env(tmp_path))
    assert str(path) in message and "providers.local.timeout" in message
    assert "expected a number" in message and "'x'" in message
    message = error_of(write(tmp_path, 'max_turns = "10"\n'), base_env(tmp_path))
    assert "max_turns" in message and "integer" in message
    message = error_of(write(tmp_path, "sandbox_network = 1\n"), base_env(tmp_path))
    assert "sandbox_network" in message and "true or false" in message
    message = error_of(write(tmp_path, "bash_timeout = -1\n"), base_env(tmp_path))
    assert "bash_timeout" in message and "greater than 0" in message


def test_unknown_kind(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.local]\nkind = "openia"\n')
    message = error_of(path, base_env(tmp_path))
    assert "providers.local.kind" in message and "'openia'" in message and "'openai'" in message


def test_custom_provider_needs_a_kind(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.local]\nbase_url = "http://127.0.0.1:8000/v1"\n')
    message = error_of(path, base_env(tmp_path))
    assert "providers.local.kind" in message and "required" in message and str(path) in message


def test_bad_base_url_and_key_variable(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, '[providers.l]\nkind = "openai"\nbase_url = "localhost:8000"\n'),
                       base_env(tmp_path))
    assert "providers.l.base_url" in message and "http" in message
    message = error_of(write(tmp_path, f'[providers.l]\nkind = "openai"\napi_key_env = "{SECRET}"\n'),
                       base_env(tmp_path))
    assert "providers.l.api_key_env" in message and "the name, not the key" in message


def test_unknown_provider_lists_the_known_ones(tmp_path: Path) -> None:
    message = error_of(None, base_env(tmp_path, CORRAL_PROVIDER="mistral"))
    assert "CORRAL_PROVIDER" in message and "'mistral'" in message
    for name in ("anthropic", "gemini", "ollama", "openai", "openrouter"):
        assert name in message
    config = load_config(env=base_env(tmp_path))
    with pytest.raises(ConfigError, match="known providers: anthropic, gemini, ollama, openai, openrouter"):
        config.resolve_provider("nope")


def test_env_allow_may_not_pass_provider_secrets(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, 'env_allow = ["OPENAI_*"]\n'), base_env(tmp_path))
    assert "env_allow" in message and "OPENAI_API_KEY" in message
    path = write(tmp_path, 'env_allow = ["CORP_*"]\n[providers.corp]\nkind = "openai"\napi_key_env = "CORP_LLM"\n')
    assert "CORP_LLM" in error_of(path, base_env(tmp_path))


# ----------------------------------------------------------------------------------------- providers


def test_builtin_provider_resolution_and_missing_key(tmp_path: Path) -> None:
    config = load_config(env=base_env(tmp_path))
    with pytest.raises(ConfigError) as info:
        config.resolve_provider()
    message = str(info.value)
    assert "\n" not in message
    assert "set OPENROUTER_API_KEY" in message and "--provider" in message
    settings = load_config(env=base_env(tmp_path, OPENROUTER_API_KEY=SECRET)).resolve_provider()
    assert settings.name == "openrouter" and settings.kind == "openrouter"
    assert settings.base_url == "https://openrouter.ai/api/v1"
    assert settings.api_key == SECRET and settings.api_key_env == "OPENROUTER_API_KEY"
    assert (settings.timeout, settings.verify_tls, settings.max_retries) == (120, True, 4)
    assert settings.model == "anthropic/claude-sonnet-4.5" and settings.headers == {}


def test_builtin_defaults(tmp_path: Path) -> None:
    env = base_env(tmp_path, OPENAI_API_KEY="o", ANTHROPIC_API_KEY="a", GEMINI_API_KEY="g")
    config = load_config(env=env)
    assert config.resolve_provider("openai").base_url == "https://api.openai.com/v1"
    assert config.resolve_provider("anthropic").base_url == "https://api.anthropic.com"
    gemini = config.resolve_provider("gemini")
    assert gemini.base_url == "https://generativelanguage.googleapis.com" and gemini.api_key == "g"
    ollama = config.resolve_provider("ollama")
    assert ollama.base_url == "http://127.0.0.1:11434" and ollama.api_key is None and ollama.kind == "ollama"
    # a provider other than the selected one comes with its own default model
    assert config.resolve_provider("openai").model == "gpt-5.1"


def test_gemini_falls_back_to_google_api_key(tmp_path: Path) -> None:
    settings = load_config(env=base_env(tmp_path, GOOGLE_API_KEY="gk")).resolve_provider("gemini")
    assert settings.api_key == "gk" and settings.api_key_env == "GOOGLE_API_KEY"
    with pytest.raises(ConfigError, match="set GEMINI_API_KEY or GOOGLE_API_KEY"):
        load_config(env=base_env(tmp_path)).resolve_provider("gemini")


def test_builtin_override(tmp_path: Path) -> None:
    path = write(tmp_path, """
provider = "openai"
[providers.openai]
base_url = "https://proxy.example.com/v1/"
api_key_env = "WORK_OPENAI_KEY"
timeout = 30
verify_tls = false
max_retries = 0
context_window = 400000
model = "gpt-5.1-codex"
prices = { input = 1.25, output = 10.0, cache_read = 0.125 }
""")
    config = load_config(path, env=base_env(tmp_path, WORK_OPENAI_KEY="wk", OPENAI_API_KEY="ignored"))
    settings = config.resolve_provider()
    assert settings.kind == "openai"  # kept from the built-in
    assert settings.base_url == "https://proxy.example.com/v1"
    assert settings.api_key == "wk" and settings.api_key_env == "WORK_OPENAI_KEY"
    assert (settings.timeout, settings.verify_tls, settings.max_retries) == (30, False, 0)
    assert settings.context_window == 400000
    assert settings.prices == {"input": 1.25, "output": 10.0, "cache_read": 0.125}
    assert settings.model == config.model == "gpt-5.1-codex"
    assert config.sources["providers.openai.timeout"] == f"file {path}"
    assert config.sources["providers.openai.kind"] == "default"
    assert config.sources["model"] == f"file {path}"
    message = error_of(write(tmp_path, '[providers.openai]\nkind = "anthropic"\n'), base_env(tmp_path))
    assert "providers.openai.kind" in message and "another table name" in message


CUSTOM = """
provider = "work"
[providers.work]
kind = "openai"
base_url = "https://llm.corp.example/v1"
api_key_env = "CORP_LLM_TOKEN"
headers = { "X-Team" = "${TEAM_ID}", "X-Route" = "eu-${REGION}-1", "X-Plain" = "hello" }
timeout = 300
"""


def test_custom_provider_with_header_expansion(tmp_path: Path) -> None:
    path = write(tmp_path, CUSTOM)
    env = base_env(tmp_path, CORP_LLM_TOKEN="tok", TEAM_ID=TEAM_SECRET, REGION="west")
    config = load_config(path, env=env)
    settings = config.resolve_provider()
    assert (settings.name, settings.kind, settings.base_url) == ("work", "openai", "https://llm.corp.example/v1")
    assert settings.api_key == "tok" and settings.timeout == 300
    assert settings.headers == {"X-Team": TEAM_SECRET, "X-Route": "eu-west-1", "X-Plain": "hello"}
    assert settings.model == "gpt-5.1"  # the kind's default model when the table names none
    assert {"CORP_LLM_TOKEN", "TEAM_ID", "REGION"} <= config.secret_env_names


def test_missing_header_variable_is_an_error_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, CUSTOM)
    message = error_of(path, base_env(tmp_path, CORP_LLM_TOKEN="tok", REGION="west"))
    assert "TEAM_ID" in message and "providers.work.headers.X-Team" in message and str(path) in message
    # a provider that is not selected is checked when it is resolved
    config = load_config(path, env=base_env(tmp_path, REGION="west", TEAM_ID="t"), overrides={"provider": "ollama"})
    assert config.resolve_provider().name == "ollama"
    with pytest.raises(ConfigError, match="CORP_LLM_TOKEN"):
        config.resolve_provider("work")
    config = load_config(path, env=base_env(tmp_path, CORP_LLM_TOKEN="x"), overrides={"provider": "ollama"})
    with pytest.raises(ConfigError, match="TEAM_ID"):
        config.resolve_provider("work")


def test_bad_header_templates(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.w]\nkind = "openai"\nheaders = { "X-A" = "${NOT CLOSED" }\n')
    assert "providers.w.headers.X-A" in error_of(path, base_env(tmp_path))
    path = write(tmp_path, '[providers.w]\nkind = "openai"\nheaders = { "Bad Name" = "x" }\n')
    assert "not a valid HTTP header name" in error_of(path, base_env(tmp_path))
    path = write(tmp_path, '[providers.w]\nkind = "openai"\nheaders = { "X-A" = "a\\r\\nX-Evil: 1" }\n')
    assert "line break" in error_of(path, base_env(tmp_path))


def test_custom_provider_without_key_variable_sends_none(tmp_path: Path) -> None:
    path = write(tmp_path, 'provider = "vllm"\n[providers.vllm]\nkind = "openai"\n'
                           'base_url = "http://127.0.0.1:8000/v1"\nmodel = "qwen"\n')
    config = load_config(path, env=base_env(tmp_path))
    settings = config.resolve_provider()
    assert settings.api_key is None and settings.model == "qwen" == config.model


# ---------------------------------------------------------------------------------------- config show


def show(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str],
         *argv: str) -> tuple[int, str, str]:
    """Run `corral config ...` through the real argparse wiring of agent.cli_config."""
    from agent import cli_config

    for name in ("CORRAL_CONFIG", "CORRAL_PROVIDER", "CORRAL_MODEL", "CORRAL_MODE", "CORRAL_SANDBOX",
                 "CORRAL_THINKING", "OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY",
                 "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    parser = argparse.ArgumentParser(prog="corral")
    cli_config.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["config", *argv])
    code = args.handler(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_config_show_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, CUSTOM + '\n[providers.work2]\nkind = "anthropic"\n'
                 'base_url = "https://u:hunter2@a.example/?token=tok123&x=1"\n'
                 'headers = { Authorization = "Bearer literal-bearer-secret" }\n')
    env = base_env(tmp_path, CORP_LLM_TOKEN=SECRET, TEAM_ID=TEAM_SECRET, REGION="west",
                   OPENROUTER_API_KEY=SECRET, CORRAL_MODE="guarded")
    code, out, err = show(monkeypatch, capsys, env, "show", "--config", str(path))
    assert code == 0 and err == ""
    for secret in (SECRET, TEAM_SECRET, "hunter2", "tok123", "literal-bearer-secret", "eu-${REGION}"):
        assert secret not in out
    lines = {line.split("=")[0].strip(): line for line in out.splitlines() if "=" in line and line[0] != "#"}
    assert '"guarded"' in lines["mode"] and "# env CORRAL_MODE" in lines["mode"]
    assert '"work"' in lines["provider"] and f"# file {path}" in lines["provider"]
    assert "# default" in lines["theme"]
    assert "set (CORP_LLM_TOKEN)" in out
    assert "headers.X-Team = ***" in out and "headers.X-Route = ***" in out and 'headers.X-Plain = "hello"' in out
    assert "headers.Authorization = ***" in out
    assert "missing (ANTHROPIC_API_KEY)" not in out  # work2 has no key variable
    assert "[providers.work]" in out and "[providers.work2]" in out
    assert "other providers:" in out and "openrouter" in out.splitlines()[-1]
    assert "https://***@a.example/?token=***&x=1" in out


def test_config_show_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(tmp_path, OPENROUTER_API_KEY=SECRET, CORRAL_THINKING="medium")
    code, out, _ = show(monkeypatch, capsys, env, "show", "--json")
    assert code == 0 and SECRET not in out
    data = json.loads(out)
    assert data["loaded"] is False
    assert data["config_file"] == str(tmp_path / "xdg" / "corral" / "config.toml")
    assert data["settings"]["thinking"] == {"value": "medium", "source": "env CORRAL_THINKING"}
    assert data["settings"]["provider"] == {"value": "openrouter", "source": "default"}
    openrouter = data["providers"]["openrouter"]
    assert openrouter["selected"] is True
    assert openrouter["api_key"] == {"value": "set (OPENROUTER_API_KEY)", "source": "env OPENROUTER_API_KEY"}
    assert data["providers"]["openai"]["api_key"]["value"] == "missing (OPENAI_API_KEY)"
    assert data["providers"]["ollama"]["api_key"]["value"] == "not needed"


def test_config_show_error_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, 'mode = "standard"\nbogus = 1\n')
    code, out, err = show(monkeypatch, capsys, base_env(tmp_path), "show", "--config", str(path))
    assert code == 2 and out == ""
    assert err.startswith("corral: ") and "bogus" in err and str(path) in err


def test_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = show(monkeypatch, capsys, base_env(tmp_path), "path")
    assert code == 0 and out.strip() == str(tmp_path / "xdg" / "corral" / "config.toml")
    assert "does not exist" in err
    other = write(tmp_path, "")
    code, out, err = show(monkeypatch, capsys, base_env(tmp_path), "path", "--config", str(other))
    assert code == 0 and out.strip() == str(other) and err == ""


def test_cli_config_import_is_light() -> None:
    code = "import sys, agent.cli_config; print('pydantic' in sys.modules, 'agent.config' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.split() == ["False", "False"]
