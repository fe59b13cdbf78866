"""The view: what a run and a resumed session print into the scrollback."""

from __future__ import annotations

from pathlib import Path

from agent.compaction import SUMMARY_MARK
from agent.events import ToolFinished
from agent.providers.base import Message, ToolCall
from agent.tools.base import ToolResult
from agent.tui.markdown import Fragments
from agent.tui.themes import get_theme
from agent.tui.view import SHELL_MARK, View


def make_view() -> tuple[View, list[str]]:
    printed: list[str] = []

    def print_block(fragments: Fragments) -> None:
        printed.append("".join(text for _style, text in fragments))

    return View(get_theme("corral-dark"), print_block, lambda: None, lambda: 100), printed


def bash(call_id: str, command: str) -> ToolCall:
    return ToolCall(id=call_id, name="bash", arguments={"command": command})


def conversation() -> list[Message]:
    return [
        Message("user", "fix the **build**\nplease"),
        Message("assistant", "Looking.", tool_calls=[bash("c1", "make"), bash("c2", "make test")]),
        Message("tool", "ok\nbuilt\n", tool_call_id="c1", name="bash"),
        Message("tool", "1 failed", tool_call_id="c2", name="bash", is_error=True),
        Message("assistant", "## Done\n\nThe build is **fixed**."),
        Message("user", 'read this\n\n<file path="a.txt">\nA\n</file>\n\n<file path="b.txt">\nB\n</file>'),
        Message("assistant", "", tool_calls=[bash("c3", "sleep 100")]),  # interrupted: no result recorded
        Message("user", f"{SHELL_MARK}$ git status\nclean"),
    ]


def test_a_resumed_session_is_shown_as_it_happened() -> None:
    view, printed = make_view()
    view.replay(conversation(), "resumed session S1: 8 messages")
    out = "".join(printed)
    assert printed[0] == "resumed session S1: 8 messages\n"  # nothing left out
    assert "› fix the **build**\n  please\n" in out  # the user's words verbatim
    assert "Looking." in out
    assert "⏺ bash make  · ok · 2 lines" in out
    assert "⏺ bash make test  · error · 1 line" in out
    assert "Done" in out and "## Done" not in out and "fixed" in out and "**fixed**" not in out  # rendered
    assert "› read this\n" in out and "+2 attached files" in out and "<file" not in out
    assert "⏺ bash sleep 100  · no result (interrupted)" in out
    assert "! git status  · ok · 1 line\n" in out and "clean" not in out
    assert printed[-1].startswith("── resumed")


def test_a_long_session_shows_its_latest_messages_from_a_prompt_on() -> None:
    messages = [Message("user", SUMMARY_MARK + "\n\nthe summary")]
    for i in range(30):
        messages += [Message("user", f"question {i}"), Message("assistant", f"answer {i}")]
    view, printed = make_view()
    view.replay(messages, "resumed session S2", keep=9)
    out = "".join(printed)
    # the last 9 messages start with an answer, so the replay starts at the next prompt
    assert printed[0] == "resumed session S2; 53 earlier messages not shown\n"
    assert "question 25" not in out and "› question 26\n" in out and "answer 29" in out
    assert "compacted" not in out


def test_a_compacted_session_says_so() -> None:
    view, printed = make_view()
    view.replay([Message("user", SUMMARY_MARK + "\n\nsecret summary"), Message("user", "go on"),
                 Message("assistant", "going")], "resumed")
    out = "".join(printed)
    assert "(the conversation before this point was compacted)" in out and "secret summary" not in out


def test_a_finished_tool_call_is_one_line_with_its_duration() -> None:
    view, printed = make_view()
    view(ToolFinished(bash("c9", "ls"), ToolResult("a\nb\nc"), 0.25))
    assert printed == ["  ⏺ bash ls  · ok · 0.2 s · 3 lines\n"]


