"""Slash commands of the terminal UI. `/` opens a menu of them (their descriptions come from here).

Commands run at once, also while a turn runs (`/btw`, `/queue`, `/cost` …); those that change the
conversation or how it runs (`/compact`, `/new`, `/prompt` …) are queued while a turn runs and run when it
ends, in order with queued prompts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from agent.errors import CorralError
from agent.values import frozen

if TYPE_CHECKING:
    from agent.loop import Agent
    from agent.providers.base import Message
    from agent.tui.app import Tui


@frozen
class Command:
    name: str
    args: str
    description: str
    run: Callable[[Tui, str], Awaitable[None]]
    idle: bool = False  # refuses while a turn runs


COMMANDS: list[Command] = []


def command(name: str, args: str, description: str, *, idle: bool = False
            ) -> Callable[[Callable[[Tui, str], Awaitable[None]]], Callable[[Tui, str], Awaitable[None]]]:
    def register(fn: Callable[[Tui, str], Awaitable[None]]) -> Callable[[Tui, str], Awaitable[None]]:
        COMMANDS.append(Command(name, args, description, fn, idle))
        return fn

    return register


def menu() -> list[tuple[str, str]]:
    """(name, description) pairs for the completion menu."""
    return [(f"/{c.name}", f"{c.args + ' — ' if c.args else ''}{c.description}") for c in COMMANDS]


async def dispatch(tui: Tui, line: str) -> None:
    name, _, rest = line[1:].partition(" ")
    found = [c for c in COMMANDS if c.name == name] or [c for c in COMMANDS if c.name.startswith(name)]
    if len(found) != 1 or not name:
        names = ", ".join("/" + c.name for c in found or COMMANDS)
        tui.view.error(f"unknown command /{name}; " + ("did you mean " if found else "commands: ") + names)
        return
    cmd = found[0]
    query = not rest.strip() and cmd.name in QUERIES  # only shows something: at once, also during a turn
    if cmd.idle and tui.running and not query:  # it changes the conversation or how it runs: after this turn
        tui.queue.append(line)
        tui.view.aside([("class:queued", f"queued: {line} (runs when the turn ends; Ctrl-C drops the queue)\n")])
        return
    if cmd.name != "btw":  # the command above its output in the scrollback (/btw shows its question itself)
        tui.view.aside([("class:user", f"› {line}\n")])
    try:
        await cmd.run(tui, rest.strip())
    except CorralError as exc:
        tui.view.error(str(exc))
    tui.app.invalidate()


QUERIES = frozenset({"mode", "model", "provider", "prompt"})  # without an argument they only show and list


def _agent(tui: Tui) -> Agent:
    assert tui.agent is not None
    return tui.agent


@command("help", "", "list the commands and keys")
async def _help(tui: Tui, arg: str) -> None:
    width = max(len(c.name) + len(c.args) for c in COMMANDS) + 3
    lines = [f"  /{c.name} {c.args}".ljust(width + 3) + c.description for c in COMMANDS]
    keys = ("keys: Enter send · Alt-Enter or Ctrl-J new line · Up/Down earlier inputs · Tab complete · Ctrl-C "
            "stop the turn and drop the queue (twice on an empty prompt: exit) · Ctrl-D exit · Ctrl-O expand the "
            "last tool output · @path attach a file · !cmd run a command")
    tui.view.aside([("class:notice", "\n".join(lines) + "\n" + keys + "\n")])


@command("quit", "", "leave (the session stays resumable with corral -c)")
async def _quit(tui: Tui, arg: str) -> None:
    tui.app.exit(result=0)


MODEL_CHECK_SECONDS = 3.0


@command("model", "[NAME]", "switch the model; without a name, list the provider's models", idle=True)
async def _model(tui: Tui, arg: str) -> None:
    agent, setup = _agent(tui), tui.setup
    if not arg:
        from agent.providers.models import list_models

        tui.view.notice(f"model: {agent.model} (provider {setup.settings.name}); listing the provider's models…")
        try:
            models = await list_models(setup.settings)
        except CorralError as exc:
            tui.view.error(f"{exc}; type /model NAME")
            return
        tui.view.notice("\n".join(f"  {m}{'  ←' if m == agent.model else ''}" for m in models) or "  (none)")
        return
    import trio

    from agent.providers.models import list_models

    known: list[str] | None = None
    with trio.move_on_after(MODEL_CHECK_SECONDS):  # a slow listing does not hold the switch up for long
        try:
            known = await list_models(setup.settings)
        except CorralError:
            known = None  # a provider that cannot list its models: the next request tells
    agent.model = arg
    if setup.writer is not None:
        setup.writer.model(setup.settings.name, arg)
    unknown = known is not None and arg not in known
    tui.view.notice(f"model: {arg}" + (f" (not among the {len(known or [])} models {setup.settings.name} lists; "
                                       "the next request will tell whether it exists; /model lists them)"
                                       if unknown else ""))


@command("provider", "[NAME]", "switch the provider (its default model); without a name, list them", idle=True)
async def _provider(tui: Tui, arg: str) -> None:
    agent, setup = _agent(tui), tui.setup
    if not arg:
        names = sorted(setup.config.providers)
        tui.view.notice("providers: " + ", ".join(f"[{n}]" if n == setup.settings.name else n for n in names))
        return
    from agent.providers import make_provider

    try:
        settings = setup.config.resolve_provider(arg)
    except CorralError as exc:  # its message speaks of the command-line flag
        raise type(exc)(str(exc).replace("with --provider", "with /provider")) from exc
    agent.provider = make_provider(settings)
    agent.model = settings.model
    setup.settings = settings
    if setup.writer is not None:
        setup.writer.model(settings.name, settings.model)
    tui.view.notice(f"provider: {settings.name}, model {settings.model}")


@command("thinking", "[off|low|medium|high]", "the model's reasoning effort")
async def _thinking(tui: Tui, arg: str) -> None:
    from agent.providers.base import THINKING_LEVELS

    agent = _agent(tui)
    if not arg:
        tui.view.notice(f"thinking: {agent.thinking}")
        return
    if arg not in THINKING_LEVELS:
        tui.view.error(f"thinking must be one of {', '.join(THINKING_LEVELS)}")
        return
    agent.thinking = arg
    if tui.setup.writer is not None:
        tui.setup.writer.thinking(arg)
    tui.view.notice(f"thinking: {arg}")


@command("reasoning", "", "show or hide the model's reasoning")
async def _reasoning(tui: Tui, arg: str) -> None:
    view = tui.view
    view.show_reasoning = not view.show_reasoning
    tui.view.notice(f"reasoning {'shown' if view.show_reasoning else 'hidden'}")
    if view.show_reasoning and view.last_reasoning:
        tui.view.aside([("class:reasoning", view.last_reasoning + "\n")])


@command("mode", "[NAME]", "the permission mode: restrictive, read-only, guarded, standard, yolo", idle=True)
async def _mode(tui: Tui, arg: str) -> None:
    import policy

    agent, setup = _agent(tui), tui.setup
    if not arg:
        tui.view.notice(f"mode: {agent.gate.mode} (yours: {setup.user_mode}; prompt {setup.prompt.name})")
        return
    try:
        user = policy.Mode.parse(arg)
    except ValueError as exc:
        tui.view.error(str(exc))
        return
    setup.user_mode = user
    setup.apply_prompt(agent, setup.prompt)
    if setup.writer is not None:
        setup.writer.mode(str(user))
    capped = "" if agent.gate.mode == user else f" (the {setup.prompt.name} prompt caps it at {agent.gate.mode})"
    tui.view.notice(f"mode: {user}{capped}")


@command("prompt", "[NAME]", "switch the system prompt (code, plan, review …); without a name, list them", idle=True)
async def _prompt(tui: Tui, arg: str) -> None:
    import os

    from agent.prompts import format_listing, list_prompts, select_prompt

    setup = tui.setup
    if not arg:
        found = list_prompts(setup.project_root, os.environ, trusted=setup.config.trusted)
        tui.view.notice(f"prompt: {setup.prompt.name}\n" + format_listing(found))
        return
    prompt = select_prompt(arg, setup.project_root, os.environ, trusted=setup.config.trusted)
    setup.apply_prompt(_agent(tui), prompt)
    if setup.writer is not None:
        setup.writer.prompt(prompt.name)
    tui.view.notice(f"prompt: {prompt.name} (mode {_agent(tui).gate.mode})")


@command("compact", "", "summarise the older turns now", idle=True)
async def _compact(tui: Tui, arg: str) -> None:
    tui.running = True
    try:
        if await _agent(tui).compact("user") is None:
            tui.view.notice("nothing to compact: the conversation is short")
    finally:
        tui.running = False


@command("new", "", "start a new session (this one stays resumable)", idle=True)
async def _new(tui: Tui, arg: str) -> None:
    from agent.providers.base import Usage

    old = tui.setup.session_id
    agent = _agent(tui)
    tui.setup.new_session(agent, tui.setup.prompt.name, str(tui.setup.user_mode))
    agent.usage = Usage()  # tokens and cost are counted per session (the status line, /cost)
    agent.meter.last = 0  # nor is anything in its context yet
    tui.btw_usage = Usage()
    tui.view.notice(f"new session {tui.setup.session_id} (the previous one, {old}, is kept)")


@command("clear", "", "clear the screen and start a new session", idle=True)
async def _clear(tui: Tui, arg: str) -> None:
    tui.app.renderer.clear()
    await _new(tui, arg)


@command("sessions", "", "this project's sessions (resume one with corral --session ID)")
async def _sessions(tui: Tui, arg: str) -> None:
    from agent.cli_sessions import render_table
    from agent.session import list_sessions

    found = list_sessions(tui.setup.project_root)[:20]
    tui.view.notice(render_table(found, with_project=False) if found else "no sessions yet")


@command("queue", "[ls|clear|pop]", "what is queued to send when the turn ends")
async def _queue(tui: Tui, arg: str) -> None:
    if arg == "clear":
        tui.queue.clear()
        tui.view.notice("queue cleared")
    elif arg == "pop":
        tui.view.notice(f"removed: {tui.queue.pop()}" if tui.queue else "the queue is empty")
    elif arg in ("", "ls"):
        rows = [f"  {i}. {text.strip().splitlines()[0][:150]}" for i, text in enumerate(tui.queue, start=1)]
        tui.view.notice("\n".join(rows) if rows else "the queue is empty")
    else:
        tui.view.error("usage: /queue [ls|clear|pop]")


@command("cost", "", "tokens and cost of this session (and of /btw apart)")
async def _cost(tui: Tui, arg: str) -> None:
    usage, side = _agent(tui).usage, tui.btw_usage
    cost = f"${usage.cost:.4f}" if usage.cost is not None else "unknown"
    side_cost = f"${side.cost:.4f}" if side.cost is not None else "unknown"
    tui.view.notice(f"session: {usage.input_tokens:,} in ({usage.cache_read_tokens:,} from cache), "
                    f"{usage.output_tokens:,} out, cost {cost}\n"
                    f"/btw: {side.input_tokens:,} in, {side.output_tokens:,} out, cost {side_cost}")


@command("theme", "[NAME]", "switch the colour theme; without a name, list them")
async def _theme(tui: Tui, arg: str) -> None:
    from agent.tui.themes import get_theme, theme_names

    if not arg:
        tui.view.notice("themes: " + ", ".join(f"[{n}]" if n == tui.theme.name else n for n in theme_names()))
        return
    theme = get_theme(arg)
    tui.set_theme(theme)
    tui.view.notice(f"theme: {theme.name}")


@command("undo", "[--force]", "restore the files the agent wrote or edited in its last turn", idle=True)
async def _undo(tui: Tui, arg: str) -> None:
    undo = getattr(_agent(tui).ctx, "undo", None)
    if undo is None:
        tui.view.error("nothing to undo")
        return
    report = undo.undo_last_turn(force=arg == "--force")
    tui.view.notice(str(report))


@command("btw", "QUESTION", "ask a side question while the agent works (read-only, apart from the conversation)")
async def _btw(tui: Tui, arg: str) -> None:
    if not arg:
        tui.view.error("usage: /btw QUESTION")
        return
    from dataclasses import replace

    from agent.events import RunFinished
    from agent.loop import Agent
    from agent.tui.markdown import render_markdown

    main = _agent(tui)
    gate = replace(main.gate, approver=None, on_approval=None)  # nobody is asked: an ask is a denial
    tools = [t for t in main.tools if t.read_only and t.spec.name != "todo"]
    side = Agent(provider=main.provider, model=main.model, tools=tools, gate=gate, ctx=main.ctx, emit=lambda e: None,
                 system=main.system + "\n\n" + BTW_NOTE, thinking="off", max_turns=8,
                 messages=settled(main.messages))
    tui.view.aside([("class:user", f"btw › {arg}\n")])
    result: RunFinished = await side.run(arg)
    tui.btw_usage.add(result.usage)
    answer = result.text or result.error or "(no answer)"
    tui.view.aside([("class:notice", "btw ⟶\n"), *render_markdown(answer, tui.theme, max(20, tui.view.width() - 2))])


BTW_NOTE = ("The user asks a side question while you work on the task above. Answer it briefly, from what you "
            "know and by reading; change nothing, and do not continue the main task here.")


def settled(messages: list[Message]) -> list[Message]:
    """A copy of the history up to its last complete step: an assistant tool call whose results are not all in
    yet (the main turn is running) is left out, so the copy is a valid conversation."""
    out = list(messages)
    while out:
        pending: set[str] = set()
        for message in out:
            pending.update(call.id for call in message.tool_calls)
            if message.role == "tool" and message.tool_call_id is not None:
                pending.discard(message.tool_call_id)
        if not pending:
            break
        last_call = max(i for i, m in enumerate(out) if m.tool_calls)
        del out[last_call:]
    return out
