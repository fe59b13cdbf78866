"""The sandbox's guarantees (design.md, "The sandbox — guarantees we want"), each one a real escape attempt
run through ``sandbox.run`` on every backend that works here.

Every check that something did not escape is made on the host side, after the command ended: a command
that "fails" but still left a file behind, or "succeeds" without leaving one, is judged by what the host
sees.
"""

# Host-side checks are small blocking filesystem calls made on purpose between awaits.
# ruff: noqa: ASYNC240, ASYNC220

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

import sandbox
from tests.sandbox.helpers import (
    PY,
    REPO,
    Box,
    daemons_script,
    kill_marked,
    marked,
    marked_sleeps,
    nonce,
    usable,
    wait_until,
    wait_until_sync,
)

RAN = "__corral_ran__"


async def sh(
    spec: sandbox.Spec, script: str, backend: str, on_output: Callable[[bytes], None] | None = None,
    *, sentinel: bool = True,
) -> sandbox.Result:
    """Run ``script`` with sh. With ``sentinel``, the script first prints a marker and the call asserts that
    it did: an escape attempt that "fails" because the sandbox never started proves nothing."""
    if sentinel:
        script = f"echo {RAN}; {script}"
    result = await sandbox.run(["sh", "-c", script], spec, backend=backend, on_output=on_output)  # type: ignore[arg-type]
    if sentinel:
        assert RAN in result.output, f"the command did not run at all under {backend}:\n{result.output}"
    return result


# --------------------------------------------------------------------------------------------- basics


async def test_exit_code_cwd_and_merged_output(box: Box, backend: str) -> None:
    sub = box.project / "sub"
    sub.mkdir()
    result = await sh(box.spec(cwd=sub), "pwd; echo to-stderr >&2; exit 7", backend)
    assert result.exit_code == 7
    assert not result.timed_out
    assert result.backend == backend
    assert str(sub) in result.output
    assert "to-stderr" in result.output


# ------------------------------------------------------------------------------------ filesystem writes


async def test_writes_inside_the_project_succeed(box: Box, backend: str) -> None:
    result = await sh(box.spec(), "mkdir -p a/b && echo inside > a/b/f.txt && echo more >> README.md", backend)
    assert result.exit_code == 0, result.output
    assert (box.project / "a/b/f.txt").read_text() == "inside\n"
    assert (box.project / "README.md").read_text() == "hello\nmore\n"


async def test_writes_outside_the_project_fail(box: Box, backend: str) -> None:
    mark = nonce()
    targets = [
        box.home / f"x-{mark}",  # the spec's home
        Path.home() / f"corral-x-{mark}",  # the real home
        Path(f"/etc/corral-x-{mark}"),
        Path(f"/usr/corral-x-{mark}"),
        Path(f"/var/tmp/corral-x-{mark}"),
        box.outside / f"x-{mark}",  # a sibling of the project
        box.project.parent / f"x-{mark}",
    ]
    try:
        for target in targets:
            result = await sh(box.spec(), f'echo x > "{target}" || exit 3; touch "{target}.t"', backend)
            assert result.exit_code != 0, f"writing {target} succeeded inside the sandbox"
            assert not target.exists(), f"{target} was created on the host"
            assert not Path(f"{target}.t").exists(), f"{target}.t was created on the host"
    finally:
        for target in targets:
            for p in (target, Path(f"{target}.t")):
                p.unlink(missing_ok=True)


async def test_existing_files_outside_cannot_be_modified_or_removed(box: Box, backend: str) -> None:
    victim = box.outside / "victim.txt"
    victim.write_text("original\n")
    result = await sh(box.spec(), f'echo evil >> "{victim}"; rm -f "{victim}"; mv "{victim}" "{victim}.moved"', backend)
    assert victim.read_text() == "original\n", result.output
    assert not Path(f"{victim}.moved").exists()


async def test_tmp_is_private(box: Box, backend: str, request: pytest.FixtureRequest) -> None:
    if backend == "zerobox":
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "docs/SANDBOX.md: zerobox cannot mount a tmpfs at /tmp; the host /tmp is hidden and read-only and "
            "the command gets a private writable $TMPDIR instead, so writing /tmp/... fails")))
    mark = nonce()
    inside_file = Path(f"/tmp/corral-private-{mark}")
    host_file = Path(f"/tmp/corral-host-{mark}")
    host_file.write_text(f"host-secret-{mark}\n")
    try:
        result = await sh(box.spec(), f'echo x > "{inside_file}" && cat "{inside_file}"; cat "{host_file}"', backend)
        assert "x" in result.output.splitlines(), f"/tmp is not writable inside: {result.output!r}"
        assert not inside_file.exists(), "a file written to /tmp inside appeared in the host's /tmp"
        assert f"host-secret-{mark}" not in result.output, "the host's /tmp is visible inside"
    finally:
        inside_file.unlink(missing_ok=True)
        host_file.unlink(missing_ok=True)