def test_a_reply_streamed_across_a_resize_follows_the_new_width() -> None:
    from prompt_toolkit.utils import get_cwidth

    from agent.providers.base import TextDelta

    width = [100]
    printed: list[str] = []
    view = View(get_theme("corral-dark"), lambda f: printed.append("".join(t for _s, t in f)), lambda: None,
                lambda: width[0])
    view(TextDelta("alpha " * 60))
    width[0] = 50
    view(TextDelta("omega " * 60 + "\n\n"))
    lines = "".join(printed).splitlines()
    assert all(get_cwidth(line) <= 48 for line in lines if "omega" in line and "alpha" not in line), lines


def test_a_narrow_status_line_keeps_what_is_going_on() -> None:
    from agent.tui.app import _fit

    parts = ["scripted/model", "standard", "code", "ctx 3%", "1,200 tok", "$0.010", "bwrap", "2 queued",
             "running · Ctrl-C stops"]
    ranks = [3, 2, 5, 4, 6, 7, 8, 1, 0]
    assert _fit(parts, ranks, 200) == " │ ".join(parts)
    assert _fit(parts, ranks, 62) == "scripted/model │ standard │ 2 queued │ running · Ctrl-C stops"
    assert _fit(parts, ranks, 50) == "standard │ 2 queued │ running · Ctrl-C stops"
    assert _fit(parts, ranks, 10) == "running · Ctrl-C stops"  # never empty


def test_asides_wait_for_the_streamed_reply_and_show_live_meanwhile() -> None:
    from agent.events import AssistantMessage
    from agent.providers.base import TextDelta, Usage

    view, printed = make_view()
    view(TextDelta("a paragraph that is still "))
    view.notice("queued: next thing")
    assert not any("queued" in block for block in printed)  # not into the middle of the paragraph
    assert "queued: next thing" in "".join(text for _style, text in view.live())  # but shown at once
    view(TextDelta("streaming.\n\n"))
    view(AssistantMessage(Message("assistant", "a paragraph that is still streaming."), Usage()))
    out = "".join(printed)
    assert out.index("streaming.") < out.index("queued: next thing")
    assert view.held == [] and "queued" not in "".join(text for _style, text in view.live())
    view.notice("idle now")
    assert printed[-1] == "idle now\n"  # no reply streaming: printed at once


def test_tool_lines_say_what_the_call_did() -> None:
    view, printed = make_view()
    write = ToolCall(id="w", name="write", arguments={"path": "a.txt", "content": "x\ny\n"})
    edit = ToolCall(id="e", name="edit", arguments={"path": "a.txt"})
    view(ToolFinished(write, ToolResult("wrote a.txt", meta={"lines": 2}), 0.01))
    view(ToolFinished(edit, ToolResult("edited a.txt", meta={"added": 3, "removed": 1}), 0.01))
    view(ToolFinished(bash("b", "seq 3"), ToolResult("1\n2\n3\n[exit code 0]\n", meta={"exit_code": 0}), 0.1))
    view(ToolFinished(bash("q", "true"), ToolResult("(no output)\n[exit code 0]", meta={"exit_code": 0}), 0.1))
    denied = ToolResult("Denied by the user.", is_error=True, meta={"denied": True})
    view(ToolFinished(bash("d", "rm x"), denied, 0.0))
    assert printed == [
        "  ⏺ write a.txt  · ok · 0.0 s · wrote 2 lines\n",
        "  ⏺ edit a.txt  · ok · 0.0 s · +3 −1\n",
        "  ⏺ bash seq 3  · ok · 0.1 s · 3 lines\n",
        "  ⏺ bash true  · ok · 0.1 s · no output\n",
        "  ⏺ bash rm x  · denied · 0.0 s\n",  # said once ("denied by you" came with the key)
    ]


