"""`corral policy check` on commands that read outside the project without naming it: through
symbolic links they follow while walking a directory (diff -r, zip -r, rsync -L …), and other
processes' environments through `ps e` / `ps -o env` (the same secret as /proc/*/environ).

The repository holds ``da/x -> <outside file>`` next to an empty ``db/x``, the reviewer's setup.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.corpus import Fixture, build_fixture
from tests.policy.test_cli import check_json


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    fx = build_fixture(tmp_path_factory.mktemp("cli-symlinks"))
    secret = fx.other / "secret.txt"
    secret.write_text("outside\n")
    (fx.root / "da").mkdir()
    (fx.root / "db").mkdir()
    (fx.root / "da" / "x").symlink_to(secret)
    (fx.root / "db" / "x").write_text("")
    return fx


FOLLOWS_LINKS = [
    "diff -r da db",
    "diff --recursive da db",
    "diff -ru da db",
    "diff -Naur da db",
    "grep -R outside da",
    "cp -rL da copy",
    "tar -chf out.tar da",
    "tar --dereference -cf out.tar da",
    "zip -r out.zip da",
    "rsync -L -r da copy",
    "rsync --copy-links -r da copy",
]


@pytest.mark.parametrize("mode", ["read-only", "standard"])
@pytest.mark.parametrize("command", FOLLOWS_LINKS)
def test_walking_through_symlinks_is_not_allowed(fx: Fixture, mode: str, command: str) -> None:
    out = check_json(fx, "--mode", mode, "--", command)
    assert out["decision"] != "allow", out
    assert "symbolic links" in out["reason"], out


@pytest.mark.parametrize("mode", ["read-only", "standard"])
def test_plain_diff_of_files_and_nonfollowing_walks_stay_allowed(fx: Fixture, mode: str) -> None:
    assert check_json(fx, "--mode", mode, "--", "diff README.md db/x")["decision"] == "allow"
    assert check_json(fx, "--mode", mode, "--", "grep -r outside da")["decision"] == "allow"


ENV_LEAKS = [
    "ps axeww", "ps auxe", "ps e", "ps eww", "ps -p 1 e", "ps -o env", "ps -o pid,environ",
    "ps -eo pid,env:40", "ps --format=env", "ps axo pid,env", "sudo ps e", "/bin/ps eww",
    "timeout 5 ps auxe", "ps aux | ps e",
]


@pytest.mark.parametrize("mode", ["read-only", "standard", "yolo"])
@pytest.mark.parametrize("command", ENV_LEAKS)
def test_ps_showing_environments_is_denied(fx: Fixture, mode: str, command: str) -> None:
    out = check_json(fx, "--mode", mode, "--", command)
    assert out["decision"] == "deny", out
    assert "environ" in out["reason"], out


@pytest.mark.parametrize("command", ["ps", "ps aux", "ps -e", "ps -ef", "ps -C sleep", "ps -o user",
                                     "ps -p 1 -o pid,user,cmd", "ps axo user,cmd"])
def test_ps_without_environments_is_allowed(fx: Fixture, command: str) -> None:
    assert check_json(fx, "--mode", "standard", "--", command)["decision"] == "allow"


def test_fixture_link_points_outside(fx: Fixture) -> None:
    assert Path(fx.root / "da" / "x").resolve().parent == fx.other.resolve()
