"""The session store: real files under tmp_path, a real subprocess killed with SIGKILL mid-append."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import CorralError, UsageError
from agent.providers.base import Message, ToolCall, Usage
from agent.session import (
    LoadedSession,
    SessionError,
    SessionWriter,
    latest_session,
    list_sessions,
    load_session,
    resolve_session,
    sessions_dir,
)
from agent.session_records import BLOB_THRESHOLD, VERSION
from agent.tools.base import TodoItem

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path / "home")}


def new(env: dict[str, str], sid: str = "20260101-000000-aaaaaa", project: Path | None = None,
        **kw: object) -> SessionWriter:
    project = project or Path(env["HOME"]) / "proj"
    return SessionWriter.create(sid, project, project, env=env, **kw)  # type: ignore[arg-type]


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sessions_dir_follows_xdg(tmp_path: Path) -> None:
    assert sessions_dir({"XDG_DATA_HOME": "/d", "HOME": "/h"}) == Path("/d/corral/sessions")
    assert sessions_dir({"HOME": "/h"}) == Path("/h/.local/share/corral/sessions")
    assert sessions_dir({"XDG_DATA_HOME": "relative", "HOME": "/h"}) == Path("/h/.local/share/corral/sessions")


def test_every_record_type_round_trips(env: dict[str, str]) -> None:
    call = ToolCall("c1", "bash", {"command": "ls -l", "timeout": 5}, raw_arguments='{"command":"ls -l"}',
                    parse_error=None, signature="sig-call")
    bad_call = ToolCall("c2", "edit", {}, raw_arguments="{not json", parse_error="Expecting property name")
    conversation = [
        Message("user", "list the files"),
        Message("assistant", "Let me look.", reasoning="think", reasoning_signature="sig-r",
                tool_calls=[call, bad_call]),
        Message("tool", "a\nb", tool_call_id="c1", name="bash"),
        Message("tool", "bad arguments", tool_call_id="c2", name="edit", is_error=True),
        Message("assistant", "Two files: a and b. ünïcödé ✓"),
    ]
    with new(env, corral_version="0.1.0") as w:
        for m in conversation:
            assert w.message(m)
        assert w.mode("guarded") and w.mode("read-only")
        assert w.model("openrouter", "m1") and w.model("anthropic", "claude")
        assert w.prompt("review")
        assert w.thinking("high")
        assert w.todo([TodoItem("one", "done"), TodoItem("two", "in_progress")])
        assert w.approval({"rule": "[[rule]]\nid = 'session-1'", "max_kind": "READ"})
        assert w.approval({"rule": "second", "max_kind": "WRITE"})
        assert w.usage(Usage(100, 20, 5, 1, 3, 0.25)) and w.usage(Usage(10, 2, cost=None))
        assert w.name("my work")
        assert w.note("resume", {"from": "x"})
    s = load_session(w.path)
    assert s.warnings == []
    assert s.messages() == conversation
    assert s.id == "20260101-000000-aaaaaa" and s.corral_version == "0.1.0"
    assert s.project == str((Path(env["HOME"]) / "proj").resolve()) and s.created > 0
    assert (s.mode, s.provider, s.model, s.prompt, s.thinking) == ("read-only", "anthropic", "claude", "review", "high")
    assert s.todos == [TodoItem("one", "done"), TodoItem("two", "in_progress")]
    assert [a["max_kind"] for a in s.approvals] == ["READ", "WRITE"]
    assert s.usage == Usage(110, 22, 5, 1, 3, 0.25)
    assert s.name == "my work" and s.message_count == 5
    assert s.notes[0]["kind"] == "resume"
    recs = lines(w.path)
    assert all(r["v"] == VERSION and isinstance(r["ts"], float) for r in recs)
    assert list(recs[0])[:3] == ["v", "type", "ts"] and recs[0]["type"] == "session"


def test_files_are_private(env: dict[str, str]) -> None:
    with new(env) as w:
        w.message(Message("tool", "x" * (BLOB_THRESHOLD + 1), tool_call_id="c", name="bash"))
        w.name("n")
    assert stat.S_IMODE(os.stat(w.directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(w.directory.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(w.path).st_mode) == 0o600
    blobs = w.directory / "blobs"
    assert stat.S_IMODE(os.stat(blobs).st_mode) == 0o700
    files = list(blobs.iterdir())
    assert len(files) == 1 and stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600


def test_large_contents_go_to_side_files_once_and_are_read_on_demand(env: dict[str, str]) -> None:
    big = "line of output\n" * 5000
    big_args: dict[str, object] = {"path": "f.txt", "content": "y" * (BLOB_THRESHOLD * 2)}
    with new(env) as w:
        w.message(Message("assistant", "", reasoning="r" * (BLOB_THRESHOLD + 10),
                          tool_calls=[ToolCall("c1", "write", big_args)]))
        w.message(Message("tool", big, tool_call_id="c1", name="write"))
        w.message(Message("tool", big, tool_call_id="c2", name="bash"))  # same content: one side file
        w.message(Message("user", "x" * BLOB_THRESHOLD))  # at the threshold: inline
    assert w.path.stat().st_size < 2 * BLOB_THRESHOLD
    recs = [r for r in lines(w.path) if r["type"] == "message"]
    assert recs[1]["content"] == recs[2]["content"]
    ref = recs[1]["content"]
    assert isinstance(ref, dict) and ref["size"] == len(big.encode()) and str(ref["ref"]).startswith("blobs/")
    assert "arguments_ref" in recs[0]["tool_calls"][0]  # type: ignore[index]
    assert isinstance(recs[3]["content"], str)
    assert len(list((w.directory / "blobs").iterdir())) == 3  # reasoning, arguments, output
    s = load_session(w.path)
    # the loaded session holds references, not contents
    assert all(not isinstance(r.get("content"), str) or len(r["content"]) <= BLOB_THRESHOLD  # type: ignore[arg-type]
               for r in s.records)
    msgs = s.messages()
    assert msgs[0].tool_calls[0].arguments == big_args and msgs[0].reasoning == "r" * (BLOB_THRESHOLD + 10)
    assert msgs[1].content == big and msgs[2].content == big
    for f in (w.directory / "blobs").iterdir():
        f.unlink()
    with pytest.raises(SessionError, match=r"side file .* missing"):
        load_session(w.path).messages(strict=True)
    lenient = load_session(w.path)
    assert lenient.warnings == []
    msgs = lenient.messages()  # resuming still works: placeholders, and a warning for each lost content
    assert msgs[1].content.startswith("[corral: this content was lost:") and msgs[3].content == "x" * BLOB_THRESHOLD
    assert msgs[0].tool_calls[0].arguments == {} and "lost" in msgs[0].tool_calls[0].raw_arguments
    assert len(lenient.warnings) == 4 and all("is missing" in x for x in lenient.warnings)


def test_torn_last_line_is_skipped_with_one_warning(env: dict[str, str]) -> None:
    with new(env) as w:
        w.message(Message("user", "hello"))
        w.message(Message("assistant", "hi"))
    with open(w.path, "ab") as fh:
        fh.write(b'{"v":1,"type":"message","ts":1.0,"role":"user","content":"unfini')
    s = load_session(w.path)
    assert [m.content for m in s.messages()] == ["hello", "hi"]
    assert len(s.warnings) == 1 and "line 4 is incomplete" in s.warnings[0]
    # appending again first ends the torn line: the new record is intact, the fragment stays one bad line
    with SessionWriter.reopen(w.directory) as w2:
        w2.message(Message("user", "again"))
    s = load_session(w.path)
    assert [m.content for m in s.messages()] == ["hello", "hi", "again"]
    assert len(s.warnings) == 1 and "line 4 is damaged" in s.warnings[0]


def test_damaged_middle_line_names_its_number(env: dict[str, str]) -> None:
    with new(env) as w:
        w.message(Message("user", "one"))
    with open(w.path, "ab") as fh:
        fh.write(b"garbage \x00\xff not json\n")
        fh.write(b'{"v":1,"type":"message","ts":1.0,"role":"wizard"}\n')
        fh.write(b'{"v":1,"type":"hologram","ts":1.0}\n{"v":1,"type":"hologram","ts":1.0}\n')
    with SessionWriter.reopen(w.path) as w2:
        w2.message(Message("assistant", "two"))
    before = w.path.read_bytes()
    s = load_session(w.path)
    assert [m.content for m in s.messages()] == ["one", "two"]
    assert any("line 3 is damaged" in x for x in s.warnings)
    assert any("line 4" in x and "wizard" in x for x in s.warnings)
    assert any("2 record(s) of unknown type 'hologram'" in x for x in s.warnings)
    assert len(s.warnings) == 3
    assert w.path.read_bytes() == before  # never rewritten


def test_newer_version_is_refused_with_upgrade_advice(env: dict[str, str]) -> None:
    with new(env) as w:
        w.message(Message("user", "one"))
    with open(w.path, "ab") as fh:
        fh.write(json.dumps({"v": VERSION + 1, "type": "message", "ts": 1.0, "role": "user"}).encode() + b"\n")
    with pytest.raises(SessionError, match=r"line 3 was written by a newer corral.*upgrade corral"):
        load_session(w.path)
    header_newer = w.directory.parent / "newer" / "session.jsonl"
    header_newer.parent.mkdir()
    header_newer.write_text(json.dumps({"v": 9, "type": "session", "ts": 1.0}) + "\n")
    with pytest.raises(SessionError, match="newer corral"):
        load_session(header_newer)
    with pytest.raises(SessionError, match="newer corral"):
        SessionWriter.reopen(header_newer)
    assert issubclass(SessionError, CorralError)


@pytest.mark.parametrize("content, why", [
    (b"", "empty"),
    (b"hello world\n", "not JSON"),
    (b'{"v":1,"type":"message","ts":1}\n', "not a session header"),
    (b'["a"]\n', "not a JSON object"),
    (b'{"v":1,"type":"session"', "interrupted as it started"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not JSON"),
])
def test_not_a_session(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(SessionError, match=f"is not a corral session \\(.*{why}"):
        load_session(path)
    with pytest.raises(SessionError, match="cannot open"):
        load_session(tmp_path / "missing.jsonl")


def test_compaction_applies_the_latest_summary(env: dict[str, str]) -> None:
    with new(env) as w:
        for i in range(6):
            w.message(Message("user" if i % 2 == 0 else "assistant", f"m{i}"))
        w.compaction("summary one", replaced=4, kept=2)  # view: [s1, m4, m5]
        w.message(Message("user", "m6"))
        w.message(Message("assistant", "m7"))
        w.compaction("summary two", replaced=3, kept=2)  # [s1, m4, m5] replaced: view: [s2, m6, m7]
        w.message(Message("user", "m8"))
    s = load_session(w.path)
    assert [m.content for m in s.messages()] == ["summary two", "m6", "m7", "m8"]
    assert s.messages()[0].role == "user"
    assert [(c.summary, c.replaced, c.kept) for c in s.compactions] == [("summary one", 4, 2), ("summary two", 3, 2)]
    assert s.message_count == 9 and s.warnings == []


def test_create_refuses_an_existing_session_and_writer_never_raises_after_close(env: dict[str, str]) -> None:
    w = new(env)
    with pytest.raises(SessionError, match="already exists"):
        new(env)
    errors: list[str] = []
    w.on_error = errors.append
    w.close()
    assert w.message(Message("user", "late")) is False
    assert w.message(Message("user", "later")) is False
    assert len(errors) == 1 and "closed" in errors[0]


def test_write_failure_is_reported_once(env: dict[str, str], tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    errors: list[str] = []
    fd = os.open("/dev/full", os.O_WRONLY)
    w = SessionWriter(tmp_path / "s" / "session.jsonl", fd, on_error=errors.append)
    assert w.mode("standard") is False and w.mode("yolo") is False
    assert len(errors) == 1 and "cannot write the session log" in errors[0]
    w.close()


def test_list_latest_and_resolve(env: dict[str, str], tmp_path: Path) -> None:
    proj_a, proj_b = tmp_path / "a", tmp_path / "b"
    proj_a.mkdir()
    proj_b.mkdir()
    stamps = {"20260101-000000-aaaaaa": (proj_a, "alpha"), "20260102-000000-bbbbbb": (proj_a, "shared"),
              "20260103-000000-cccccc": (proj_b, "shared")}
    for index, (sid, (project, name)) in enumerate(stamps.items()):
        with new(env, sid, project, name=name) as w:
            w.message(Message("user", f"question {index}"))
            w.message(Message("assistant", f"answer {index}\nsecond line"))
            w.message(Message("assistant", "", tool_calls=[ToolCall("c", "read", {"path": "x"})]))
        os.utime(w.path, (1000 + index, 1000 + index))
    (sessions_dir(env) / "not-a-session").mkdir()
    (sessions_dir(env) / "junk").mkdir()
    (sessions_dir(env) / "junk" / "session.jsonl").write_text("nope\n")
    os.symlink(sessions_dir(env) / "20260101-000000-aaaaaa", sessions_dir(env) / "20269999-link")

    every = list_sessions(env=env)
    assert [s.id for s in every] == ["20260103-000000-cccccc", "20260102-000000-bbbbbb", "20260101-000000-aaaaaa"]
    first = every[-1]
    assert (first.name, first.project, first.last_role, first.last_message) == (
        "alpha", str(proj_a), "assistant", "answer 0 second line")
    assert first.message_count == 3 and first.updated == 1000
    assert [s.id for s in list_sessions(proj_a, env=env)] == ["20260102-000000-bbbbbb", "20260101-000000-aaaaaa"]
    latest = latest_session(proj_a, env=env)
    assert latest is not None and latest.id == "20260102-000000-bbbbbb"
    assert latest_session(tmp_path / "nowhere", env=env) is None

    assert resolve_session("20260101-000000-aaaaaa", env=env).name == "alpha"
    assert resolve_session("20260103", env=env).id == "20260103-000000-cccccc"
    assert resolve_session("alpha", env=env).id == "20260101-000000-aaaaaa"
    assert resolve_session("shared", project=proj_b, env=env).id == "20260103-000000-cccccc"
    with pytest.raises(UsageError, match=r"'shared' matches 2 sessions(.|\n)*20260102-000000-bbbbbb"):
        resolve_session("shared", env=env)
    with pytest.raises(UsageError, match="'2026' matches 3 sessions"):
        resolve_session("2026", env=env)
    with pytest.raises(UsageError, match="no session matches 'nothing'"):
        resolve_session("nothing", env=env)
    for bad in ("../x", ".hidden", ""):
        with pytest.raises(UsageError, match="not a session id"):
            resolve_session(bad, env=env)
    loaded = load_session("alpha", env=env)
    assert isinstance(loaded, LoadedSession) and loaded.message_count == 3


def test_listing_reads_only_the_tail_of_a_big_log(env: dict[str, str]) -> None:
    with new(env) as w:
        w.message(Message("user", "the first question"))
        for i in range(3000):
            w.message(Message("assistant", f"reply {i} " + "z" * 3000))  # a 9 MB log
        w.message(Message("user", "the last question"))
    [summary] = list_sessions(env=env)
    assert summary.last_message == "the last question" and summary.message_count == 3002
    start = time.perf_counter()
    for _ in range(20):
        list_sessions(env=env)
    elapsed = (time.perf_counter() - start) / 20
    start = time.perf_counter()
    load_session(w.path)
    assert elapsed < 0.05 and elapsed < (time.perf_counter() - start) / 3  # far cheaper than reading it all


_APPENDER = """
import sys
from pathlib import Path
from agent.providers.base import Message
from agent.session import SessionWriter
root, env = Path(sys.argv[1]), {"XDG_DATA_HOME": sys.argv[2]}
w = SessionWriter.create("20260101-000000-kkkkkk", root, root, env=env)
print("ready", flush=True)
i = 0
while True:
    w.message(Message("user" if i % 2 == 0 else "assistant", f"message {i} " + "p" * (i % 5000)))
    i += 1