async def test_project_under_tmp_is_still_writable(tmp_path: Path, backend: str,
                                                   request: pytest.FixtureRequest) -> None:
    """A project that lives under /tmp must not disappear behind the private /tmp."""
    if backend == "zerobox":
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "open gap (issue 3): this test's home is under /tmp too, and zerobox refuses to create its "
            "helper alias under a temporary dir (HOME=spec.home), so the command never starts")))

    project = tmp_path / "proj"
    project.mkdir()
    spec = sandbox.Spec(project=project, cwd=project, home=tmp_path / "home", log_dir=tmp_path)
    result = await sh(spec, "echo ok > made.txt", backend)
    assert result.exit_code == 0, result.output
    assert (project / "made.txt").read_text() == "ok\n"


async def test_read_only_profile_writes_nothing(box: Box, backend: str) -> None:
    spec = box.spec(profile=sandbox.Profile.READ_ONLY)
    attempts = {
        "create": "echo x > new.txt",
        "append": "echo x >> README.md",
        "mkdir": "mkdir newdir",
        "rm": "rm -f README.md",
        "mv": "mv README.md moved.md",
        "home": f'echo x > "{box.home}/x"',
    }
    for what, script in attempts.items():
        result = await sh(spec, script, backend)
        assert result.exit_code != 0, f"read-only profile allowed {what}: {script}"
    assert sorted(p.name for p in box.project.iterdir()) == ["README.md"]
    assert (box.project / "README.md").read_text() == "hello\n"
    assert not (box.home / "x").exists()
    # reading still works
    result = await sh(spec, "cat README.md", backend)
    assert result.exit_code == 0 and "hello" in result.output


# ------------------------------------------------------------------------------------- protected paths


def _git_project(box: Box) -> None:
    (box.project / ".git").mkdir()
    (box.project / ".git/config").write_text("[core]\n\tbare = false\n")
    (box.project / ".git/HEAD").write_text("ref: refs/heads/main\n")


PLANTS = {
    "hook": ("mkdir -p .git/hooks && echo evil > .git/hooks/pre-commit", ".git/hooks/pre-commit"),
    "hook-ln": ('mkdir -p .git/hooks; echo evil > evil.sh; ln -s "$PWD/evil.sh" .git/hooks/pre-commit',
                ".git/hooks/pre-commit"),
    "hooks-dir-ln": ("mkdir evil; echo evil > evil/pre-commit; ln -s \"$PWD/evil\" .git/hooks",
                     ".git/hooks/pre-commit"),
    "hook-cp": ("mkdir -p evil/hooks; echo evil > evil/hooks/pre-commit; cp -r evil/hooks .git/",
                ".git/hooks/pre-commit"),
    "hook-mv": ("mkdir -p evil/hooks; echo evil > evil/hooks/pre-commit; mv evil/hooks .git/hooks",
                ".git/hooks/pre-commit"),
    "hook-via-link-outside": ("ln -s .git/hooks h; mkdir -p h; echo evil > h/pre-commit", ".git/hooks/pre-commit"),
    "git-renamed": ("mv .git .git-old; mkdir -p .git/hooks; echo evil > .git/hooks/pre-commit",
                    ".git/hooks/pre-commit"),
    "git-copied": ("mv .git .git-old && cp -r .git-old .git; mkdir -p .git/hooks; echo evil > .git/hooks/pre-commit",
                   ".git/hooks/pre-commit"),
    "git-removed": ("rm -rf .git; mkdir -p .git/hooks; echo evil > .git/hooks/pre-commit",
                    ".git/hooks/pre-commit"),
    "corral": ("mkdir .corral; echo evil > .corral/policy.toml", ".corral/policy.toml"),
    "corral-ln": ("mkdir evil; echo evil > evil/policy.toml; ln -s evil .corral", ".corral/policy.toml"),
    "corral-mv": ("mkdir evil; echo evil > evil/policy.toml; mv evil .corral", ".corral/policy.toml"),
    "corral-cp": ("mkdir evil; echo evil > evil/policy.toml; cp -r evil .corral", ".corral/policy.toml"),
    "claude": ("mkdir -p .claude && echo evil > .claude/settings.json", ".claude/settings.json"),
    "claude-ln": ("echo evil > s.json; mkdir -p .claude; ln -s ../s.json .claude/settings.json",
                  ".claude/settings.json"),
    "vscode": ("mkdir -p .vscode && echo evil > .vscode/tasks.json", ".vscode/tasks.json"),
    "cursor": ("mkdir -p .cursor && echo evil > .cursor/mcp.json", ".cursor/mcp.json"),
}


