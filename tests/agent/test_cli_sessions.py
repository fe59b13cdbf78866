"""``corral sessions list|show|rm|export`` through real subprocesses with a fake HOME and XDG_DATA_HOME.

The subcommand runs as ``python -m agent.cli_sessions`` (what ``corral sessions`` dispatches to), so these
tests do not depend on how agent/cli.py registers it."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli_sessions import choose_session
from agent.providers.base import Message, ToolCall
from agent.session import SessionWriter, sessions_dir

REPO = Path(__file__).resolve().parents[2]
A, B, C = "20260101-000000-aaaaaa", "20260102-000000-bbbbbb", "20260103-000000-cccccc"


class World:
    def __init__(self, env: dict[str, str], proj: Path, other: Path, big: str) -> None:
        self.env, self.proj, self.other, self.big = env, proj, other, big


@pytest.fixture
def world(tmp_path: Path) -> World:
    home = tmp_path / "home"
    proj, other = tmp_path / "work" / "proj", tmp_path / "work" / "other"
    for d in (home, proj / ".git", proj / "sub", other / ".git"):
        d.mkdir(parents=True)
    env = {"HOME": str(home), "XDG_DATA_HOME": str(tmp_path / "data"), "PATH": os.environ.get("PATH", ""),
           "PYTHONPATH": str(REPO), "LANG": "C.UTF-8"}
    big = "".join(f"output line {i}\n" for i in range(3000))
    for sid, project, name in ((A, proj, "alpha"), (B, proj, None), (C, other, "gamma")):
        with SessionWriter.create(sid, project, project, env=env, name=name) as w:
            w.model("openrouter", "test-model")
            w.mode("guarded")
            w.message(Message("user", f"question for {sid}"))
            w.message(Message("assistant", "Running it.", tool_calls=[ToolCall("c1", "bash", {"command": "ls -l"})]))
            w.message(Message("tool", big, tool_call_id="c1", name="bash"))
            w.message(Message("assistant", f"answer ```code``` for {sid}"))
    for index, sid in enumerate((A, B, C)):
        os.utime(sessions_dir(env) / sid / "session.jsonl", (1000 + index, 1000 + index))
    return World(env, proj, other, big)


def run(world: World, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.cli_sessions", *args], cwd=cwd or world.proj,
                          env=world.env, capture_output=True, text=True, timeout=60)


def test_list_this_project_and_all(world: World) -> None:
    res = run(world, "list", cwd=world.proj / "sub")
    assert res.returncode == 0, res.stderr
    rows = res.stdout.splitlines()
    assert rows[0].split()[:4] == ["ID", "AGE", "MSGS", "NAME"]
    assert [r.split()[0] for r in rows[1:]] == [B, A]
    assert "alpha" in rows[2] and "assistant: answer ```code``` for" in rows[2] and " 4 " in rows[2]
    res = run(world, "list", "--all", "--json")
    data = json.loads(res.stdout)
    assert [d["id"] for d in data] == [C, B, A]
    assert data[0]["project"] == str(world.other) and data[0]["name"] == "gamma" and data[0]["messages"] == 4
    res = run(world, "list", cwd=world.other.parent)
    assert res.returncode == 0 and res.stdout == "" and "no sessions" in res.stderr


def test_show_prints_header_and_conversation(world: World) -> None:
    res = run(world, "show", "alpha")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f"session  {A}  (alpha)" in out and "model    openrouter/test-model   mode guarded" in out
    assert "[user]\nquestion for" in out
    assert '  → bash {"command": "ls -l"}' in out
    tool_lines = [line for line in out.splitlines() if line.startswith("[tool bash]")]
    assert len(tool_lines) == 1 and "(+2997 lines)" in tool_lines[0]
    assert "output line 2999" not in out
    full = run(world, "show", "--full", "20260101")
    assert full.returncode == 0 and "output line 2999" in full.stdout


def test_unknown_ambiguous_and_damaged(world: World) -> None:
    res = run(world, "show", "nothing")
    assert res.returncode == 2 and "no session matches 'nothing'" in res.stderr
    res = run(world, "show", "2026")
    assert res.returncode == 2 and "matches 3 sessions" in res.stderr and A in res.stderr
    log = sessions_dir(world.env) / A / "session.jsonl"
    with open(log, "ab") as fh:
        fh.write(b"not json\n" + json.dumps({"v": 99, "type": "message", "ts": 1.0}).encode() + b"\n")
    res = run(world, "show", A)
    assert res.returncode == 1 and "newer corral" in res.stderr and "upgrade" in res.stderr
    res = run(world, "show", "--bogus")
    assert res.returncode == 2


def test_show_warns_about_a_torn_line(world: World) -> None:
    log = sessions_dir(world.env) / B / "session.jsonl"
    with open(log, "ab") as fh:
        fh.write(b'{"v":1,"type":"message","ts":1.0,"role":"user","con')
    res = run(world, "show", B)
    assert res.returncode == 0 and f"answer ```code``` for {B}" in res.stdout
    assert "warning" in res.stderr and "line 8 is incomplete" in res.stderr


def test_export_jsonl_inlines_side_files(world: World, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    res = run(world, "export", "gamma", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[0]["type"] == "session" and records[0]["id"] == C
    tool = [r for r in records if r.get("role") == "tool"]
    assert tool[0]["content"] == world.big
    assert [r["type"] for r in records] == ["session", "name", "model", "mode", "message", "message", "message",
                                            "message"]
    stdout = run(world, "export", C)
    assert stdout.returncode == 0 and [json.loads(x) for x in stdout.stdout.splitlines()] == records


def test_export_markdown(world: World) -> None:
    res = run(world, "export", "alpha", "--format", "markdown")
    assert res.returncode == 0, res.stderr
    md = res.stdout
    assert md.startswith(f"# Session {A}: alpha\n")
    assert "## User\n\nquestion for" in md and "**Tool call** `bash`" in md
    assert "### Tool result: bash\n\n```\noutput line 0\n" in md
    assert f"answer ```code``` for {A}" in md


def test_rm_removes_only_session_directories(world: World, tmp_path: Path) -> None:
    root = sessions_dir(world.env)
    outside = tmp_path / "precious"
    (outside / "keep").mkdir(parents=True)
    (outside / "session.jsonl").write_text((root / A / "session.jsonl").read_text())
    os.symlink(outside, root / "20269999-000000-link00")
    res = run(world, "rm", "20269999")
    assert res.returncode == 2 and (outside / "keep").exists()
    res = run(world, "rm", "../precious")
    assert res.returncode == 2 and "not a session id" in res.stderr and outside.exists()
    res = run(world, "rm", "alpha", "nothing")  # one bad reference: nothing is removed
    assert res.returncode == 2 and (root / A).exists()
    res = run(world, "rm", "alpha", B)
    assert res.returncode == 0, res.stderr
    assert f"removed {A} (alpha)" in res.stdout and f"removed {B}" in res.stdout
    assert not (root / A).exists() and not (root / B).exists() and (root / C).exists()
    assert (outside / "keep").exists() and (root / "20269999-000000-link00").is_symlink()


def test_choose_session_picker(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", world.env["XDG_DATA_HOME"])
    out = io.StringIO()
    picked = choose_session(world.proj, stdin=io.StringIO("9\n2\n"), stdout=out)
    assert picked is not None and picked.id == A
    assert "no session matches '9'" in out.getvalue() and out.getvalue().count("resume which session?") == 2
    picked = choose_session(None, stdin=io.StringIO("gamma\n"), stdout=io.StringIO())
    assert picked is not None and picked.id == C
    assert choose_session(world.proj, stdin=io.StringIO("\n"), stdout=io.StringIO()) is None


def test_show_and_markdown_give_the_whole_history_across_compactions(world: World) -> None:
    sid = "20260104-000000-dddddd"
    with SessionWriter.create(sid, world.proj, world.proj, env=world.env) as w:
        w.message(Message("user", "the very first question"))
        w.message(Message("assistant", "first answer"))
        w.compaction("SUMMARY: asked, answered", replaced=2, kept=0)
        w.mode("read-only")
        w.approval({"rule": "[[rule]] id = 'session-git-status'", "max_kind": "READ"})
        w.message(Message("user", "after compaction"))
    res = run(world, "show", sid)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    order = ["the very first question", "first answer", "compacted: the 2 earliest messages", "SUMMARY: asked",
             "── mode read-only ──", "approved for this session: [[rule]] id = 'session-git-status'",
             "after compaction"]
    positions = [out.index(text) for text in order]
    assert positions == sorted(positions)
    md = run(world, "export", sid, "--format", "markdown").stdout
    assert md.index("the very first question") < md.index("SUMMARY: asked") < md.index("after compaction")
    assert "*mode read-only*" in md


def test_a_missing_side_file_is_a_warning_not_a_failure(world: World) -> None:
    for blob in (sessions_dir(world.env) / A / "blobs").iterdir():
        blob.unlink()
    res = run(world, "show", A)
    assert res.returncode == 0 and "[tool bash] [corral: this content was lost" in res.stdout
    assert "warning" in res.stderr and "is missing" in res.stderr
    res = run(world, "export", A)
    assert res.returncode == 0 and "this content was lost" in res.stdout and "is missing" in res.stderr