"""


def test_sigkill_mid_append_loses_at_most_the_torn_line(env: dict[str, str], tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _APPENDER, str(tmp_path), env["XDG_DATA_HOME"]], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    log = sessions_dir(env) / "20260101-000000-kkkkkk" / "session.jsonl"
    while log.stat().st_size < 2_000_000:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    raw = log.read_bytes()
    complete = raw.count(b"\n") - 1  # minus the header
    s = load_session(log)
    messages = s.messages()
    assert len(messages) == complete > 100
    assert [m.content.split(" ")[1] for m in messages] == [str(i) for i in range(complete)]
    if raw.endswith(b"\n"):
        assert s.warnings == []
    else:
        assert len(s.warnings) == 1 and "incomplete" in s.warnings[0]


def test_sync_logs_the_conversation_as_it_grows_and_through_compactions(env: dict[str, str]) -> None:
    conversation: list[Message] = []
    w = new(env)
    for i in range(4):
        conversation.append(Message("user" if i % 2 == 0 else "assistant", f"m{i}"))
        assert w.sync(conversation)
    assert w.sync(conversation) and w.synced == 4  # nothing new: nothing written
    conversation.append(Message("user", "m4"))  # appended, not yet synced, then compacted (as the loop does)
    conversation[:] = [Message("user", "summary"), *conversation[3:]]  # replaced 3, kept 2
    w.compaction("summary", replaced=3, kept=2, messages=conversation)
    conversation.append(Message("assistant", "m5"))
    w.sync(conversation)
    w.close()
    s = load_session(w.path)
    assert [m.content for m in s.messages()] == [m.content for m in conversation] == ["summary", "m3", "m4", "m5"]
    assert s.message_count == 6 and s.warnings == []
    # resume: the loaded conversation continues, sync appends only what is new
    resumed = s.messages()
    with SessionWriter.resume(s) as w2:
        resumed.append(Message("user", "m6"))
        w2.sync(resumed)
        # a compaction that summarises messages the log never had (an unsynced prompt among the replaced)
        resumed.append(Message("assistant", "m7"))
        resumed[:] = [Message("user", "summary 2"), resumed[-1]]  # replaced 6, kept 1
        w2.compaction("summary 2", replaced=6, kept=1, messages=resumed)
    again = load_session(w.path)
    assert [m.content for m in again.messages()] == ["summary 2", "m7"]
    assert again.compactions[-1].replaced == 5 and again.warnings == []


def test_the_writer_never_writes_invalid_utf8_whatever_it_is_given(env: dict[str, str]) -> None:
    """Lone surrogates (undecodable bytes Python kept as escapes) become U+FFFD, in lines and side files."""
    bad = "caf\udce9 \ud800"
    with new(env, name=f"name {bad}", blob_threshold=64) as w:
        w.message(Message("user", f"prompt {bad}"))
        w.message(Message("assistant", bad * 40, tool_calls=[ToolCall("c", "read", {"path": bad})]))
        w.todo([TodoItem(bad, "pending")])
    for path in [w.path, *(w.directory / "blobs").iterdir(), w.directory / "name"]:
        path.read_bytes().decode("utf-8")  # strict
    loaded = load_session(w.path)
    assert loaded.warnings == []
    first, second = loaded.messages(strict=True)
    assert first.content == "prompt caf\ufffd \ufffd" and second.tool_calls[0].arguments == {"path": "caf\ufffd \ufffd"}
    assert second.content == "caf\ufffd \ufffd" * 40 and loaded.name == "name caf\ufffd \ufffd"
    assert "😀" in load_session(_with_emoji(env)).messages()[0].content  # a real pair stays itself


def _with_emoji(env: dict[str, str]) -> Path:
    with new(env, "20260101-000000-eeeeee") as w:
        w.message(Message("user", "\ud83d\ude00 ok"))  # a surrogate pair spelt out: one character
    return w.path


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Fail (rather than hang) when the block blocks: SIGALRM interrupts a blocking open()."""
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_log_that_is_not_a_regular_file_is_refused_at_once(env: dict[str, str], kind: str) -> None:
    sid = "20260101-000000-ffffff"
    directory = sessions_dir(env) / sid
    directory.mkdir(parents=True)
    log = directory / "session.jsonl"
    log.mkdir() if kind == "directory" else os.mkfifo(log)
    started = time.monotonic()
    what = "a directory" if kind == "directory" else "a FIFO"
    with _deadline(5):  # opening a FIFO without a writer once blocked here forever
        for ref in (log, directory):
            with pytest.raises(SessionError, match=f"is not a corral session \\(it is {what}, not a regular file"):
                load_session(ref)
        [found] = list_sessions(env=env, damaged=True)
    assert time.monotonic() - started < 5
    assert found.id == sid and found.damaged is not None and "not a regular file" in found.damaged
    assert list_sessions(env=env) == [] and latest_session(Path(env["HOME"]), env=env) is None
    assert resolve_session(sid, env=env).damaged == found.damaged  # the exact id still finds it
    with pytest.raises(UsageError, match=f"the damaged session {sid} matches: give its whole id"):
        resolve_session(sid[:12], env=env)


