"""The pure argument builders: what each backend is told, checked without running anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import Profile, Spec, filter_env, is_secret_name, masked_paths
from sandbox._bwrap import bwrap_argv
from sandbox._placeholders import needed
from sandbox._zerobox import zerobox_argv


def _spec(tmp_path: Path, **kw: object) -> Spec:
    project = tmp_path / "proj"
    project.mkdir(exist_ok=True)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return Spec(project=project, cwd=project, home=home, **kw)  # type: ignore[arg-type]


def _pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


def test_bwrap_workspace_binds_project_writable(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    argv = bwrap_argv(spec, ["true"], helper=["bwrap"])
    assert argv[0] == "bwrap"
    assert argv[-2:] == ["--", "true"]
    assert _pairs(argv, "--bind") == [str(spec.project)]
    assert argv[1:4] == ["--ro-bind", "/", "/"]
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--clearenv"):
        assert flag in argv
    assert "--share-net" not in argv
    assert _pairs(argv, "--tmpfs")[0] == "/tmp"
    assert _pairs(argv, "--proc") == ["/proc"]
    assert _pairs(argv, "--chdir") == [str(spec.cwd)]


def test_bwrap_read_only_profile_has_no_writable_bind(tmp_path: Path) -> None:
    spec = _spec(tmp_path, profile=Profile.READ_ONLY, writable=(tmp_path,))
    argv = bwrap_argv(spec, ["true"], helper=["bwrap"])
    assert "--bind" not in argv
    assert "--bind-try" not in argv
    assert str(spec.project) in _pairs(argv, "--ro-bind")
    assert needed(spec) == []


def test_bwrap_network_only_when_granted(tmp_path: Path) -> None:
    assert "--share-net" in bwrap_argv(_spec(tmp_path, network=True), ["true"], helper=["bwrap"])


def test_bwrap_masks_secrets(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    (spec.home / ".ssh").mkdir()
    (spec.home / ".netrc").write_text("machine x password y")
    argv = bwrap_argv(spec, ["true"], helper=["bwrap"])
    assert str(spec.home / ".ssh") in _pairs(argv, "--tmpfs")
    assert str(spec.home / ".ssh") in _pairs(argv, "--remount-ro")
    i = argv.index(str(spec.home / ".netrc"))
    assert argv[i - 2 : i] == ["--ro-bind", "/dev/null"]


def test_bwrap_protects_missing_paths_with_placeholders(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    # No .git at all: the whole .git name is taken by an empty read-only mount.
    argv = bwrap_argv(spec, ["true"], helper=["bwrap"])
    assert str(spec.project / ".git") in _pairs(argv, "--tmpfs")
    assert str(spec.project / ".git") in _pairs(argv, "--remount-ro")
    assert str(spec.project / ".git") in needed(spec)
    # .git exists, hooks and config do not: each gets its own placeholder.
    (spec.project / ".git").mkdir()
    argv = bwrap_argv(spec, ["true"], helper=["bwrap"])
    assert str(spec.project / ".git" / "hooks") in _pairs(argv, "--tmpfs")
    assert str(spec.project / ".git" / "config") in _pairs(argv, "--tmpfs")
    # They exist: re-bound read-only after the project bind.
    (spec.project / ".git" / "hooks").mkdir()
    (spec.project / ".git" / "config").write_text("[core]\n")
    argv = bwrap_argv(spec, ["true"], helper=["bwrap"])
    ro = _pairs(argv, "--ro-bind")
    assert str(spec.project / ".git" / "hooks") in ro
    assert str(spec.project / ".git" / "config") in ro
    assert argv.index(str(spec.project / ".git" / "hooks")) > argv.index("--bind")


def test_runner_placeholders_are_bound_read_only_and_cover_what_is_below(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    todo = needed(spec)
    git, env, corral = (str(spec.project / n) for n in (".git", ".env", ".corral"))
    assert git in todo and env in todo and corral in todo
    assert str(spec.project / ".git" / "hooks") not in todo  # covered by the .git placeholder
    for path in todo:
        Path(path).mkdir()
    argv = bwrap_argv(spec, ["true"], helper=["bwrap"], readonly=list(todo))
    ro = _pairs(argv, "--ro-bind")
    assert git in ro and corral in ro
    assert argv[argv.index(env) - 1 : argv.index(env) + 3] == ["--tmpfs", env, "--chmod", "0000"]  # still masked
    assert str(spec.project / ".git" / "hooks") not in argv  # nothing created below a placeholder
    for target in _pairs(argv, "--tmpfs"):  # bwrap never has to create a mount point in the project
        assert not target.startswith(str(spec.project)) or Path(target).is_dir(), target
    zb = zerobox_argv(spec, ["true"], readonly=list(todo))
    deny_write = next(a for a in zb if a.startswith("--deny-write="))
    denied = deny_write.split("=", 1)[1].split(",")
    assert corral in denied and git not in denied  # zerobox keeps .git read-only itself


def test_bwrap_env_drops_secrets_even_when_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("MY_TOKEN", "tok")
    monkeypatch.setenv("HARMLESS", "ok")
    spec = _spec(tmp_path, env_allow=("PATH", "OPENAI_API_KEY", "MY_TOKEN", "HARMLESS"), extra_env={"DB_PASSWORD": "p"})
    argv = bwrap_argv(spec, ["true"], helper=["bwrap"])
    names = _pairs(argv, "--setenv")
    assert "HARMLESS" in names
    assert "TMPDIR" in names
    for secret in ("OPENAI_API_KEY", "MY_TOKEN", "DB_PASSWORD"):
        assert secret not in names
    assert "sk-test" not in argv


@pytest.mark.parametrize(
    "name",
    ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "npm_config__auth", "PGPASSWORD"],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


def test_filter_env_allowlist() -> None:
    spec = Spec(project=Path("/"), cwd=Path("/"), extra_env={"FOO": "1", "API_KEY": "x"})
    env = filter_env(spec, {"PATH": "/bin", "LC_ALL": "C", "RANDOM_VAR": "1", "GH_TOKEN": "t"})
    assert env == {"PATH": "/bin", "LC_ALL": "C", "FOO": "1"}


def test_masked_list_has_builtins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    spec = _spec(tmp_path)
    masks = masked_paths(spec)
    for rel in (".ssh", ".aws", ".gnupg", ".config/gh", ".netrc", ".docker", ".kube"):
        assert spec.home / rel in masks
    assert tmp_path / "cfg" / "corral" in masks
    assert spec.project / ".env" in masks


def test_zerobox_argv(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    (spec.home / ".aws").mkdir()
    tmpdir = tmp_path / "t"
    argv = zerobox_argv(spec, ["echo", "hi"], binary="zb", tmpdir=tmpdir, environ={"PATH": "/bin"})
    assert argv[0] == "zb"
    assert argv[-3:] == ["--", "echo", "hi"]
    assert f"--allow-write={spec.project},{tmpdir}" in argv
    deny_read = next(a for a in argv if a.startswith("--deny-read="))
    assert str(spec.home / ".aws") in deny_read.split("=", 1)[1].split(",")
    assert "--allow-net" not in argv
    assert "TMPDIR=" + str(tmpdir) in argv
    assert "PATH=/bin" in argv
    assert _pairs(argv, "-C") == [str(spec.cwd)]
    ro = zerobox_argv(_spec(tmp_path, profile=Profile.READ_ONLY, network=True), ["true"], binary="zb", environ={})
    assert not any(a.startswith("--allow-write") for a in ro)
    assert "--allow-net" in ro
