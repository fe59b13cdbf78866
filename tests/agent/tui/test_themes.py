"""Themes: every class in every theme, readable colours, NO_COLOR, names and errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from prompt_toolkit.output import ColorDepth

from agent.errors import UsageError
from agent.tui.themes import (
    CODE_CLASSES,
    DEFAULT_THEME,
    MONOCHROME,
    STYLE_CLASSES,
    THEMES,
    Theme,
    color_depth,
    get_theme,
    no_color_requested,
    pt_style,
    theme_names,
)

REPO = Path(__file__).resolve().parents[3]
# drawn lines and scrollbars may be faint; text must stay readable
FAINT = {"md.codeblock.border", "md.table.border", "md.rule"}
REQUIRED = ("md.h1", "md.h2", "md.h3", "md.h4", "md.h5", "md.h6", "md.bold", "md.italic", "md.strike", "md.code",
            "md.codeblock", "md.codeblock.border", "md.link", "md.url", "md.quote", "md.list.bullet",
            "md.table.border", "md.table.header", "md.rule", "reasoning", "user", "tool", "tool.name", "tool.arg",
            "tool.allow", "tool.ask", "tool.deny", "tool.error", "tool.output", "status", "status.mode",
            "status.warn", "approval", "approval.key", "approval.rule", "notice", "error", "queued", "prompt",
            "completion-menu", "completion-menu.completion", "completion-menu.completion.current")


def luminance(colour: str) -> float:
    channels = [int(colour[k:k + 2], 16) / 255 for k in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def colours(spec: str) -> tuple[str | None, str | None]:
    words = spec.split()
    fg = next((w for w in words if w.startswith("#")), None)
    bg = next((w[3:] for w in words if w.startswith("bg:")), None)
    return fg, bg


def test_at_least_twelve_dark_and_light_themes_with_unique_names() -> None:
    assert len(THEMES) >= 12
    assert sum(t.dark for t in THEMES) >= 4 and sum(not t.dark for t in THEMES) >= 4
    names = theme_names()
    assert len(names) == len(set(names)) == len(THEMES) + 1
    assert names[-1] == "mono" and DEFAULT_THEME in names
    for wanted in ("corral-dark", "corral-light", "solarized-dark", "solarized-light", "gruvbox-dark", "nord",
                   "dracula", "monokai", "github-light", "one-dark", "tokyo-night", "catppuccin-latte"):
        assert wanted in names


@pytest.mark.parametrize("theme", [*THEMES, MONOCHROME], ids=lambda t: t.name)
def test_every_theme_defines_every_class_and_builds(theme: Theme) -> None:
    assert set(theme.styles) == set(STYLE_CLASSES)
    assert set(REQUIRED) <= set(theme.styles)
    assert {f"code.{c}" for c in CODE_CLASSES} <= set(theme.styles)
    style = pt_style(theme)
    assert pt_style(theme) is style  # built once
    for cls in STYLE_CLASSES:
        style.get_attrs_for_style_str(f"class:{cls}")  # every spec parses


@pytest.mark.parametrize("theme", THEMES, ids=lambda t: t.name)
def test_colours_contrast_with_the_theme_background(theme: Theme) -> None:
    bg = theme.background
    assert luminance(bg) < 0.1 if theme.dark else luminance(bg) > 0.7
    for cls, spec in theme.styles.items():
        fg, own_bg = colours(spec)
        if fg is None:
            continue
        against = own_bg or bg
        lighter = luminance(fg) > luminance(against)
        assert lighter == theme.dark, f"{theme.name}: {cls} {fg} on {against}"
        assert contrast(fg, against) >= (1.4 if cls in FAINT else 2.2), f"{theme.name}: {cls} {fg} on {against}"
    body, _ = colours(theme.styles["md.codeblock"])
    assert body is not None and contrast(body, bg) >= 4.5


def test_monochrome_uses_attributes_only() -> None:
    style = pt_style(MONOCHROME)
    for cls, spec in MONOCHROME.styles.items():
        assert not any(w.startswith(("#", "bg:", "fg:", "ansi")) for w in spec.split()), cls
        attrs = style.get_attrs_for_style_str(f"class:{cls}")
        assert attrs.color in ("", None) and attrs.bgcolor in ("", None), cls
    assert style.get_attrs_for_style_str("class:md.h1").bold
    assert style.get_attrs_for_style_str("class:md.italic").italic
    assert style.get_attrs_for_style_str("class:status").reverse
    assert color_depth(MONOCHROME) == ColorDepth.DEPTH_1_BIT
    assert color_depth(get_theme("nord")) is None


def test_get_theme_by_name_default_and_no_color() -> None:
    assert get_theme(None).name == DEFAULT_THEME
    assert get_theme("  Nord ").name == "nord"
    assert get_theme("mono") is MONOCHROME
    assert get_theme("dracula", no_color=True) is MONOCHROME
    assert get_theme(None, no_color=True) is MONOCHROME


def test_unknown_theme_lists_the_names() -> None:
    with pytest.raises(UsageError) as err:
        get_theme("solarised")
    message = str(err.value)
    assert "solarised" in message and "--theme" in message
    for name in theme_names():
        assert name in message
    with pytest.raises(UsageError):
        get_theme("nope", no_color=True)  # a typo is reported even when colours are off


def test_no_color_variable() -> None:
    assert no_color_requested({"NO_COLOR": "1"})
    assert no_color_requested({"NO_COLOR": "0"})  # any non-empty value
    assert not no_color_requested({"NO_COLOR": ""})
    assert not no_color_requested({"TERM": "xterm"})
    env = {"NO_COLOR": "yes"}
    assert get_theme("gruvbox-light", no_color=no_color_requested(env)) is MONOCHROME


def test_pygments_styles_exist() -> None:
    from pygments.styles import get_style_by_name

    for theme in (*THEMES, MONOCHROME):
        get_style_by_name(theme.pygments)


def test_importing_themes_does_not_import_prompt_toolkit() -> None:
    code = "import sys, agent.tui.themes; print('prompt_toolkit' in sys.modules, 'pygments' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