def test_a_damaged_header_or_empty_log_resolves_by_exact_id(env: dict[str, str]) -> None:
    with new(env, "20260101-000000-aaaaaa") as w:
        w.message(Message("user", "fine"))
    for sid, content, why in (("20260102-000000-bbbbbb", b"", "it is empty"),
                              ("20260103-000000-cccccc", b"{broken\n", "its first line is not JSON")):
        directory = sessions_dir(env) / sid
        directory.mkdir()
        (directory / "session.jsonl").write_bytes(content)
        found = resolve_session(sid, env=env)
        assert found.damaged == why
        with pytest.raises(SessionError, match=f"{why}.*corral sessions rm {sid}"):
            load_session(found.path)
    (sessions_dir(env) / "20260104-000000-dddddd").mkdir()  # no log at all: a --no-session run's audit dir
    assert [s.id for s in list_sessions(env=env)] == ["20260101-000000-aaaaaa"]
    assert sorted(s.id for s in list_sessions(env=env, damaged=True) if s.damaged) == [
        "20260102-000000-bbbbbb", "20260103-000000-cccccc"]


def test_one_writer_at_a_time_holds_a_session(env: dict[str, str]) -> None:
    from agent.session import in_use

    first = new(env)
    first.message(Message("user", "hello"))
    assert in_use(first.path)
    with pytest.raises(SessionError, match="in use by another corral"):
        SessionWriter.reopen(first.path)
    # another process sees the lock too (flock is per open file description)
    probe = subprocess.run([sys.executable, "-c", "import sys; from agent.session import in_use; "
                            f"sys.exit(0 if in_use(__import__('pathlib').Path({str(first.path)!r})) else 1)"],
                           cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert probe.returncode == 0
    first.close()
    assert not in_use(first.path)
    again = SessionWriter.reopen(first.path)  # free again once the first one is closed
    again.close()