@pytest.mark.parametrize("attempt", sorted(PLANTS))
async def test_protected_paths_cannot_be_planted(box: Box, backend: str, attempt: str) -> None:
    _git_project(box)
    script, planted = PLANTS[attempt]
    result = await sh(box.spec(), script, backend)
    target = box.project / planted
    assert not target.exists(), f"{attempt}: {planted} exists on the host after `{script}`:\n{result.output}"
    assert not target.is_symlink(), f"{attempt}: {planted} is a symlink on the host"
    assert (box.project / ".git/config").read_text() == "[core]\n\tbare = false\n"
    assert not (box.project / ".git-old").exists(), f"{attempt}: the protected .git was renamed away"


async def test_git_config_cannot_be_modified(box: Box, backend: str) -> None:
    _git_project(box)
    original = (box.project / ".git/config").read_text()
    scripts = [
        "echo '[core] fsmonitor = evil' >> .git/config",
        "echo '[core] fsmonitor = evil' > .git/config",
        "printf '[core]\\nfsmonitor=evil\\n' > c; mv c .git/config",
        "printf '[core]\\nfsmonitor=evil\\n' > c; cp c .git/config",
        "rm -f .git/config; printf '[core]\\nfsmonitor=evil\\n' > .git/config",
        "git config core.fsmonitor evil",
        "mv .git .git-old && cp -r .git-old .git && echo '[core] fsmonitor = evil' >> .git/config",
    ]
    for script in scripts:
        result = await sh(box.spec(), script, backend)
        assert (box.project / ".git/config").read_text() == original, f"`{script}` changed .git/config: {result.output}"


@pytest.mark.parametrize(
    "script",
    [
        "mkdir -p .git/hooks && echo evil > .git/hooks/pre-commit",
        "mkdir .git && printf '[core]\\nfsmonitor=evil\\n' > .git/config",
        "mkdir -p evil/hooks && echo evil > evil/hooks/pre-commit && echo '[core]' > evil/config && mv evil .git",
        "mkdir -p evil/hooks && echo evil > evil/hooks/pre-commit && echo '[core]' > evil/config && ln -s evil .git",
        "git init -q .",
    ],
)
async def test_git_cannot_be_planted_when_the_project_has_none(box: Box, backend: str, script: str) -> None:
    result = await sh(box.spec(), script, backend)
    for planted in (".git/hooks/pre-commit", ".git/config"):
        path = box.project / planted
        assert not path.exists(), f"`{script}` planted {planted} in a project without .git:\n{result.output}"


RUN_ELSEWHERE = """
import sys, trio, sandbox
from pathlib import Path
project, home, backend, seconds = sys.argv[1:]
spec = sandbox.Spec(project=Path(project), cwd=Path(project), home=Path(home), linger=0)
trio.run(lambda: sandbox.run(["sleep", seconds], spec, backend=backend))
"""


