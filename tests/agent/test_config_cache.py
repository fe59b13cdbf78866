"""The cache of validated config files (agent/config_cache.py) and the pydantic-free warm path.

A file is validated by pydantic once per content; later runs load the cached layer. These tests show
that the warm path gives exactly the cold path's Config (values and sources), never imports pydantic,
notices an edited file, never caches an invalid one, shrugs off a corrupt or unwritable cache, and
reports a bad environment variable or flag with the very same message as the cold path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest

from agent import config_cache, config_data, config_schema
from agent.config import Config, load_config
from agent.config_check import check_settings, layer_from_json
from agent.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"), **extra}


def entries(tmp_path: Path) -> list[Path]:
    directory = tmp_path / "cache" / "corral"
    return sorted(directory.iterdir()) if directory.exists() else []


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the pydantic validations of config files (one per cold load)."""
    calls: list[int] = []
    real = config_schema.validate_file

    def counting(data: object, file_where: str) -> config_data.FileLayer:
        calls.append(1)
        return real(data, file_where)  # type: ignore[arg-type]

    monkeypatch.setattr(config_schema, "validate_file", counting)
    yield calls


def same_config(a: Config, b: Config) -> None:
    assert a == b
    assert a.sources == b.sources and list(a.sources) == list(b.sources)
    assert a.providers == b.providers and list(a.providers) == list(b.providers)
    for name in a.providers:
        for field in ("timeout", "max_retries", "context_window"):  # int vs float survives the cache
            assert type(getattr(a.providers[name], field)) is type(getattr(b.providers[name], field))


FILES = {
    "full": """
provider = "anthropic"
model = "claude-opus-4-1"
mode = "Read_Only"
thinking = "HIGH"
sandbox = " Bwrap "
sandbox_network = true
max_turns = 12
bash_timeout = 30
env_allow = ["JAVA_HOME", "GOPATH", "LC_*"]
theme = "light"
""",
    "custom": """
provider = "work"
mode = "guarded"
env_allow = ["JAVA_HOME"]

[providers.work]
kind = "openai"
base_url = "https://llm.corp.example/v1/"
api_key_env = "CORP_LLM_TOKEN"
headers = { "X-Team" = "${TEAM_ID}", "X-Route" = "eu-${REGION}-1", "X-Plain" = "hello" }
timeout = 300
context_window = 131072
model = "qwen3-coder-480b"
prices = { input = 1, output = 1.6, cache_read = 0 }

[providers.local]
kind = "ollama"
base_url = "http://127.0.0.1:8000"
verify_tls = false
max_retries = 0

[providers.openai]
base_url = "https://proxy.corp.example/openai/v1"
timeout = 12.5
""",
    "override": """
provider = "openai"
[providers.openai]
api_key_env = "WORK_OPENAI_KEY"
model = "gpt-5.1-codex"
""",
    "empty": "",
    "comments": "# nothing but a comment\n\n[providers]\n",
}

RUNS = [
    ({}, None),
    ({"CORRAL_MODE": "yolo", "CORRAL_THINKING": " Low ", "CORRAL_PROVIDER": "OLLAMA"}, None),
    ({"CORRAL_MODEL": "from-env", "CORRAL_SANDBOX": "none"},
     {"provider": "openai", "max_turns": 3, "sandbox_network": True, "mode": "readonly", "thinking": None}),
    ({}, {"bash_timeout": 7, "env_allow": ("A_B", "C_*"), "theme": "x", "model": "m"}),
]


@pytest.mark.parametrize("name", list(FILES))
def test_warm_path_gives_the_cold_config(tmp_path: Path, name: str, validations: list[int]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FILES[name])
    secrets = {"TEAM_ID": "t", "REGION": "eu", "CORP_LLM_TOKEN": "tok", "WORK_OPENAI_KEY": "k",
               "ANTHROPIC_API_KEY": "a", "OPENROUTER_API_KEY": "o", "OPENAI_API_KEY": "oa"}
    for index, (extra, overrides) in enumerate(RUNS):
        env = env_for(tmp_path / str(index), **secrets, **extra)
        cold = load_config(path, env=env, overrides=overrides)
        assert len(validations) == 1 and len(entries(tmp_path / str(index))) == 1
        warm = load_config(path, env=env, overrides=overrides)
        assert len(validations) == 1, "the second load must come from the cache"
        same_config(cold, warm)
        assert cold.resolve_provider() == warm.resolve_provider()
        validations.clear()


def test_the_cache_is_keyed_by_content_not_path(tmp_path: Path, validations: list[int]) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(FILES["full"])
    second.write_text(FILES["full"])
    load_config(first, env=env_for(tmp_path))
    config = load_config(second, env=env_for(tmp_path))
    assert len(validations) == 1
    assert config.path == second and config.sources["mode"] == f"file {second}"


