"""The terminal UI's keys.

- Enter sends (a prompt, a /command, a !command; queued while a turn runs); Alt-Enter or Ctrl-J adds a
  new line; a paste keeps its new lines (bracketed paste never sends).
- Ctrl-C: stops the running turn; else clears the input; twice on an empty prompt exits. Ctrl-D on an
  empty prompt exits.
- Ctrl-O prints the latest folded tool output in full; Tab completes (`@` paths, `/` commands).
- While an approval is pending, one key answers: y allow once, a allow for this session, n deny, t deny
  and tell the model why (type the reason, Enter; not for the user's own !command); nothing else reaches
  the input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.gate import ApprovalAnswer

if TYPE_CHECKING:
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

    from agent.tui.app import Tui


def key_bindings(tui: Tui) -> KeyBindings:
    from prompt_toolkit.filters import Condition
    from prompt_toolkit.key_binding import KeyBindings

    kb = KeyBindings()
    asking = Condition(lambda: tui.approval is not None and not tui.telling)
    def picking() -> bool:
        state = tui.input.buffer.complete_state
        return state is not None and state.current_completion is not None

    completing = Condition(picking)  # a completion is highlighted: Enter takes it

    @kb.add("enter", filter=~asking & ~completing)
    def _send(event: KeyPressEvent) -> None:
        tui.input.buffer.complete_state = None
        text = tui.input.text
        tui.input.buffer.reset()
        tui.submit(text)

    @kb.add("enter", filter=completing)
    def _pick(event: KeyPressEvent) -> None:
        buffer = tui.input.buffer
        state = buffer.complete_state
        if state is not None and state.current_completion is not None:
            buffer.apply_completion(state.current_completion)

    @kb.add("tab", filter=~asking)
    def _complete(event: KeyPressEvent) -> None:
        """Tab: take the first completion (then the next one)."""
        buffer = tui.input.buffer
        if buffer.complete_state is not None:
            buffer.complete_next()
        else:
            buffer.start_completion(select_first=True)

    @kb.add("escape", "enter")
    @kb.add("c-j")
    def _newline(event: KeyPressEvent) -> None:
        tui.input.buffer.insert_text("\n")

    @kb.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        tui.ctrl_c(event)

    @kb.add("c-d", filter=Condition(lambda: not tui.input.text))
    def _exit(event: KeyPressEvent) -> None:
        event.app.exit(result=0)

    @kb.add("c-o")
    def _expand(event: KeyPressEvent) -> None:
        tui.view.expand()

    @kb.add("y", filter=asking)
    def _once(event: KeyPressEvent) -> None:
        tui.answer(ApprovalAnswer(True))

    @kb.add("a", filter=asking)
    def _session(event: KeyPressEvent) -> None:
        request = tui.approval
        if request is not None and request.session_rules:
            tui.answer(ApprovalAnswer(True, remember=True))

    @kb.add("n", filter=asking)
    @kb.add("escape", filter=asking)
    def _deny(event: KeyPressEvent) -> None:
        tui.answer(ApprovalAnswer(False))

    @kb.add("t", filter=asking & Condition(lambda: not tui.own_command))
    def _tell(event: KeyPressEvent) -> None:
        tui.telling = True
        tui.input.buffer.reset()

    @kb.add("<any>", filter=asking)
    def _swallow(event: KeyPressEvent) -> None:
        """While asking, other keys do nothing (a stray key must not answer or type)."""

    return kb