@pytest.mark.parametrize("where", ["same-process", "other-process"])
async def test_concurrent_runs_cannot_plant_through_each_others_placeholders(
    box: Box, backend: str, where: str
) -> None:
    """Run B starts while run A (here, or in another corral) holds the placeholders of missing protected
    names; A ends; B then tries to plant them. Removing a placeholder that B has mounted would detach B's
    read-only mount."""
    spec = box.spec(linger=0)
    a_done = box.project / "a-done"
    script = (
        f"while [ ! -e {a_done.name} ]; do sleep 0.02; done; "
        "mkdir -p .corral && echo evil > .corral/config.toml; "
        "mkdir -p .git/hooks && echo evil > .git/hooks/pre-commit; "
        "rmdir .env; echo KEY=stolen > .env; mkdir -p .claude && echo evil > .claude/settings.json"
    )
    results: list[sandbox.Result] = []

    async def run_a() -> None:
        if where == "same-process":
            await sandbox.run(["sleep", "0.4"], spec, backend=backend)  # type: ignore[arg-type]
        else:
            await trio.run_process([sys.executable, "-c", RUN_ELSEWHERE, str(box.project), str(box.home), backend,
                                    "0.4"], env={**os.environ, "PYTHONPATH": str(REPO)})
        a_done.write_text("")

    async def run_b() -> None:
        await trio.sleep(0.2 if where == "same-process" else 0.5)  # a fresh interpreter takes a while
        results.append(await sh(spec, script, backend))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_a)
        nursery.start_soon(run_b)
    for planted in (".corral/config.toml", ".git/hooks/pre-commit", ".claude/settings.json", ".env"):
        assert not (box.project / planted).is_file(), f"{planted} planted after a concurrent run ended:\n{results}"
    # The last run out removed every placeholder.
    assert sorted(p.name for p in box.project.iterdir()) == ["README.md", "a-done"]


async def test_placeholders_leave_no_trace_and_keep_the_users_own_empty_dirs(box: Box, backend: str) -> None:
    (box.project / ".vscode").mkdir()  # the user's own, empty
    before = sorted(p.name for p in box.project.iterdir())
    await sh(box.spec(linger=0), "ls -a", backend)
    assert sorted(p.name for p in box.project.iterdir()) == before


async def test_placeholders_linger_briefly_then_go(box: Box, backend: str) -> None:
    spec = box.spec(linger=0.3)
    await sh(spec, "true", backend)
    assert (box.project / ".corral").is_dir(), "placeholders should stay for a burst of commands"
    await sh(spec, "mkdir -p .corral && echo evil > .corral/config.toml", backend)
    assert not (box.project / ".corral/config.toml").exists()
    await trio.sleep(0.6)
    assert sorted(p.name for p in box.project.iterdir()) == ["README.md"]


CRASH_HOLDING_PLACEHOLDERS = """
import os, sys, trio
from pathlib import Path
import sandbox
from sandbox import _placeholders
project, home, zerobox = sys.argv[1:]
spec = sandbox.Spec(project=Path(project), cwd=Path(project), home=Path(home))
trio.run(lambda: _placeholders.acquire(spec, zerobox=zerobox == "1"))
os._exit(0)  # no release: as if SIGKILLed mid-run
"""


async def test_placeholders_left_by_a_killed_corral_are_removed_by_the_next_run(box: Box, backend: str) -> None:
    await trio.run_process([sys.executable, "-c", CRASH_HOLDING_PLACEHOLDERS, str(box.project), str(box.home),
                            "1" if backend == "zerobox" else "0"], env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (box.project / ".corral").is_dir() and (box.project / ".env").is_dir()
    await sh(box.spec(linger=0), "true", backend)
    assert sorted(p.name for p in box.project.iterdir()) == ["README.md"]


# --------------------------------------------------------------------------------------------- secrets

HOME_SECRETS = {
    ".ssh/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY----- {m}",
    ".aws/credentials": "[default]\naws_secret_access_key = {m}",
    ".netrc": "machine example.com login me password {m}",
    ".config/gh/hosts.yml": "github.com:\n  oauth_token: {m}",
    ".gnupg/private-keys-v1.d/key.key": "{m}",
    ".docker/config.json": '{{"auths": {{"x": {{"auth": "{m}"}}}}}}',
    ".kube/config": "token: {m}",
    ".git-credentials": "https://me:{m}@example.com",
}


async def test_home_secrets_are_masked(box: Box, backend: str) -> None:
    mark = nonce()
    for rel, content in HOME_SECRETS.items():
        path = box.home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content.format(m=mark) + "\n")
    (box.home / "notes.txt").write_text("not a secret\n")
    paths = " ".join(f'"{box.home / rel}"' for rel in HOME_SECRETS)
    script = f'cat {paths} 2>&1; grep -r "{mark}" "{box.home}" 2>&1; find "{box.home}" -type f 2>&1; true'
    result = await sh(box.spec(), script, backend)
    assert mark not in result.output, f"a secret under the spec's home was readable:\n{result.output}"
    # the home itself is not hidden wholesale: ordinary files stay readable
    result = await sh(box.spec(), f'cat "{box.home}/notes.txt"', backend)
    assert "not a secret" in result.output