def test_editing_the_file_invalidates(tmp_path: Path, validations: list[int]) -> None:
    path = tmp_path / "config.toml"
    path.write_text('mode = "guarded"\n')
    assert load_config(path, env=env_for(tmp_path)).mode == "guarded"
    assert load_config(path, env=env_for(tmp_path)).mode == "guarded"
    assert len(validations) == 1
    path.write_text('mode = "yolo"\n')
    assert load_config(path, env=env_for(tmp_path)).mode == "yolo"
    assert len(validations) == 2 and len(entries(tmp_path)) == 2
    path.write_text('mode = "bogus"\n')  # now invalid: reported, whatever was cached before
    with pytest.raises(ConfigError, match="'bogus' is not allowed"):
        load_config(path, env=env_for(tmp_path))


INVALID = [
    ('mode = "careful"\n', "'careful' is not allowed"),
    ("max_turn = 5\n", "did you mean 'max_turns'"),
    ('[providers.local]\nbase_url = "http://127.0.0.1:8000/v1"\n', "providers.local.kind: required"),
    ('[providers.openai]\nkind = "anthropic"\n', "another table name"),
    ('env_allow = ["OPENAI_*"]\n', "OPENAI_API_KEY"),
    ('provider = "nope"\n', "unknown provider 'nope'"),
    ("mode = \n", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "problem"), INVALID)
def test_an_invalid_file_is_reported_on_every_run(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    messages = []
    for _ in range(3):
        with pytest.raises(ConfigError) as info:
            load_config(path, env=env_for(tmp_path))
        messages.append(str(info.value))
    assert problem in messages[0] and str(path) in messages[0]
    assert messages == [messages[0]] * 3
    assert entries(tmp_path) == []


def test_a_file_that_fails_only_with_this_environment_is_cached_later(tmp_path: Path,
                                                                      validations: list[int]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FILES["custom"])
    with pytest.raises(ConfigError, match="TEAM_ID"):
        load_config(path, env=env_for(tmp_path, REGION="eu"))
    assert entries(tmp_path) == []  # nothing stored from a failed load
    load_config(path, env=env_for(tmp_path, REGION="eu", TEAM_ID="t"))
    with pytest.raises(ConfigError, match="TEAM_ID"):  # the warm path checks the headers too
        load_config(path, env=env_for(tmp_path, REGION="eu"))
    assert len(validations) == 2 and len(entries(tmp_path)) == 1


def test_missing_default_file_needs_no_cache(tmp_path: Path, validations: list[int]) -> None:
    config = load_config(env=env_for(tmp_path))
    assert not config.loaded and config.mode == "standard"
    assert validations == [] and not (tmp_path / "cache").exists()


def _cached_file(tmp_path: Path) -> tuple[Path, Path, Config]:
    path = tmp_path / "config.toml"
    path.write_text(FILES["custom"])
    env = env_for(tmp_path, TEAM_ID="t", REGION="eu")
    config = load_config(path, env=env)
    [entry] = entries(tmp_path)
    return path, entry, config


def _tamper_layer(entry: Path, change: dict[str, object]) -> None:
    data = json.loads(entry.read_text())
    data["layer"]["settings"].update(change)
    entry.write_text(json.dumps(data))


@pytest.mark.parametrize("damage", [
    lambda e: e.write_bytes(b"\x00garbage{"),
    lambda e: e.write_text(""),
    lambda e: e.write_text("[1, 2, 3]"),
    lambda e: e.write_text(e.read_text().replace('"format": 1', '"format": 99')),
    lambda e: e.write_text(e.read_text().replace('"key": "', '"key": "0')),  # a foreign entry
    lambda e: _tamper_layer(e, {"mode": "banana"}),
    lambda e: _tamper_layer(e, {"max_turns": "12"}),
    lambda e: _tamper_layer(e, {"unknown": 1}),
    lambda e: e.write_text(e.read_text().replace('"timeout": 300.0', '"timeout": "300"')),
    lambda e: e.write_text(e.read_text().replace('"kind": "ollama"', '"kind": "telnet"')),
    lambda e: e.chmod(0o644),  # readable by others: not ours to trust
])
def test_a_corrupt_or_foreign_entry_is_ignored(tmp_path: Path, validations: list[int], damage: object) -> None:
    path, entry, cold = _cached_file(tmp_path)
    damage(entry)  # type: ignore[operator]
    again = load_config(path, env=env_for(tmp_path, TEAM_ID="t", REGION="eu"))
    same_config(cold, again)
    assert len(validations) == 2  # validated again ...
    assert load_config(path, env=env_for(tmp_path, TEAM_ID="t", REGION="eu")) == cold
    assert len(validations) == 2  # ... and the entry rewritten
    assert entry.stat().st_mode & 0o777 == 0o600


def test_a_symlinked_entry_is_ignored(tmp_path: Path, validations: list[int]) -> None:
    path, entry, cold = _cached_file(tmp_path)
    target = tmp_path / "elsewhere.json"
    target.write_bytes(entry.read_bytes())
    target.chmod(0o600)
    entry.unlink()
    entry.symlink_to(target)
    assert load_config(path, env=env_for(tmp_path, TEAM_ID="t", REGION="eu")) == cold
    assert len(validations) == 2


def test_an_unwritable_cache_means_validating_every_time(tmp_path: Path, validations: list[int]) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    path = tmp_path / "config.toml"
    path.write_text(FILES["full"])
    env = {**env_for(tmp_path), "XDG_CACHE_HOME": str(blocker / "cache")}
    first = load_config(path, env=env)
    second = load_config(path, env=env)
    same_config(first, second)
    assert len(validations) == 2


def test_entries_are_private_and_written_atomically(tmp_path: Path) -> None:
    _, entry, _ = _cached_file(tmp_path)
    assert entry.stat().st_mode & 0o777 == 0o600
    assert entry.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in entries(tmp_path)] == [entry.name]  # no temporary file left behind
    assert entry.name == f"config-{config_cache.cache_key(FILES['custom'].encode())}.json"


