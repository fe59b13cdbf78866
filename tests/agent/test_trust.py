"""Project trust (agent/trust.py, `corral trust`): real projects, real symlinks and a real trust file under
tmp_path, with a fake HOME and XDG_* (never the user's own); the command line through real subprocesses.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agent import trust
from agent.cli import SUBCOMMANDS

REPO = Path(__file__).resolve().parents[2]


def fake_env(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_CACHE_HOME": str(tmp_path / "cache")}


def make_project(tmp_path: Path, name: str = "proj", files: dict[str, str] | None = None) -> Path:
    root = tmp_path / name
    (root / ".git").mkdir(parents=True)
    corral = root / ".corral"
    corral.mkdir()
    for rel, text in (files if files is not None else {"config.toml": 'mode = "guarded"\n',
                                                      "policy.toml": "", "plans/plan.md": "# plan\n"}).items():
        (corral / rel).parent.mkdir(parents=True, exist_ok=True)
        (corral / rel).write_text(text)
    return root


# --------------------------------------------------------------------------------------- the trust file


def test_trust_file_location_honours_xdg_data_home() -> None:
    assert trust.trust_file({"XDG_DATA_HOME": "/d", "HOME": "/h"}) == Path("/d/corral/trust.json")
    assert trust.trust_file({"XDG_DATA_HOME": "rel", "HOME": "/h"}) == Path("/h/.local/share/corral/trust.json")
    assert trust.trust_file({"HOME": "/h"}) == Path("/h/.local/share/corral/trust.json")


def test_trust_then_status_and_the_file_is_private(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    assert trust.trust_status(root, env).state == "never"
    assert not trust.trust_status(root, env).trusted
    record, note = trust.trust(root, env)
    assert note is None and record.root == str(root.resolve())
    status = trust.trust_status(root, env)
    assert status.trusted and status.state == "trusted" and "corral trust" in status.reason
    path = trust.trust_file(env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    doc = json.loads(path.read_text())
    assert doc["format"] == 1
    assert doc["projects"][str(root.resolve())]["digest"] == trust.digest_corral_dir(root) == record.digest
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_symlinked_path_is_the_same_project(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    trust.trust(root, env)
    # the status is keyed by the resolved root; a symlinked path to the root is the same project
    (tmp_path / "link").symlink_to(root)
    assert trust.trust_status(tmp_path / "link", env).trusted


def test_a_project_without_corral_dir_has_nothing_to_trust(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    root = tmp_path / "bare"
    (root / ".git").mkdir(parents=True)
    status = trust.trust_status(root, env)
    assert not status.trusted and status.state == "none" and "no .corral/" in status.reason
    with pytest.raises(trust.TrustError, match="nothing to trust"):
        trust.trust(root, env)
    assert not trust.trust_file(env).exists()


# ------------------------------------------------------------------------------------ what untrusts it


def _edit(corral: Path) -> None:
    (corral / "config.toml").write_text('mode = "yolo"\n')


def _add(corral: Path) -> None:
    (corral / "prompts").mkdir()
    (corral / "prompts" / "code.md").write_text("be helpful\n")


def _remove(corral: Path) -> None:
    (corral / "plans" / "plan.md").unlink()


def _rename(corral: Path) -> None:
    (corral / "plans" / "plan.md").rename(corral / "plans" / "other.md")


def _empty_dir(corral: Path) -> None:
    (corral / "extra").mkdir()


def _add_symlink(corral: Path) -> None:
    (corral / "alias.toml").symlink_to("config.toml")


def _policy_to_symlink(corral: Path) -> None:
    (corral / "policy.toml").unlink()
    (corral / "policy.toml").symlink_to("config.toml")


def _same_bytes_new_mtime(corral: Path) -> None:  # not a change
    os.utime(corral / "config.toml", (1, 1))
    (corral / "config.toml").chmod(0o600)


@pytest.mark.parametrize("change", [_edit, _add, _remove, _rename, _empty_dir, _add_symlink, _policy_to_symlink])
def test_any_change_under_corral_untrusts(tmp_path: Path, change: Callable[[Path], None]) -> None:
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    trust.trust(root, env)
    change(root / ".corral")
    status = trust.trust_status(root, env)
    assert not status.trusted and status.state == "changed"
    assert "changed since `corral trust` on" in status.reason and "run `corral trust` again" in status.reason
    trust.trust(root, env)  # reviewed: trusted again
    assert trust.trust_status(root, env).trusted


def test_times_and_modes_are_not_changes(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    trust.trust(root, env)
    _same_bytes_new_mtime(root / ".corral")
    assert trust.trust_status(root, env).trusted


def test_a_symlink_target_change_inside_corral_untrusts(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    _policy_to_symlink(root / ".corral")
    trust.trust(root, env)
    assert trust.trust_status(root, env).trusted
    (root / ".corral" / "config.toml").write_text('mode = "yolo"\n')  # what policy.toml points to
    assert trust.trust_status(root, env).state == "changed"


def test_a_symlink_leading_outside_cannot_be_trusted(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    (root / "loose.toml").write_text("")
    (root / ".corral" / "policy.toml").unlink()
    (root / ".corral" / "policy.toml").symlink_to("../loose.toml")
    with pytest.raises(trust.TrustError, match=r"outside \.corral/"):
        trust.trust(root, env)
    status = trust.trust_status(root, env)
    assert not status.trusted and status.state == "unusable" and "policy.toml is a symlink" in status.reason


def test_a_trusted_corral_replaced_by_a_symlink_is_untrusted(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    trust.trust(root, env)
    copy = tmp_path / "elsewhere"
    (root / ".corral").rename(copy)
    (root / ".corral").symlink_to(copy)  # the same contents, behind a link
    status = trust.trust_status(root, env)
    assert not status.trusted and status.state == "unusable" and "is a symlink" in status.reason
    with pytest.raises(trust.TrustError, match="symlink"):
        trust.trust(root, env)


def test_the_digest_is_stable_and_never_blocks_on_a_fifo(tmp_path: Path) -> None:
    a = make_project(tmp_path, "a", {"x/1": "one", "y": "two"})
    b = make_project(tmp_path, "b", {"y": "two", "x/1": "one"})
    assert trust.digest_corral_dir(a) == trust.digest_corral_dir(b)
    assert trust.digest_corral_dir(tmp_path / "nothing") is None
    os.mkfifo(a / ".corral" / "pipe")  # a reader would block forever on it
    snap = trust.snapshot(a)
    assert snap.digest != trust.digest_corral_dir(b)
    assert ("pipe", "other") in [(e.path, e.kind) for e in snap.entries]


def test_an_unreadable_file_is_reported_not_skipped(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    secret = root / ".corral" / "config.toml"
    secret.chmod(0)
    try:
        with pytest.raises(trust.TrustError, match="cannot read"):
            trust.snapshot(root)
        status = trust.trust_status(root, env)
        assert not status.trusted and "cannot read" in status.reason
    finally:
        secret.chmod(0o644)


# ------------------------------------------------------------------------------ revoking and many projects


def test_revoke(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    assert trust.revoke(root, env) is False  # no trust file yet
    trust.trust(root, env)
    assert trust.revoke(root, env) is True
    status = trust.trust_status(root, env)
    assert status.state == "revoked" and not status.trusted and "revoked on" in status.reason
    assert trust.revoke(root, env) is False
    assert trust.trust_status(make_project(tmp_path, "other"), env).state == "never"  # only that project
    trust.trust(root, env)
    assert trust.trust_status(root, env).state == "trusted"


def test_other_projects_entries_survive_every_write(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    a, b, c = (make_project(tmp_path, n) for n in "abc")
    trust.trust(a, env)
    trust.trust(b, env)
    trust.revoke(a, env)
    trust.trust(c, env)
    assert sorted(trust.trusted_projects(env)) == sorted(str(p.resolve()) for p in (b, c))


TRUST_ONE = "import sys; from pathlib import Path; from agent import trust; trust.trust(Path(sys.argv[1]))"


def test_concurrent_trusts_lose_no_entry(tmp_path: Path) -> None:
    env = {**os.environ, **fake_env(tmp_path), "PYTHONPATH": str(REPO)}
    roots = [make_project(tmp_path, f"p{i}") for i in range(8)]
    procs = [subprocess.Popen([sys.executable, "-c", TRUST_ONE, str(r)], env=env, cwd=REPO) for r in roots]
    assert [p.wait(timeout=60) for p in procs] == [0] * 8
    assert sorted(trust.trusted_projects(fake_env(tmp_path))) == sorted(str(r.resolve()) for r in roots)


# ------------------------------------------------------------------------------------ a damaged trust file


DAMAGE = {
    "not json": "{not json",
    "wrong shape": '{"format": 1, "projects": []}',
    "other format": '{"format": 99, "projects": {}}',
    "bad entry": '{"format": 1, "projects": {"/p": {"digest": "short", "trusted_at": "x"}}}',
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_trust_file_untrusts_everything_and_says_so(tmp_path: Path, damage: str) -> None:
    env = fake_env(tmp_path)
    root, other = make_project(tmp_path), make_project(tmp_path, "other")
    trust.trust(root, env)
    path = trust.trust_file(env)
    path.write_text(DAMAGE[damage])
    status = trust.trust_status(root, env)
    assert not status.trusted and status.state == "damaged"
    assert str(path) in status.reason and "`corral trust`" in status.reason
    with pytest.raises(trust.TrustError, match="trust file"):
        trust.trusted_projects(env)
    with pytest.raises(trust.TrustError):
        trust.revoke(root, env)  # revoking does not rewrite it
    # `corral trust` keeps the damaged file and starts a new one
    _, note = trust.trust(other, env)
    assert note is not None and "kept the damaged file as" in note
    kept = [p for p in path.parent.iterdir() if p.name.startswith("trust.json.damaged-")]
    assert len(kept) == 1 and kept[0].read_text() == DAMAGE[damage]
    assert trust.trust_status(other, env).trusted and not trust.trust_status(root, env).trusted


def test_a_trust_file_others_can_write_is_not_believed(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    trust.trust(root, env)
    trust.trust_file(env).chmod(0o666)
    status = trust.trust_status(root, env)
    assert status.state == "damaged" and "not private" in status.reason


def test_a_symlinked_trust_file_is_neither_followed_nor_written_through(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    decoy = tmp_path / "decoy.json"
    digest = trust.digest_corral_dir(root)
    decoy.write_text(json.dumps({"format": 1, "projects": {str(root.resolve()): {
        "digest": digest, "trusted_at": "2020-01-01T00:00:00Z"}}}))
    decoy.chmod(0o600)
    path = trust.trust_file(env)
    path.parent.mkdir(parents=True)
    path.symlink_to(decoy)
    status = trust.trust_status(root, env)
    assert not status.trusted and status.state == "damaged" and "symlink" in status.reason
    before = decoy.read_text()
    trust.trust(root, env)  # sets the link aside and writes a real file
    assert decoy.read_text() == before
    assert not path.is_symlink() and trust.trust_status(root, env).trusted


# ------------------------------------------------------------------------------------ `corral trust`

if "trust" in SUBCOMMANDS:
    CLI = ["-m", "agent.cli", "trust"]
else:  # until agent/cli.py wires the subcommand: the same parser and handler, as cli.main runs them
    SHIM = ("import argparse, sys\nfrom agent import cli_trust\nfrom agent.errors import UsageError\n"
            "p = argparse.ArgumentParser(prog='corral'); s = p.add_subparsers(); cli_trust.add_parser(s)\n"
            "a = p.parse_args(sys.argv[1:])\n"
            "try:\n    sys.exit(a.handler(a))\nexcept UsageError as e:\n"
            "    print(f'corral: {e}', file=sys.stderr); sys.exit(2)\n")
    CLI = ["-c", SHIM, "trust"]


def corral_trust(tmp_path: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), **fake_env(tmp_path)}
    return subprocess.run([sys.executable, *CLI, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def test_cli_trust_lists_the_files_then_trusts(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "src").mkdir()
    (root / ".corral" / "alias.toml").symlink_to("config.toml")
    status = corral_trust(tmp_path, root / "src", "--status")
    assert status.returncode == 1 and "never trusted" in status.stdout
    done = corral_trust(tmp_path, root / "src")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"{root}/.corral/ holds:" in out
    for line in ("  config.toml  (17 bytes)", "  plans/", "  plans/plan.md  (7 bytes)", "  policy.toml  (0 bytes)",
                 "  alias.toml -> config.toml"):
        assert line in out.splitlines()
    assert f"trusted {root}" in out
    status = corral_trust(tmp_path, tmp_path, str(root), "--status")
    assert status.returncode == 0 and "trusted (`corral trust` on" in status.stdout
    listed = corral_trust(tmp_path, tmp_path, "--list")
    assert listed.returncode == 0 and f"{root}  trusted " in listed.stdout and "(unchanged)" in listed.stdout
    (root / ".corral" / "config.toml").write_text('mode = "yolo"\n')
    assert "changed since, untrusted now" in corral_trust(tmp_path, tmp_path, "--list").stdout
    status = corral_trust(tmp_path, root, "--status")
    assert status.returncode == 1 and "changed since `corral trust`" in status.stdout
    revoked = corral_trust(tmp_path, root, "--revoke")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert "no trusted projects" in corral_trust(tmp_path, root, "--list").stdout
    assert "nothing to revoke" in corral_trust(tmp_path, root, "--revoke").stdout


def test_cli_trust_refusals_and_errors(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    (bare / ".git").mkdir(parents=True)
    nothing = corral_trust(tmp_path, bare)
    assert nothing.returncode == 1 and "nothing to trust" in nothing.stderr
    assert "no .corral/" in corral_trust(tmp_path, bare, "--status").stdout
    usage = corral_trust(tmp_path, bare, "--list", str(bare))
    assert usage.returncode == 2 and "takes no DIR" in usage.stderr
    assert corral_trust(tmp_path, bare, "--list", "--revoke").returncode == 2
    assert corral_trust(tmp_path, bare, str(tmp_path / "missing")).returncode == 2
    root = make_project(tmp_path)
    path = trust.trust_file(fake_env(tmp_path))
    path.parent.mkdir(parents=True)
    path.write_text("{oops")
    status = corral_trust(tmp_path, root, "--status")
    assert status.returncode == 1 and str(path) in status.stdout and "`corral trust`" in status.stdout
    listed = corral_trust(tmp_path, root, "--list")
    assert listed.returncode == 1 and str(path) in listed.stderr
    fixed = corral_trust(tmp_path, root)
    assert fixed.returncode == 0 and "kept the damaged file" in fixed.stderr
    assert corral_trust(tmp_path, root, "--status").returncode == 0


def test_a_symlinked_data_directory_is_not_used(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    root = make_project(tmp_path)
    real = tmp_path / "real-data"
    real.mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "corral").symlink_to(real)
    with pytest.raises(trust.TrustError, match="a symlink"):
        trust.trust(root, env)
    assert list(real.iterdir()) == []
    assert trust.trust_status(root, env).state == "damaged"