async def test_corral_own_config_and_data_are_masked(box: Box, backend: str) -> None:
    mark = nonce()
    for rel in (".config/corral/config.toml", ".local/share/corral/sessions/s.json", ".local/state/corral/log"):
        path = box.home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"api_key = {mark}\n")
    result = await sh(box.spec(), f'grep -r "{mark}" "{box.home}" 2>&1; true', backend)
    assert mark not in result.output, result.output


async def test_other_users_homes_are_masked(box: Box, backend: str) -> None:
    mark = nonce()
    other = Path(f"/home/corral-test-{nonce()}")
    other.mkdir(parents=True)
    try:
        (other / ".bash_history").write_text(f"export TOKEN={mark}\n")
        result = await sh(box.spec(), f'cat "{other}/.bash_history"; grep -r "{mark}" /home 2>&1; true', backend)
        assert mark not in result.output, result.output
    finally:
        import shutil

        shutil.rmtree(other, ignore_errors=True)


async def test_dotenv_in_project_is_masked(box: Box, backend: str) -> None:
    """The contract lists .env in protected_in_project and the library masks secret-like entries."""
    mark = nonce()
    (box.project / ".env").write_text(f"DATABASE_PASSWORD={mark}\n")
    (box.project / ".env.local").write_text(f"API_KEY={mark}\n")
    result = await sh(box.spec(), "cat .env .env.local 2>&1; grep -r . .env* 2>&1; true", backend)
    assert mark not in result.output, result.output
    result = await sh(box.spec(), "echo X=1 >> .env; echo Y > .env.production", backend)
    assert (box.project / ".env").read_text() == f"DATABASE_PASSWORD={mark}\n"
    planted = box.project / ".env.production"  # at most the empty placeholder, lingering for a moment
    assert not planted.exists() or (planted.is_dir() and not any(planted.iterdir()))


# --------------------------------------------------------------------------------------------- network

CONNECT = (
    "import socket, sys\n"
    "print('STARTED', flush=True)\n"
    "s = socket.create_connection(('127.0.0.1', {port}), 2)\n"
    "print('CONNECTED')\n"
)


async def _connect_attempt(box: Box, backend: str, network: bool) -> tuple[sandbox.Result, int]:
    accepted = 0

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal accepted
        accepted += 1
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        result = await sandbox.run([PY, "-c", CONNECT.format(port=port)], box.spec(network=network), backend=backend)
        await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    return result, accepted


async def test_network_is_off_by_default(box: Box, backend: str) -> None:
    result, accepted = await _connect_attempt(box, backend, network=False)
    assert "STARTED" in result.output, result.output
    assert "CONNECTED" not in result.output
    assert result.exit_code != 0
    assert accepted == 0


async def test_network_can_be_granted(box: Box, backend: str) -> None:
    result, accepted = await _connect_attempt(box, backend, network=True)
    assert "CONNECTED" in result.output, result.output
    assert accepted == 1


async def test_abstract_unix_sockets_outside_are_unreachable(box: Box, backend: str) -> None:
    """Abstract unix sockets (dbus, X11, container runtimes use them) belong to the network namespace."""
    name = f"\0corral-test-{nonce()}"
    server = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await server.bind(name)
    server.listen(1)
    code = f"import socket\nprint('STARTED')\nsocket.socket(socket.AF_UNIX).connect({name!r})\nprint('CONNECTED')"
    try:
        result = await sandbox.run([PY, "-c", code], box.spec(), backend=backend)
    finally:
        server.close()
    assert "STARTED" in result.output, result.output
    assert "CONNECTED" not in result.output, "an abstract unix socket outside was reachable with network off"


# ------------------------------------------------------------------------------------------ environment

SECRET_VARS = {
    "OPENAI_API_KEY": "sk-openai-{m}",
    "MY_SECRET_TOKEN": "tok-{m}",
    "AWS_SECRET_ACCESS_KEY": "aws-{m}",
    "ANTHROPIC_API_KEY": "sk-ant-{m}",
    "DB_PASSWORD": "pw-{m}",
}