def test_cache_location_honours_the_environment(tmp_path: Path) -> None:
    assert config_cache.cache_dir({"XDG_CACHE_HOME": "/x/c", "HOME": "/h"}) == Path("/x/c/corral")
    assert config_cache.cache_dir({"XDG_CACHE_HOME": "rel", "HOME": "/h"}) == Path("/h/.cache/corral")
    assert config_cache.cache_dir({"HOME": "/h"}) == Path("/h/.cache/corral")
    path = tmp_path / "config.toml"
    path.write_text('mode = "guarded"\n')
    load_config(path, env={"HOME": str(tmp_path / "home")})
    assert len(list((tmp_path / "home" / ".cache" / "corral").iterdir())) == 1


def test_old_entries_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_cache, "MAX_ENTRIES", 3)
    path = tmp_path / "config.toml"
    for turns in range(1, 7):
        path.write_text(f"max_turns = {turns}\n")
        load_config(path, env=env_for(tmp_path))
    assert len(entries(tmp_path)) == 3


def test_the_key_covers_the_config_code(monkeypatch: pytest.MonkeyPatch) -> None:
    key = config_cache.cache_key(b"x = 1")
    monkeypatch.setattr(config_cache, "_code_digest", b"other code")
    assert config_cache.cache_key(b"x = 1") != key
    monkeypatch.setattr(config_cache, "_code_digest", None)
    assert config_cache.cache_key(b"x = 1") == key != config_cache.cache_key(b"x = 2")


# ------------------------------------------------------------------------- environment and flag errors


BAD_ENV = [{"CORRAL_MODE": "careful"}, {"CORRAL_THINKING": "lots"}, {"CORRAL_SANDBOX": "docker"},
           {"CORRAL_PROVIDER": "mistral"}, {"CORRAL_MODE": "guarded", "CORRAL_SANDBOX": "nah"}]
BAD_FLAGS = [{"max_turns": "ten"}, {"max_turns": 0}, {"max_turns": True}, {"sandbox_network": "yes"},
             {"mode": "careful"}, {"thinking": "lots", "max_turns": -1}, {"colour": "red"}, {"provider": " "},
             {"bash_timeout": -1.5}, {"bash_timeout": float("nan")}, {"env_allow": ["BAD NAME"]},
             {"env_allow": "PATH"}, {"model": ""}, {"provider": "mistral"}]


def _message(path: Path, env: dict[str, str], overrides: dict[str, object] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env, overrides=overrides)
    return str(info.value)


@pytest.mark.parametrize("bad", [*({"env": e} for e in BAD_ENV), *({"flags": f} for f in BAD_FLAGS)])
def test_env_and_flag_errors_are_the_same_on_both_paths(tmp_path: Path, validations: list[int],
                                                        bad: dict[str, dict[str, object]]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FILES["full"])
    bad_env = {k: str(v) for k, v in bad.get("env", {}).items()}
    flags = bad.get("flags")
    cold = _message(path, env_for(tmp_path / "cold", **bad_env), flags)
    load_config(path, env=env_for(tmp_path / "warm"))  # fills the cache
    assert len(validations) == 2
    warm = _message(path, env_for(tmp_path / "warm", **bad_env), flags)
    assert len(validations) == 2  # the file came from the cache
    assert warm == cold
    # and it is the message of the layer that holds the bad value
    assert any(var in warm for var in bad_env) if bad_env else ("--" in warm or "command line" in warm)


