"""The audit log: real files under tmp_path, real threads and processes, /dev/full for a full disk."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent.audit import MAX_VALUE_BYTES, AuditLog, default_audit_path, summarise_args, truncate

REPO = Path(__file__).resolve().parents[2]


def lines_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_default_path(tmp_path: Path) -> None:
    assert default_audit_path("s1", {"XDG_DATA_HOME": "/data", "HOME": "/h"}) == Path(
        "/data/corral/sessions/s1/audit.jsonl")
    assert default_audit_path("s1", {"HOME": "/h"}) == Path("/h/.local/share/corral/sessions/s1/audit.jsonl")
    assert default_audit_path("s1", {"XDG_DATA_HOME": "rel", "HOME": "/h"}).is_relative_to("/h/.local/share")
    for bad in ("", "..", "a/b", "."):
        with pytest.raises(ValueError):
            default_audit_path(bad, {"HOME": "/h"})


def test_records_are_json_lines_with_every_field(tmp_path: Path) -> None:
    path = default_audit_path("sess-1", {"XDG_DATA_HOME": str(tmp_path / "data")})
    with AuditLog(path) as log:
        assert log.record(tool="bash", args={"command": "git status"}, decision="allow", reason="read-only",
                          rule=None, mode="standard", approved_by="mode")
        assert log.record(tool="write", args={"path": "/etc/passwd", "content": "x"}, decision="ask", final="deny",
                          reason="outside the project", rule="outside", mode="guarded", approved_by="headless")
        assert log.record(tool="read", args={"path": ".env"}, decision="deny", reason="protected",
                          rule="protected-secrets", mode="yolo")
    first, second, third = lines_of(path)
    assert set(first) == {"ts", "session", "tool", "args", "decision", "final", "reason", "rule", "mode",
                          "approved_by"}
    assert first["session"] == "sess-1" and first["tool"] == "bash"
    assert first["args"] == {"command": "git status"}
    assert (first["decision"], first["final"], first["approved_by"]) == ("allow", "allow", "mode")
    ts = str(first["ts"])
    assert ts.endswith("Z") and "T" in ts
    assert (second["decision"], second["final"], second["approved_by"]) == ("ask", "deny", "headless-deny")
    assert (third["decision"], third["final"], third["approved_by"], third["rule"]) == (
        "deny", "deny", None, "protected-secrets")


def test_policy_enums_are_accepted(tmp_path: Path) -> None:
    from policy import Decision, Mode

    with AuditLog(tmp_path / "s" / "audit.jsonl", session="explicit") as log:
        log.record(tool="bash", args={"command": "rm -rf x"}, decision=Decision.ASK, final=Decision.ALLOW,
                   mode=Mode.READ_ONLY, approved_by="user")
        log.record(tool="bash", args={"command": "ls"}, decision="allow", session="child-1")
    first, second = lines_of(tmp_path / "s" / "audit.jsonl")
    assert (first["decision"], first["final"], first["mode"], first["session"]) == (
        "ask", "allow", "read-only", "explicit")
    assert second["session"] == "child-1"


def test_ask_needs_a_final_decision(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a" / "audit.jsonl") as log:
        with pytest.raises(ValueError):
            log.record(tool="bash", args={}, decision="ask")
        with pytest.raises(ValueError):
            log.record(tool="bash", args={}, decision="maybe", final="allow")


def test_permissions(tmp_path: Path) -> None:
    path = tmp_path / "data" / "corral" / "sessions" / "s" / "audit.jsonl"
    old = os.umask(0o022)
    try:
        with AuditLog(path) as log:
            log.record(tool="bash", args={"command": "ls"}, decision="allow")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (path.parent, path.parent.parent, tmp_path / "data" / "corral", tmp_path / "data"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    # an existing, too-open log is tightened
    loose = tmp_path / "loose" / "audit.jsonl"
    loose.parent.mkdir()
    loose.write_text("")
    loose.chmod(0o644)
    AuditLog(loose).close()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_a_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    link = tmp_path / "s" / "audit.jsonl"
    link.parent.mkdir()
    link.symlink_to(target)
    with pytest.raises(OSError):
        AuditLog(link)
    assert target.read_text() == "precious\n"


def test_long_values_are_truncated(tmp_path: Path) -> None:
    command = "echo " + "x" * 10_000
    content = "é" * 5000  # multi-byte: the cut must stay on a character boundary
    path = tmp_path / "s" / "audit.jsonl"
    with AuditLog(path) as log:
        log.record(tool="write", args={"path": "a.txt", "content": content, "edits": [{"old": "y" * 5000}],
                                       "count": 3, "flag": True}, decision="allow", reason="r" * 5000)
        log.record(tool="bash", args={"command": command}, decision="allow")
    first, second = lines_of(path)
    args = first["args"]
    assert isinstance(args, dict)
    assert args["path"] == "a.txt" and args["count"] == 3 and args["flag"] is True
    for key in ("content", "edits"):
        value = str(args[key])
        head = value.split("…[truncated")[0]
        assert len(head.encode()) <= MAX_VALUE_BYTES and "truncated" in value
    assert str(args["content"]).startswith("é" * 100)
    assert len(str(first["reason"]).encode()) < MAX_VALUE_BYTES + 64
    cmd = str(second["args"]["command"])  # type: ignore[index]
    assert cmd.startswith("echo xxx") and cmd.endswith(f"[truncated, {len(command)} bytes]")
    assert len(path.read_bytes().splitlines()[1]) < 3 * MAX_VALUE_BYTES
    assert truncate("short") == "short"
    assert len(summarise_args({f"k{i}": i for i in range(100)})) == 33


def test_concurrent_threads_do_not_interleave(tmp_path: Path) -> None:
    path = tmp_path / "s" / "audit.jsonl"
    log = AuditLog(path)
    per_thread, threads = 200, 8

    def work(n: int) -> None:
        for i in range(per_thread):
            args = {f"a{j}": f"{n}-{i}-" + "z" * 1900 for j in range(6)}  # ~12 KB lines
            assert log.record(tool="bash", args={"command": f"t{n} {i}", **args}, decision="allow")

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    log.close()
    records = lines_of(path)
    assert len(records) == per_thread * threads
    assert len({r["args"]["command"] for r in records}) == per_thread * threads  # type: ignore[index]


WRITER = """
import sys
from pathlib import Path
from agent.audit import AuditLog
path, n, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
log = AuditLog(path)
for i in range(count):
    args = {f"a{j}": f"{n}-{i}-" + "q" * 1900 for j in range(8)}
    assert log.record(tool="bash", args={"command": f"p{n} {i}", **args}, decision="allow")
