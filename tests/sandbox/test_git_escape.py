"""Escapes through files the host reads later: git metadata that makes host git run code, root dotenv files,
and Unix sockets of host daemons. Every check is made on the host, with real git, after (and during) a run.
"""

# Host-side checks are small blocking calls made on purpose between awaits.
# ruff: noqa: ASYNC240

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import trio

import sandbox
from tests.sandbox.helpers import PY, Box, nonce, usable

RAN = "__corral_ran__"
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "PATH": os.environ.get("PATH", "")}


def git(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Host git in project, with no user or system configuration."""
    return subprocess.run(["git", *args], cwd=project, env=GIT_ENV, capture_output=True, text=True, timeout=30)


def repo(box: Box) -> Path:
    """A real repository with one commit; its identity is in .git/config (protected, readable inside)."""
    for args in (
        ("init", "-q"),
        ("config", "user.name", "t"),
        ("config", "user.email", "t@t"),
        ("add", "README.md"),
        ("commit", "-qm", "init"),
    ):
        assert git(box.project, *args).returncode == 0
    return box.project


async def sh(box: Box, script: str, backend: str, **kw: object) -> sandbox.Result:
    spec = box.spec(extra_env={"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}, **kw)
    result = await sandbox.run(["sh", "-c", f"echo {RAN}; {script}"], spec, backend=backend)  # type: ignore[arg-type]
    assert RAN in result.output, f"the command did not run under {backend}:\n{result.output}"
    return result


def evil_config(box: Box) -> tuple[str, Path]:
    """A git config whose fsmonitor leaves a file behind when host git runs it."""
    pwned = box.outside / f"pwned-{nonce()}"
    return f"printf '[core]\\n\\tfsmonitor = \"touch {pwned}; false\"\\n'", pwned


def assert_host_git_is_clean(project: Path, pwned: Path) -> None:
    status = git(project, "status", "--short")
    assert status.returncode == 0, status.stderr
    assert not pwned.exists(), "host git ran a command planted by the sandboxed one"


def noted(notes: tuple[str, ...], backend: str, needle: str) -> bool:
    """Whether a note mentions needle; under zerobox the whole .git is read-only, so the write itself failed
    and there is nothing to restore or report."""
    return (backend == "zerobox" and not notes) or any(needle in n for n in notes)


@pytest.fixture(params=("bwrap", "zerobox", "none"))
def any_backend(request: pytest.FixtureRequest) -> str:
    return usable(request.param)


# ------------------------------------------------------------------------- tripwire: commondir, config.worktree


async def test_planted_commondir_is_removed_and_reported(box: Box, any_backend: str) -> None:
    project = repo(box)
    printf, pwned = evil_config(box)
    script = f"mkdir -p g/hooks g/objects g/refs && {printf} > g/config; echo ../g > .git/commondir; cat .git/commondir"
    result = await sh(box, script, any_backend)
    assert not (project / ".git/commondir").exists(), result.output
    assert noted(result.notes, any_backend, "corral removed .git/commondir, which the command created"), result.notes
    assert_host_git_is_clean(project, pwned)


@pytest.mark.parametrize("shape", ["directory", "symlink", "empty"])
async def test_commondir_of_any_shape_is_removed(box: Box, any_backend: str, shape: str) -> None:
    project = repo(box)
    script = {
        "directory": "mkdir -p .git/commondir/x",
        "symlink": "ln -s /etc/hostname .git/commondir",
        "empty": ": > .git/commondir",
    }[shape]
    result = await sh(box, script, any_backend)
    assert not os.path.lexists(project / ".git/commondir"), result.output
    assert noted(result.notes, any_backend, ".git/commondir"), f"nothing reported for a {shape} commondir"
    assert git(project, "status").returncode == 0


async def test_config_worktree_is_restored(box: Box, any_backend: str) -> None:
    project = repo(box)
    printf, pwned = evil_config(box)
    result = await sh(box, f"{printf} > .git/config.worktree", any_backend)
    assert not (project / ".git/config.worktree").exists(), result.output
    assert noted(result.notes, any_backend, ".git/config.worktree"), result.notes
    original = "[core]\n\tsparseCheckout = false\n"
    (project / ".git/config.worktree").write_text(original)
    result = await sh(box, f"{printf} >> .git/config.worktree", any_backend)
    assert (project / ".git/config.worktree").read_text() == original
    assert noted(result.notes, any_backend, "restored .git/config.worktree"), result.notes
    assert_host_git_is_clean(project, pwned)


async def test_untouched_files_give_no_notes(box: Box, any_backend: str) -> None:
    project = repo(box)
    (project / ".git/config.worktree").write_text("[core]\n")
    result = await sh(box, "git status --short", any_backend)
    assert result.notes == ()
    assert (project / ".git/config.worktree").read_text() == "[core]\n"


async def test_commondir_is_removed_after_cancellation(box: Box) -> None:
    project = repo(box)
    spec = box.spec()
    with trio.move_on_after(1.0):
        await sandbox.run(["sh", "-c", "echo ../g > .git/commondir; sleep 30"], spec, backend=usable("bwrap"))
    assert not (project / ".git/commondir").exists()


# ------------------------------------------------------------------- protected: modules, worktrees, info

PLANTS = {
    "module-hook": (
        "mkdir -p .git/modules/x/hooks && echo evil > .git/modules/x/hooks/post-checkout",
        ".git/modules/x/hooks/post-checkout",
    ),
    "module-config": ("mkdir -p .git/modules/x && {printf} > .git/modules/x/config", ".git/modules/x/config"),
    "worktree-config": (
        "mkdir -p .git/worktrees/w && {printf} > .git/worktrees/w/config.worktree",
        ".git/worktrees/w/config.worktree",
    ),
    "worktree-commondir": (
        "mkdir -p .git/worktrees/w && echo ../../../g > .git/worktrees/w/commondir",
        ".git/worktrees/w/commondir",
    ),
    "attributes": ("echo '* diff=evil filter=evil' > .git/info/attributes", ".git/info/attributes"),
    "attributes-rename": (
        "mv .git/info .git/info-old; mkdir -p .git/info && echo '* diff=x' > .git/info/attributes",
        ".git/info/attributes",
    ),
    "modules-rename": (
        "mv .git/modules .git/m-old; mkdir -p .git/modules/x/hooks && echo e > .git/modules/x/hooks/h",
        ".git/modules/x/hooks/h",
    ),
}


@pytest.mark.parametrize("attempt", sorted(PLANTS))
async def test_git_dirs_read_by_host_git_cannot_be_planted(box: Box, attempt: str) -> None:
    """bwrap keeps them read-only (placeholders when missing); zerobox keeps the whole .git read-only."""
    project = repo(box)
    printf, pwned = evil_config(box)
    script, planted = PLANTS[attempt]
    for backend in ("bwrap", "zerobox"):
        result = await sh(box, script.format(printf=printf), usable(backend))
        assert not (project / planted).exists(), f"{backend}: {attempt} planted {planted}:\n{result.output}"
        assert not (project / ".git/info-old").exists() and not (project / ".git/m-old").exists()
    assert_host_git_is_clean(project, pwned)


async def test_git_works_inside_and_on_the_host_during_and_after(box: Box) -> None:
    project = repo(box)
    (project / ".git/info").is_dir() or pytest.fail("git init made no .git/info")
    shutil.rmtree(project / ".git/info")  # so all three protected git dirs get placeholders
    script = "echo a > a.txt && git status --short && git add a.txt && git commit -qm inside && echo COMMITTED; sleep 1"
    async with trio.open_nursery() as nursery:
        results: list[sandbox.Result] = []

        async def inside() -> None:
            results.append(await sh(box, script, usable("bwrap")))

        nursery.start_soon(inside)
        await trio.sleep(0.5)  # the placeholders are in place now
        assert (project / ".git/modules").is_dir() and (project / ".git/worktrees").is_dir()
        during = git(project, "status", "--short")
        assert during.returncode == 0, during.stderr
    result = results[0]
    assert "COMMITTED" in result.output, result.output
    assert result.notes == ()
    (project / "b.txt").write_text("b\n")
    for args in (("status",), ("add", "b.txt"), ("commit", "-qm", "host")):
        done = git(project, *args)
        assert done.returncode == 0, f"git {args}: {done.stderr}"
    assert git(project, "log", "--oneline").stdout.count("\n") == 3


# --------------------------------------------------------------------------------------------- dotenv


async def test_every_root_dotenv_is_masked(box: Box, any_backend: str) -> None:
    if any_backend == "none":
        pytest.skip("no isolation: nothing is masked")
    mark = nonce()
    names = (".env.staging", ".env-prod", ".env.test.local", ".envrc", ".env")
    for name in names:
        (box.project / name).write_text(f"SECRET={mark}\n")
    (box.project / ".env.d").mkdir()
    (box.project / ".env.d/db").write_text(f"SECRET={mark}\n")
    result = await sh(box, "grep -r secret -i . 2>&1; cat .env* 2>&1; true", any_backend)
    assert mark not in result.output, result.output
    result = await sh(box, "echo X=1 >> .env.staging; echo X=1 > .env.d/new", any_backend)
    assert (box.project / ".env.staging").read_text() == f"SECRET={mark}\n"
    assert not (box.project / ".env.d/new").exists()


# ---------------------------------------------------------------------------------------- unix sockets


def _listen(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    return server


CONNECT = "import socket, sys\nprint('STARTED')\nsocket.socket(socket.AF_UNIX).connect(sys.argv[1])\nprint('CONNECTED')"


@pytest.mark.parametrize("where", ["run-user", "docker"])
async def test_host_unix_sockets_are_hidden_when_network_is_off(box: Box, where: str) -> None:
    backend = usable("bwrap")
    if where == "run-user":
        if not os.access("/run/user", os.W_OK):
            pytest.skip("cannot create a socket under /run/user here (not root)")
        directory = Path(f"/run/user/{4_000_000 + int(nonce()) % 1000}")
        directory.mkdir()
        path = directory / "bus"
    else:
        path = Path("/run/docker.sock")
        if path.exists() or not os.access("/run", os.W_OK):
            pytest.skip("a real /run/docker.sock exists here, or /run is not writable")
        directory = None
    server = _listen(path)
    try:
        for network, reachable in ((False, False), (True, True)):
            spec = box.spec(network=network)
            result = await sandbox.run([PY, "-c", CONNECT, str(path)], spec, backend=backend)
            assert "STARTED" in result.output, result.output
            assert ("CONNECTED" in result.output) == reachable, f"network={network}: {result.output}"
    finally:
        server.close()
        path.unlink()
        if directory is not None:
            directory.rmdir()


def test_the_cli_and_the_agent_show_what_was_undone(tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    project = tmp_path / "p"
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    done = subprocess.run([sys.executable, "-m", "agent.cli", "sandbox", "run", "--sandbox", "bwrap", "--", "sh", "-c",
                           "echo ../g > .git/commondir"], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(repo)}, timeout=60)
    assert "commondir" in done.stderr and not (project / ".git" / "commondir").exists()