def test_a_bad_mode_reads_the_same_cold_and_warm(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('theme = "light"\n')
    expected = ("environment variable CORRAL_MODE: mode: 'careful' is not allowed; use one of 'restrictive', "
                "'read-only', 'guarded', 'standard' or 'yolo'")
    assert _message(path, env_for(tmp_path, CORRAL_MODE="careful")) == expected  # cold
    load_config(path, env=env_for(tmp_path))
    assert _message(path, env_for(tmp_path, CORRAL_MODE="careful")) == expected  # warm
    flag = ("command-line flag --max-turns: max_turns: expected an integer, got 'ten' (a string)")
    assert _message(path, env_for(tmp_path), {"max_turns": "ten"}) == flag


@pytest.mark.parametrize("key", config_data.SETTING_KEYS)
@pytest.mark.parametrize("value", [
    "x", "", "  ", " Read_Only ", "READONLY", "read-only", "yolo", " HIGH ", "Bwrap", "LC_*", True, False, 0, 1, -1,
    7, 10**30, 0.5, 1.0, -2.0, float("inf"), float("nan"), ["A", "LC_*"], ["A B"], [1], [], None, {"a": 1},
])
def test_the_simple_check_agrees_with_pydantic(key: str, value: object) -> None:
    """Whatever the pydantic-free check accepts, pydantic accepts and normalises the same way."""
    fast = check_settings({key: value})
    try:
        slow: dict[str, object] | None = config_schema.validate_settings({key: value}, {}, "here")
    except ConfigError:
        slow = None
    if fast is not None:
        assert slow == fast and [type(v) for v in slow.values()] == [type(v) for v in fast.values()]
    if value is not None and slow is not None and type(value) in (str, int, float, bool, list):
        assert fast == slow, "a plain valid value should not need pydantic"


def test_plain_data_matches_the_schema() -> None:
    assert tuple(config_schema.Settings.model_fields) == config_data.SETTING_KEYS
    assert tuple(config_schema.ProviderTable.model_fields) == config_data.PROVIDER_KEYS
    assert tuple(config_schema.PricesModel.model_fields) == config_data.PRICE_KEYS
    assert get_args(config_schema.ProviderKind) == config_data.KINDS
    assert get_args(config_schema.ModeName) == config_data.MODES
    assert get_args(config_schema.ThinkingName) == config_data.THINKING_LEVELS
    assert get_args(config_schema.SandboxName) == config_data.SANDBOXES
    assert set(config_data.ENV_VARS.values()) <= set(config_data.SETTING_KEYS)
    assert set(config_data.DEFAULTS) == set(config_data.SETTING_KEYS) - {"model"}


def test_every_validated_file_survives_the_json_round_trip(tmp_path: Path) -> None:
    import tomllib

    for text in FILES.values():
        layer = config_schema.validate_file(tomllib.loads(text), "config file X")
        data = json.loads(json.dumps({"settings": layer.settings, "providers": layer.providers}))
        assert layer_from_json(data) == layer


# ------------------------------------------------------------------------------ no pydantic when warm


WARM_CHECK = """
import sys
from pathlib import Path
from agent.config import load_config
config = load_config(Path(sys.argv[1]), overrides={"max_turns": 9, "mode": "Guarded", "sandbox_network": True})
config.resolve_provider()
print(config.provider, config.mode, config.max_turns, config.thinking,
      sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core", "tomllib")
             or m == "agent.config_schema"))
"""


def test_the_warm_path_does_not_import_pydantic(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FILES["custom"])
    env = {**os.environ, **env_for(tmp_path, TEAM_ID="t", REGION="eu", CORP_LLM_TOKEN="tok"),
           "PYTHONPATH": str(REPO), "CORRAL_THINKING": "Medium", "OPENROUTER_API_KEY": "k"}
    for name in ("CORRAL_CONFIG", "CORRAL_PROVIDER", "CORRAL_MODEL", "CORRAL_MODE", "CORRAL_SANDBOX"):
        env.pop(name, None)

    def run() -> str:
        return subprocess.run([sys.executable, "-c", WARM_CHECK, str(path)], capture_output=True, text=True,
                              check=True, cwd=REPO, env=env).stdout.strip()

    cold = run()
    assert "pydantic" in cold and "agent.config_schema" in cold
    assert run() == "work guarded 9 medium []"
    path.write_text(FILES["custom"] + "\n# edited\n")
    assert "pydantic" in run()
    assert run().endswith("[]")
    # no file at all: the defaults, without pydantic either
    env["XDG_CONFIG_HOME"] = str(tmp_path / "nowhere")
    out = subprocess.run([sys.executable, "-c", WARM_CHECK.replace("Path(sys.argv[1])", "None")],
                         capture_output=True, text=True, check=True, cwd=REPO, env=env).stdout.strip()
    assert out == "openrouter guarded 9 medium []"