log.close()
"""


def test_concurrent_processes_do_not_interleave(tmp_path: Path) -> None:
    path = tmp_path / "s" / "audit.jsonl"
    count, procs = 300, 6
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    running = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(n), str(count)], cwd=REPO, env=env)
               for n in range(procs)]
    for proc in running:
        assert proc.wait(timeout=120) == 0
    records = lines_of(path)
    assert len(records) == count * procs
    assert len({r["args"]["command"] for r in records}) == count * procs  # type: ignore[index]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_reported_once_and_never_raised() -> None:
    reported: list[str] = []
    log = AuditLog(Path("/dev/full"), session="s", on_error=reported.append)
    mode_before = os.stat("/dev/full").st_mode
    try:
        assert log.record(tool="bash", args={"command": "ls"}, decision="allow") is False
        assert log.record(tool="bash", args={"command": "ls"}, decision="allow") is False
    finally:
        log.close()
    assert os.stat("/dev/full").st_mode == mode_before  # not a regular file: left alone
    assert len(reported) == 1 and "/dev/full" in reported[0]
    assert log.error == reported[0]


def test_record_after_close_does_not_raise(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "s" / "audit.jsonl")
    log.close()
    log.close()
    assert log.record(tool="bash", args={}, decision="deny") is False
    assert log.error is not None
