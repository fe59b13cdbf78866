"""Themes of the terminal UI: one style class per thing the UI draws, coloured per theme.

Every part of the front end (markdown, tool calls, approvals, the status line, the prompt) styles its text
with the class names in `STYLE_CLASSES`, never with colours, so a theme is only a mapping from those
classes to prompt_toolkit style strings. Colour themes are built from a small palette through one
template, so adding a theme is adding a palette; `MONOCHROME` (for `--no-color` and NO_COLOR,
https://no-color.org) uses text attributes only. Themes are designed for a terminal of their own
background colour (`Theme.background`), which the UI never paints: it only colours text, code and menus.
prompt_toolkit is imported only when a style is built (`pt_style`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from agent.errors import UsageError
from agent.values import frozen

if TYPE_CHECKING:
    from prompt_toolkit.output import ColorDepth
    from prompt_toolkit.styles import Style

DEFAULT_THEME = "corral-dark"

CODE_CLASSES = ("keyword", "name", "string", "number", "comment", "operator", "builtin", "function", "class",
                "decorator", "punctuation", "error", "inserted", "deleted", "heading")

# class -> template over palette keys: bg fg dim faint surface sel accent accent2 red green yellow blue
# magenta cyan orange
_TEMPLATE: dict[str, str] = {
    "md.h1": "bold underline {accent}", "md.h2": "bold {accent}", "md.h3": "bold {accent2}",
    "md.h4": "bold {fg}", "md.h5": "italic {accent2}", "md.h6": "italic {dim}",
    "md.bold": "bold", "md.italic": "italic", "md.strike": "strike",
    "md.code": "{orange} bg:{surface}", "md.codeblock": "{fg}", "md.codeblock.border": "{faint}",
    "md.link": "underline {blue}", "md.url": "{dim}", "md.quote": "italic {dim}",
    "md.list.bullet": "{accent}", "md.table.border": "{faint}", "md.table.header": "bold {accent2}",
    "md.rule": "{faint}",
    "code.keyword": "{magenta}", "code.name": "{fg}", "code.string": "{green}", "code.number": "{orange}",
    "code.comment": "italic {dim}", "code.operator": "{cyan}", "code.builtin": "{cyan}",
    "code.function": "{blue}", "code.class": "bold {yellow}", "code.decorator": "{orange}",
    "code.punctuation": "{fg}", "code.error": "{red}", "code.inserted": "{green}", "code.deleted": "{red}",
    "code.heading": "bold {accent}",
    "reasoning": "italic {dim}", "user": "bold {fg}",
    "tool": "{dim}", "tool.name": "bold {cyan}", "tool.arg": "{fg}", "tool.allow": "{green}",
    "tool.ask": "bold {yellow}", "tool.deny": "bold {red}", "tool.error": "{red}", "tool.output": "{dim}",
    "status": "{dim}", "status.mode": "bold {accent}", "status.warn": "bold {yellow}",
    "approval": "bold {yellow}", "approval.key": "bold {accent}", "approval.rule": "italic {cyan}",
    "notice": "{cyan}", "error": "bold {red}", "queued": "italic {dim}", "prompt": "bold {accent}",
    "completion-menu": "bg:{surface} {fg}", "completion-menu.completion": "bg:{surface} {fg}",
    "completion-menu.completion.current": "bold bg:{sel} {fg}",
    "completion-menu.meta.completion": "bg:{surface} {dim}",
    "completion-menu.meta.completion.current": "bg:{sel} {fg}",
    "scrollbar.background": "bg:{surface}", "scrollbar.button": "bg:{faint}",
}

STYLE_CLASSES: tuple[str, ...] = tuple(_TEMPLATE)

_MONO: dict[str, str] = {
    "md.h1": "bold underline", "md.h2": "bold", "md.h3": "bold italic", "md.h4": "bold", "md.h5": "italic",
    "md.h6": "italic", "md.bold": "bold", "md.italic": "italic", "md.strike": "strike", "md.code": "bold",
    "md.codeblock": "", "md.codeblock.border": "", "md.link": "underline", "md.url": "italic",
    "md.quote": "italic", "md.list.bullet": "bold", "md.table.border": "", "md.table.header": "bold",
    "md.rule": "", "code.keyword": "bold", "code.name": "", "code.string": "", "code.number": "",
    "code.comment": "italic", "code.operator": "", "code.builtin": "", "code.function": "",
    "code.class": "bold", "code.decorator": "italic", "code.punctuation": "", "code.error": "underline",
    "code.inserted": "bold", "code.deleted": "strike", "code.heading": "bold",
    "reasoning": "italic", "user": "bold", "tool": "", "tool.name": "bold", "tool.arg": "",
    "tool.allow": "", "tool.ask": "bold", "tool.deny": "bold underline", "tool.error": "bold",
    "tool.output": "", "status": "reverse", "status.mode": "reverse bold", "status.warn": "reverse bold",
    "approval": "bold", "approval.key": "reverse bold", "approval.rule": "italic", "notice": "italic",
    "error": "bold", "queued": "italic", "prompt": "bold", "completion-menu": "reverse",
    "completion-menu.completion": "reverse", "completion-menu.completion.current": "bold",
    "completion-menu.meta.completion": "reverse", "completion-menu.meta.completion.current": "bold",
    "scrollbar.background": "reverse", "scrollbar.button": "",
}


@frozen
class Theme:
    """A named mapping of every class in STYLE_CLASSES to a prompt_toolkit style string. `dark` says the
    theme is made for a dark terminal; `pygments` names the closest pygments style (for exports);
    `background` is the terminal colour the theme assumes (empty for MONOCHROME)."""

    name: str
    dark: bool
    styles: Mapping[str, str] = dataclasses.field(compare=False, repr=False)
    pygments: str = "default"
    background: str = ""


def _theme(name: str, dark: bool, pygments: str, palette: str) -> Theme:
    keys = ("bg", "fg", "dim", "faint", "surface", "sel", "accent", "accent2", "red", "green", "yellow",
            "blue", "magenta", "cyan", "orange")
    colours = dict(zip(keys, (f"#{c}" for c in palette.split()), strict=True))
    styles = {cls: spec.format(**colours) for cls, spec in _TEMPLATE.items()}
    return Theme(name, dark, styles, pygments, colours["bg"])


# palettes: bg fg dim faint surface sel accent accent2 red green yellow blue magenta cyan orange
THEMES: tuple[Theme, ...] = (
    _theme("corral-dark", True, "one-dark",
           "1c1f24 d7dae0 8a919c 4b525c 2a2f36 3a4250 e0a458 7fb4ca e06c6c 8fc27a e5c07b 6cb6ff c792ea 5fc9c9 f0a45d"),
    _theme("corral-light", False, "friendly",
           "fbfaf7 2b2f36 646a74 c5c8cc efede8 dcd6c8 a35a00 1f6f8b c0392b 2f7d32 8a6d00 1f5fbf 8e44ad 11707a b4530a"),
    _theme("solarized-dark", True, "solarized-dark",
           "002b36 93a1a1 708a90 4a6770 073642 0d4d5c b58900 268bd2 dc322f 859900 b58900 268bd2 d33682 2aa198 cb4b16"),
    _theme("solarized-light", False, "solarized-light",
           "fdf6e3 586e75 6f8389 b9b7a6 eee8d5 e0d9c3 b58900 268bd2 dc322f 859900 a67c00 268bd2 d33682 2aa198 cb4b16"),
    _theme("gruvbox-dark", True, "gruvbox-dark",
           "282828 ebdbb2 a89984 665c54 3c3836 504945 fabd2f 83a598 fb4934 b8bb26 fabd2f 83a598 d3869b 8ec07c fe8019"),
    _theme("gruvbox-light", False, "gruvbox-light",
           "fbf1c7 3c3836 7c6f64 bdae93 ebdbb2 d5c4a1 af3a03 076678 9d0006 79740e b57614 076678 8f3f71 427b58 af3a03"),
    _theme("nord", True, "nord",
           "2e3440 d8dee9 9aa3b5 4c566a 3b4252 434c5e 88c0d0 81a1c1 bf616a a3be8c ebcb8b 81a1c1 b48ead 8fbcbb d08770"),
    _theme("dracula", True, "dracula",
           "282a36 f8f8f2 8e9ac8 6272a4 44475a 565a70 bd93f9 ff79c6 ff5555 50fa7b f1fa8c 8be9fd ff79c6 8be9fd ffb86c"),
    _theme("monokai", True, "monokai",
           "272822 f8f8f2 a59f85 75715e 3e3d32 49483e a6e22e 66d9ef f92672 a6e22e e6db74 66d9ef f92672 66d9ef fd971f"),
    _theme("one-dark", True, "one-dark",
           "282c34 abb2bf 8a909c 5c6370 2f343f 3e4451 61afef c678dd e06c75 98c379 e5c07b 61afef c678dd 56b6c2 d19a66"),
    _theme("one-light", False, "xcode",
           "fafafa 383a42 696c77 c2c3c7 f0f0f0 e0e0e3 4078f2 a626a4 e45649 50a14f 986801 4078f2 a626a4 0184bc b35900"),
    _theme("tokyo-night", True, "night-owl",
           "1a1b26 c0caf5 8089b3 565f89 24283b 364a82 7aa2f7 bb9af7 f7768e 9ece6a e0af68 7aa2f7 bb9af7 7dcfff ff9e64"),
    _theme("github-dark", True, "github-dark",
           "0d1117 e6edf3 8b949e 30363d 161b22 264f78 79c0ff d2a8ff ff7b72 7ee787 e3b341 79c0ff d2a8ff a5d6ff ffa657"),
    _theme("github-light", False, "default",
           "ffffff 1f2328 656d76 d0d7de f6f8fa ddf4ff 0550ae 8250df cf222e 116329 9a6700 0550ae 8250df 0a3069 953800"),
    _theme("catppuccin-mocha", True, "native",
           "1e1e2e cdd6f4 9399b2 585b70 313244 45475a cba6f7 89b4fa f38ba8 a6e3a1 f9e2af 89b4fa cba6f7 94e2d5 fab387"),
    _theme("catppuccin-latte", False, "friendly",
           "eff1f5 4c4f69 6c6f85 acb0be e6e9ef ccd0da 8839ef 1e66f5 d20f39 40a02b df8e1d 1e66f5 8839ef 179299 fe640b"),
)

MONOCHROME = Theme("mono", True, dict(_MONO), "bw", "")

_BY_NAME: dict[str, Theme] = {theme.name: theme for theme in (*THEMES, MONOCHROME)}
_styles: dict[str, Style] = {}


def theme_names() -> list[str]:
    """Every name `get_theme` accepts: the colour themes, then "mono"."""
    return list(_BY_NAME)


def get_theme(name: str | None, *, no_color: bool = False) -> Theme:
    """The theme called `name` (case-insensitive; None: the default). `no_color` gives MONOCHROME whatever
    the name, but a misspelt name is still reported."""
    theme = _BY_NAME.get((name or DEFAULT_THEME).strip().lower())
    if theme is None:
        raise UsageError(f"unknown theme {name!r}: choose one of {', '.join(theme_names())} "
                         f"(--theme NAME, or /theme NAME in the UI)")
    return MONOCHROME if no_color else theme


def no_color_requested(environ: Mapping[str, str]) -> bool:
    """NO_COLOR present and not empty (https://no-color.org)."""
    return bool(environ.get("NO_COLOR"))


def pt_style(theme: Theme) -> Style:
    """The prompt_toolkit Style of `theme` (built once per theme)."""
    style = _styles.get(theme.name)
    if style is None:
        from prompt_toolkit.styles import Style

        style = _styles[theme.name] = Style.from_dict(dict(theme.styles))
    return style


def color_depth(theme: Theme) -> ColorDepth | None:
    """The colour depth to give the Application: one bit for MONOCHROME (so prompt_toolkit's own default
    colours disappear too), else None (prompt_toolkit detects the terminal's)."""
    if theme.name != MONOCHROME.name:
        return None
    from prompt_toolkit.output import ColorDepth

    return ColorDepth.DEPTH_1_BIT