async def test_environment_is_an_allowlist_and_secrets_never_pass(
    box: Box, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = nonce()
    for name, value in SECRET_VARS.items():
        monkeypatch.setenv(name, value.format(m=mark))
    monkeypatch.setenv("CORRAL_UNLISTED", f"unlisted-{mark}")
    monkeypatch.setenv("CORRAL_HARMLESS", "harmless-value")
    monkeypatch.setenv("LANG", "C.UTF-8")
    spec = box.spec(
        env_allow=(*sandbox.DEFAULT_ENV_ALLOW, *SECRET_VARS, "CORRAL_HARMLESS"),
        extra_env={"GITHUB_TOKEN": f"gh-{mark}", "MY_API_KEY": f"k-{mark}", "CORRAL_EXTRA": "extra-value"},
    )
    result = await sh(spec, "env; echo ---; cat /proc/self/environ | tr '\\0' '\\n'", backend)
    assert result.exit_code == 0, result.output
    assert mark not in result.output, f"a secret value reached the command:\n{result.output}"
    names = {line.split("=", 1)[0] for line in result.output.splitlines() if "=" in line}
    for leaked in (*SECRET_VARS, "GITHUB_TOKEN", "MY_API_KEY", "CORRAL_UNLISTED"):
        assert leaked not in names, f"{leaked} passed into the sandbox"
    for passed in ("PATH", "HOME", "LANG", "CORRAL_HARMLESS", "CORRAL_EXTRA"):
        assert passed in names, f"{passed} should pass:\n{result.output}"
    assert "LANG=C.UTF-8" in result.output


# --------------------------------------------------------------------------------------- PID namespace


async def test_host_processes_are_invisible(box: Box, backend: str) -> None:
    result = await sh(box.spec(), "for p in /proc/[0-9]*; do echo pid:${p#/proc/}; done", backend)
    pids = [int(line[4:]) for line in result.output.splitlines() if line.startswith("pid:")]
    assert pids, result.output
    assert len(pids) <= 10, f"{len(pids)} processes visible inside: host processes are not hidden"
    assert os.getpid() not in pids


async def test_host_processes_are_unkillable(box: Box, backend: str) -> None:
    victim = subprocess.Popen(["sleep", "60"])
    try:
        result = await sh(box.spec(), f"kill -9 {victim.pid} {os.getpid()}; echo rc=$?", backend)
        await trio.sleep(0.1)
        assert victim.poll() is None, f"a host process was killed from inside:\n{result.output}"
        assert "rc=0" not in result.output
    finally:
        victim.kill()
        victim.wait()


async def test_host_environ_is_unreadable_through_proc(
    box: Box, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = nonce()
    monkeypatch.setenv("CORRAL_HOST_MARKER", mark)
    monkeypatch.setenv("OPENAI_API_KEY", f"sk-{mark}")
    script = (
        f"cat /proc/1/environ /proc/{os.getpid()}/environ /proc/{os.getppid()}/environ 2>/dev/null | tr '\\0' '\\n';"
        " for p in /proc/[0-9]*; do cat $p/environ 2>/dev/null | tr '\\0' '\\n'; done; true"
    )
    result = await sh(box.spec(), script, backend)
    assert mark not in result.output, f"the host environment is readable through /proc inside:\n{result.output}"


# ---------------------------------------------------------------------------------- exact cancellation


async def _assert_all_gone(mark: str) -> float:
    """Seconds until no process tagged ``mark`` is left (at most 1 s, else the test fails)."""
    t0 = time.monotonic()
    gone = await wait_until(lambda: not marked(mark), 1.0)
    survivors = marked(mark)
    details = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in survivors if Path(f"/proc/{pid}").exists()}
    kill_marked(mark)
    assert gone, f"processes survived: {details}"
    return time.monotonic() - t0


@pytest.mark.parametrize("which", ["bwrap", "zerobox", "none"])
async def test_cancellation_kills_every_descendant(box: Box, which: str) -> None:
    backend = usable(which)
    mark = nonce()
    script, n = daemons_script(mark)
    returned = False
    try:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:

                async def canceller() -> None:
                    started = await wait_until(lambda: len(marked_sleeps(mark)) >= n, 10)
                    assert started, f"only {len(marked_sleeps(mark))} of {n} sleeps started"
                    await trio.sleep(0.5)
                    nonlocal t_cancel
                    t_cancel = time.monotonic()
                    scope.cancel()

                t_cancel = 0.0
                nursery.start_soon(canceller)
                await sh(box.spec(timeout=60), script, backend)
                returned = True
        t_back = time.monotonic() - t_cancel
        assert scope.cancelled_caught
        assert not returned, "run() returned a Result after cancellation: Cancelled was swallowed"
        assert t_back < 1.0, f"run() took {t_back:.3f}s to give back control after cancel"
        await _assert_all_gone(mark)
    finally:
        kill_marked(mark)


@pytest.mark.parametrize("which", ["bwrap", "zerobox", "none"])
async def test_timeout_kills_every_descendant(box: Box, which: str) -> None:
    backend = usable(which)
    mark = nonce()
    script, _ = daemons_script(mark)
    try:
        t0 = time.monotonic()
        result = await sh(box.spec(timeout=1.0), script, backend)
        elapsed = time.monotonic() - t0
        assert result.timed_out
        assert result.exit_code == 124
        assert elapsed < 3.0, f"a 1 s timeout took {elapsed:.2f}s"
        await _assert_all_gone(mark)
    finally:
        kill_marked(mark)


@pytest.mark.parametrize("which", ["bwrap", "zerobox", "none"])
async def test_background_leftovers_do_not_hang_or_survive(
    box: Box, which: str
) -> None:
    """A command that exits leaving a daemon holding its stdout: run() returns, the daemon dies."""
    backend = usable(which)
    mark = nonce()
    try:
        with trio.fail_after(10):
            result = await sh(box.spec(timeout=30), f"setsid sleep 1000.{mark} & echo started", backend)
        assert result.exit_code == 0
        assert "started" in result.output
        await _assert_all_gone(mark)
    finally:
        kill_marked(mark)


PARENT_SCRIPT = """
import os, signal, sys
from pathlib import Path
import trio
import sandbox

mark = os.environ["MARK"]
backend = os.environ["BACKEND"]
spec = sandbox.Spec(project=Path(os.environ["PROJECT"]), cwd=Path(os.environ["PROJECT"]),
                    home=Path(os.environ["FAKE_HOME"]), timeout=60)
script = os.environ["SCRIPT"]
try:
    trio.run(lambda: sandbox.run(["sh", "-c", script], spec, backend=backend))
except KeyboardInterrupt:
    sys.exit(130)
"""


NO_DEATH_SIGNAL = {
    "zerobox": "docs/SANDBOX.md: zerobox dies with corral but its zerobox-linux-sandbox child has no death "
               "signal and keeps the whole sandbox (bwrap, PID namespace, every process) alive",
    "none": "docs/SANDBOX.md: without a sandbox only the direct child has PDEATHSIG; the subreaper dies with "
            "corral, so setsid/nohup/double-forked descendants are reparented to init and survive",
}


def _kill_params() -> list[object]:
    params: list[object] = []
    for which in ("bwrap", "zerobox", "none"):
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            marks = []
            if which in NO_DEATH_SIGNAL and sig is not signal.SIGINT:  # SIGINT is handled: trio cancels the run
                marks.append(pytest.mark.xfail(strict=True, reason=NO_DEATH_SIGNAL[which]))
            params.append(pytest.param(which, sig, id=f"{which}-{sig.name}", marks=marks))
    return params


@pytest.mark.parametrize(("which", "sig"), _kill_params())
def test_killing_corral_kills_every_descendant(
    box: Box, which: str, sig: signal.Signals
) -> None:
    backend = usable(which)
    mark = nonce()
    script, n = daemons_script(mark)
    env = {
        "PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "MARK": mark, "BACKEND": backend,
        "PROJECT": str(box.project), "FAKE_HOME": str(box.home), "SCRIPT": script, "HOME": os.environ["HOME"],
    }
    parent = subprocess.Popen([sys.executable, "-c", PARENT_SCRIPT], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        started = wait_until_sync(lambda: len(marked_sleeps(mark)) >= n, 15)
        assert started, f"sleeps did not start: {parent.poll()=} {marked(mark)}"
        time.sleep(0.3)
        parent.send_signal(sig)
        parent.wait(timeout=5)
        gone = wait_until_sync(lambda: not marked(mark), 1.0)
        survivors = marked(mark)
        details = [Path(f"/proc/{p}/cmdline").read_bytes() for p in survivors if Path(f"/proc/{p}").exists()]
        assert gone, f"after {sig.name} of corral, processes survived: {details}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stderr:
            parent.stderr.close()
        kill_marked(mark)


# ----------------------------------------------------------------------------------------------- output


async def test_flood_is_capped_in_memory_and_kept_on_disk(box: Box, backend: str) -> None:
    total = 50_000_000
    chunks: list[int] = []
    spec = box.spec()
    result = await sandbox.run(["sh", "-c", f"head -c {total} /dev/zero | tr '\\0' y"], spec, backend=backend,
                               on_output=lambda b: chunks.append(len(b)))
    assert result.exit_code == 0
    assert result.truncated
    assert result.total_bytes == total
    assert len(result.output.encode()) <= spec.output_cap + 512, len(result.output)
    assert "omitted" in result.output
    assert sum(chunks) == total
    assert result.log_path.stat().st_size == total
    assert result.log_path.read_bytes() == b"y" * total
    assert result.log_path.is_relative_to(box.logs)


async def test_sigpipe_has_its_default_action(box: Box, backend: str, request: pytest.FixtureRequest) -> None:
    """`yes | head` must end quietly: a backend that leaves SIGPIPE ignored makes pipelines misbehave."""
    result = await sh(box.spec(), "yes | head -c 10 >/dev/null; grep SigIgn /proc/self/status", backend)
    assert "Broken pipe" not in result.output, result.output
    ignored = int(result.output.split("SigIgn:")[1].split()[0], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1)), f"SIGPIPE is ignored inside: {result.output}"


async def test_works_when_home_is_not_the_passwd_home(box: Box, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """HOME set to another directory (CI, sudo -E, tests): the passwd home becomes "another user's home"."""
    monkeypatch.setenv("HOME", str(box.home))
    result = await sh(sandbox.Spec(project=box.project, cwd=box.project, log_dir=box.logs), "echo ok", backend)
    assert result.exit_code == 0, result.output


async def test_truncated_output_keeps_head_and_tail(box: Box, backend: str) -> None:
    result = await sh(box.spec(output_cap=4096), "echo HEAD-MARK; yes | head -c 100000; echo; echo TAIL-MARK", backend,
                      sentinel=False)
    assert result.truncated
    assert result.output.startswith("HEAD-MARK")
    assert result.output.rstrip().endswith("TAIL-MARK")
    assert len(result.output.encode()) <= 4096 + 512


async def test_output_is_streamed_as_it_comes(box: Box, backend: str) -> None:
    arrivals: list[tuple[float, bytes]] = []
    result = await sh(box.spec(), "echo first; sleep 1; echo second", backend,
                      on_output=lambda b: arrivals.append((time.monotonic(), b)), sentinel=False)
    t_end = time.monotonic()
    assert result.exit_code == 0
    assert not result.truncated
    assert b"".join(b for _, b in arrivals) == b"first\nsecond\n"
    assert b"first" in arrivals[0][1]
    assert arrivals[0][0] < t_end - 0.7, "the first chunk arrived only when the process ended"
    assert result.log_path.read_bytes() == b"first\nsecond\n"


# -------------------------------------------------------------------------------------- backend "none"


async def test_explicit_none_runs_and_says_so(box: Box) -> None:
    result = await sh(box.spec(), "echo hi; exit 3", "none")
    assert result.backend == "none"
    assert result.exit_code == 3
    assert "hi" in result.output


# ------------------------------------------------------------------------------------- choosing backends

CHOOSE = """
import sandbox
try:
    print("CHOSE", sandbox.choose_backend({req!r}))
except sandbox.SandboxError as exc:
    print("ERROR", type(exc).__name__, exc)
"""


def _choose_in_subprocess(req: str, tmp_path: Path, **extra_env: str) -> str:
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    env = {"PATH": str(empty), "PYTHONPATH": str(REPO), "HOME": str(tmp_path), **extra_env}
    out = subprocess.run([sys.executable, "-c", CHOOSE.format(req=req)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_requesting_missing_bwrap_says_how_to_install_or_opt_out(tmp_path: Path) -> None:
    out = _choose_in_subprocess("bwrap", tmp_path)
    assert out.startswith("ERROR"), f"bwrap was chosen with a PATH lacking it: {out}"
    assert "bubblewrap" in out, out
    assert "install" in out.lower(), out
    assert "--sandbox none" in out, out


def test_auto_without_any_backend_refuses_with_an_actionable_message(tmp_path: Path) -> None:
    out = _choose_in_subprocess("auto", tmp_path, ZEROBOX_BIN=str(tmp_path / "no-such-zerobox"))
    if out.startswith("CHOSE zerobox"):
        pytest.skip("the library finds zerobox without PATH or ZEROBOX_BIN: cannot make it unavailable here")
    assert out.startswith("ERROR NoBackendError"), out
    assert "bubblewrap" in out and "zerobox" in out, out
    assert "--sandbox none" in out, out