def test_a_replay_shows_outcomes_as_they_were_shown_live() -> None:
    assert "cancelled before it finished" in repo_text("agent/events.py")  # the wording loop and view share
    messages = [
        Message("user", "go"),
        Message("assistant", "", tool_calls=[bash("1", "sleep 9"), bash("2", "rm -rf x"), bash("3", "false")]),
        Message("tool", "cancelled before it finished (the user interrupted the run)", tool_call_id="1",
                name="bash", is_error=True),
        Message("tool", "Denied by policy: no (rule r)", tool_call_id="2", name="bash", is_error=True),
        Message("tool", "[exit code 1]\n", tool_call_id="3", name="bash"),
    ]
    view, printed = make_view()
    view.replay(messages, "resumed")
    out = "".join(printed)
    assert "bash sleep 9  · cancelled\n" in out and "bash rm -rf x  · denied\n" in out
    assert "bash false  · exit 1 · no output" in out


def repo_text(relative: str) -> str:
    return (Path(__file__).resolve().parents[3] / relative).read_text()


def test_a_long_approval_line_wraps_at_spaces() -> None:
    from agent.tui.app import _wrap_lines

    fragments = [("k", "[y]"), ("a", " allow once  "), ("k", "[a]"), ("a", " allow for this session: allow "
                                                                          "exactly `python3 -c 'print(42)'`\n"),
                 ("a", " short\n")]
    out = "".join(text for _style, text in _wrap_lines(fragments, 40))
    lines = out.splitlines()
    assert all(len(line) <= 40 for line in lines), lines
    words = " ".join(w for line in lines for w in line.split())
    assert words == "[y] allow once [a] allow for this session: allow exactly `python3 -c 'print(42)'` short"
    assert _wrap_lines([("a", "fits\n")], 40) == [("a", "fits"), ("", "\n")]


def test_a_command_the_sandbox_refused_says_why() -> None:
    view, printed = make_view()
    refused = ToolResult("The sandbox refused to run the command: zerobox does not work here\nmore", is_error=True)
    view(ToolFinished(bash("z", "ls"), refused, 0.1))
    assert printed[-1] == "    The sandbox refused to run the command: zerobox does not work here\n"


def test_control_characters_from_the_model_are_shown_not_obeyed() -> None:
    from agent.events import key_argument, visible

    call = ToolCall(id="x", name="bash", arguments={"command": "echo \x1b[2J\x1b]0;PWNED\x07 hi\r"})
    assert key_argument(call) == "echo \\x1b[2J\\x1b]0;PWNED\\x07 hi"  # (a CR is white space: gone)
    assert visible("tab\tand\nline\x9b") == "tab\tand\nline\\x9b"
    assert visible("a\nb", newlines=False) == "a\\nb"


def test_read_and_cut_outputs_say_what_was_shown() -> None:
    view, printed = make_view()
    read = ToolCall(id="r", name="read", arguments={"path": "big.txt"})
    view(ToolFinished(read, ToolResult("...", meta={"lines": 5000, "start": 1, "end": 2000}), 0.0))
    view(ToolFinished(read, ToolResult("...", meta={"lines": 30, "start": 1, "end": 30}), 0.0))
    cut = "1\n2\n[exit code 0]\n[output truncated: 1.2 MB in all; full log: /x/cmd.log (read or grep it)]"
    view(ToolFinished(bash("s", "seq 1 200000"), ToolResult(cut, meta={"exit_code": 0}), 0.3))
    assert printed[0].endswith("· lines 1-2000 of 5000\n") and printed[1].endswith("· 30 lines\n")
    assert "1.2 MB of output, cut" in printed[2]


def test_a_replay_shows_writes_and_own_commands_as_live() -> None:
    write = ToolCall(id="w", name="write", arguments={"path": "n.py", "content": "a\nb\nc\n"})
    messages = [Message("user", "go"), Message("assistant", "", tool_calls=[write]),
                Message("tool", "wrote n.py", tool_call_id="w", name="write"),
                Message("user", f"{SHELL_MARK}$ seq 1 3\n1\n2\n3\n[exit code 0]\n")]
    view, printed = make_view()
    view.replay(messages, "resumed")
    out = "".join(printed)
    assert "write n.py  · ok · wrote 3 lines" in out and "! seq 1 3  · ok · 3 lines" in out
