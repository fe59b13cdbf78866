"""The UI's keys through prompt_toolkit's pipe input (no terminal): the real application, the real agent
set-up against the scripted LLM server, keys typed as bytes."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from agent.cli_agent import build_parser
from agent.gate import ApprovalRequest
from agent.providers.base import ToolCall
from agent.run_setup import RunSetup
from agent.tui.app import Tui
from agent.tui.themes import get_theme
from tests.llm_server.fixtures import llm_server  # noqa: F401
from tests.llm_server.server import ServerHandle


@pytest.fixture
def setup(tmp_path: Path, llm_server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunSetup]:  # noqa: F811
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(project)
    config = tmp_path / "config.toml"
    config.write_text(f'provider = "s"\nmodel = "m"\n[providers.s]\nkind = "openai"\n'
                      f'base_url = "{llm_server.base_url}/v1"\n')
    args = build_parser().parse_args(["--config", str(config), "--no-session"])
    yield RunSetup(args, {}, engine_now=False)


async def _drive(tui: Tui, steps: list[tuple[str, float]], alongside: Coroutine[Any, Any, None] | None = None) -> int:
    """Run the UI, typing `steps` (text, pause before it) and running `alongside` (checks that look at the UI
    and type more) at the same time; the UI's exit code, once `alongside` has finished too."""
    async def type_keys() -> None:
        for data, pause in steps:
            await asyncio.sleep(pause)
            tui.app.input.send_text(data)  # type: ignore[attr-defined]

    typing = asyncio.ensure_future(type_keys())
    checking = asyncio.ensure_future(alongside) if alongside is not None else None
    code = await asyncio.wait_for(tui._main(), timeout=20)
    typing.cancel()
    if checking is not None:
        await checking
    return code


def test_ctrl_c_twice_on_an_empty_prompt_exits(setup: RunSetup) -> None:
    with create_pipe_input() as pipe:
        tui = Tui(setup, get_theme("corral-dark"), input=pipe, output=DummyOutput())
        code = asyncio.run(_drive(tui, [("\x03", 0.5), ("\x03", 0.1)]))
    assert code == 0


def test_ctrl_c_clears_typed_text_first_and_ctrl_d_exits(setup: RunSetup) -> None:
    with create_pipe_input() as pipe:
        tui = Tui(setup, get_theme("corral-dark"), input=pipe, output=DummyOutput())
        seen: list[str] = []

        async def check() -> None:
            await asyncio.sleep(0.8)
            seen.append(tui.input.text)
            pipe.send_text("\x03")
            await asyncio.sleep(0.2)
            seen.append(tui.input.text)
            pipe.send_text("\x04")

        assert asyncio.run(_drive(tui, [("half typed\x1b\rsecond line", 0.5)], check())) == 0
    assert seen == ["half typed\nsecond line", ""]  # Alt-Enter kept a new line; Ctrl-C cleared the input


def test_an_approval_takes_one_key_and_ignores_others(setup: RunSetup) -> None:
    import policy

    with create_pipe_input() as pipe:
        tui = Tui(setup, get_theme("corral-dark"), input=pipe, output=DummyOutput())
        answers: list[object] = []
        request = ApprovalRequest(ToolCall("c1", "bash", {"command": "frobnicate"}),
                                  policy.Verdict(policy.Decision.ASK, "unknown program", None), ("allow exactly",))

        async def ask() -> None:
            while tui._token is None:  # noqa: ASYNC110 (trio starts after the first render, in its own time)
                await asyncio.sleep(0.05)
            tui.to_trio(lambda: tui.nursery.start_soon(approve))

        async def approve() -> None:
            answers.append(await tui.approve(request))
            tui.app.exit(result=0)

        assert asyncio.run(_drive(tui, [("xq", 2.0), ("a", 0.3)], ask())) == 0
    [answer] = answers
    assert answer.allow and answer.remember  # type: ignore[attr-defined]
    assert tui.input.text == ""  # "xq" went nowhere while the request was pending


def test_enter_keeps_the_prompt_in_the_history_and_up_brings_it_back(setup: RunSetup) -> None:
    from agent.tui.history import history_path

    with create_pipe_input() as pipe:
        tui = Tui(setup, get_theme("corral-dark"), input=pipe, output=DummyOutput())
        seen: list[str] = []

        async def check() -> None:
            await asyncio.sleep(1.0)
            pipe.send_text("\x1b[A")  # Up
            await asyncio.sleep(0.2)
            seen.append(tui.input.text)
            pipe.send_text("\x03")  # clears the recalled text
            await asyncio.sleep(0.1)
            pipe.send_text("\x04")

        assert asyncio.run(_drive(tui, [("/cost\r", 0.5)], check())) == 0
    assert seen == ["/cost"]
    assert "/cost" in history_path().read_text()  # kept for the next session too
