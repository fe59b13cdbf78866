"""The streaming markdown renderer: constructs, code highlighting, tables, robustness, linear cost, and
the same output whatever the delta sizes."""

from __future__ import annotations

import random

import pytest
from prompt_toolkit.utils import get_cwidth

from agent.tui.markdown import Fragments, MarkdownStream, render_markdown
from agent.tui.markdown_inline import SPAN_LIMIT
from agent.tui.themes import get_theme

THEME = get_theme("corral-dark")


def text(fragments: Fragments) -> str:
    return "".join(t for _s, t in fragments)


def lines_of(fragments: Fragments) -> list[str]:
    return text(fragments).split("\n")


def style_of(fragments: Fragments, needle: str) -> str:
    """The style of the fragment that is `needle`, else of the first that contains it."""
    for style, piece in fragments:
        if piece == needle:
            return style
    for style, piece in fragments:
        if needle in piece:
            return style
    raise AssertionError(f"{needle!r} not in {text(fragments)!r}")


def stream(source: str, sizes: list[int] | int, width: int = 80, **kw: str) -> tuple[Fragments, MarkdownStream]:
    """Feed `source` in deltas of the given sizes (cycled), calling live() after each, as the UI does."""
    md = MarkdownStream(THEME, width, **kw)
    steps = [sizes] if isinstance(sizes, int) else sizes
    out: list[Fragments] = []
    pos = k = 0
    while pos < len(source):
        size = steps[k % len(steps)]
        out += md.feed(source[pos:pos + size])
        md.live()
        pos, k = pos + size, k + 1
    out += md.finish()
    for line in out:
        assert line and line[-1][1].endswith("\n") and "\n" not in text(line)[:-1]
    return [f for line in out for f in line], md


def mixed_reply(tokens: int, seed: int = 1) -> str:
    """About `tokens` tokens of markdown: long paragraphs, lists, tables, quotes, a long code block."""
    rng = random.Random(seed)
    words = ("the", "renderer", "**prints lines**", "*once*", "`code`", "[link](https://e.com/a)", "日本語",
             "https://e.org/x", "~~gone~~", "snake_case", "wrapping", "tokens", "a", "terminal")
    parts: list[str] = []
    size = 0
    long_code = False
    while size < tokens * 4:
        r = rng.random()
        if not long_code and size > tokens:
            part = "```python\n" + "".join(f"def f{k}(x):\n    return x * {k}  # times\n" for k in range(400))
            part += "```\n\n"
            long_code = True
        elif r < 0.5:
            part = " ".join(rng.choice(words) for _ in range(rng.randint(50, 500))) + "\n\n"
        elif r < 0.65:
            part = "".join(f"{'  ' * (k % 2)}- item {k} " + " ".join(rng.choice(words) for _ in range(30)) + "\n"
                           for k in range(5)) + "\n"
        elif r < 0.75:
            part = "| a | b |\n|---|--:|\n" + "".join(f"| {rng.choice(words)} | {k} |\n" for k in range(8)) + "\n"
        elif r < 0.85:
            part = "### Heading `x`\n\n> quoted " + " ".join(rng.choice(words) for _ in range(40)) + "\n\n"
        else:
            part = "```js\nconst x = {a: 1, b: 'two'};\n/* a\n   comment */\n```\n\n"
        parts.append(part)
        size += len(part)
    return "".join(parts)


def test_headings_are_styled_by_level() -> None:
    out = render_markdown("# One\n## Two\n###### Six\n#nohash\n", THEME)
    assert lines_of(out)[:4] == ["One", "Two", "Six", "#nohash"]
    assert "class:md.h1" in style_of(out, "One")
    assert "class:md.h2" in style_of(out, "Two")
    assert "class:md.h6" in style_of(out, "Six")
    assert "md.h" not in style_of(out, "#nohash")


def test_inline_emphasis_code_strike() -> None:
    out = render_markdown("a **bold** *it* _it2_ ***both*** ~~gone~~ `x * y` snake_case_name 2 * 3\n", THEME)
    assert text(out) == "a bold it it2 both gone x * y snake_case_name 2 * 3\n"
    assert "class:md.bold" in style_of(out, "bold")
    assert "class:md.italic" in style_of(out, "it2")
    both = style_of(out, "both")
    assert "class:md.bold" in both and "class:md.italic" in both
    assert "class:md.strike" in style_of(out, "gone")
    assert "class:md.code" in style_of(out, "x * y")
    assert "md.italic" not in style_of(out, "snake_case_name")


def test_unclosed_emphasis_and_code_stay_literal() -> None:
    out = render_markdown("an **unclosed bold and `tick and [bracket\n", THEME)
    assert text(out) == "an **unclosed bold and `tick and [bracket\n"
    assert all("md.bold" not in s for s, _t in out)


def test_links_show_text_and_dimmed_url() -> None:
    out = render_markdown("see [the docs](https://e.com/d) or <https://a.b> or https://x.y/z.\n", THEME)
    assert text(out) == "see the docs (https://e.com/d) or https://a.b or https://x.y/z.\n"
    assert "class:md.link" in style_of(out, "the docs")
    assert "class:md.url" in style_of(out, "(https://e.com/d)")
    assert "class:md.link" in style_of(out, "https://a.b")
    assert "class:md.link" in style_of(out, "https://x.y/z")
    assert "md.link" not in style_of(out, ".\n")


def test_lists_nested_ordered_and_tasks() -> None:
    out = render_markdown("- one\n  - nested\n    - deeper\n- two\n\n3. three\n4) four\n- [ ] todo\n- [x] done\n",
                          THEME)
    assert lines_of(out)[:9] == ["• one", "  ◦ nested", "    ▪ deeper", "• two", "", "3. three", "4) four",
                                 "☐ todo", "☑ done"]
    assert "class:md.list.bullet" in style_of(out, "•")


def test_list_item_wraps_with_hanging_indent() -> None:
    out = render_markdown("- " + "word " * 30 + "\n", THEME, width=40)
    lines = lines_of(out)
    assert lines[0].startswith("• word") and lines[1].startswith("  word")
    assert all(get_cwidth(line) <= 40 for line in lines)


def test_quote_rule_and_blank_lines() -> None:
    out = render_markdown("> quoted\n> more\n>\n> after\n\n\n\n---\ntext\n", THEME, width=30)
    assert lines_of(out) == ["│ quoted", "│ more", "│ ", "│ after", "", "─" * 30, "text", ""]
    assert "class:md.quote" in style_of(out, "quoted")
    assert "class:md.rule" in style_of(out, "───")


def test_code_block_is_highlighted_with_code_classes() -> None:
    source = 'Intro:\n```python\ndef f(x):\n    """doc\n    still doc"""\n    return x + 1  # note\n```\n'
    out = render_markdown(source, THEME)
    assert "─── python" in lines_of(out)[1]
    assert "class:md.codeblock.border" in style_of(out, "─── python")
    assert "class:code.keyword" in style_of(out, "def")
    assert "class:code.function" in style_of(out, "f")
    assert "class:code.string" in style_of(out, "still doc")  # the lexer's state carries over lines
    assert "class:code.comment" in style_of(out, "# note")
    assert "class:code.number" in style_of(out, "1")
    assert lines_of(out)[2:6] == ["def f(x):", '    """doc', '    still doc"""', "    return x + 1  # note"]


@pytest.mark.parametrize("fence", ["```", "```nosuchlanguage", "~~~~"])
def test_code_without_known_language_is_plain(fence: str) -> None:
    close = "~~~~" if fence.startswith("~") else "```"
    out = render_markdown(f"{fence}\nif x: **not bold**\n{close}\n", THEME)
    assert "if x: **not bold**" in text(out)
    assert not any("class:code." in s for s, _t in out)
    assert "class:md.codeblock" in style_of(out, "if x")


def test_code_lines_are_emitted_as_they_end() -> None:
    md = MarkdownStream(THEME)
    assert text(md.feed("```python\n")[0]).startswith("─── python")
    assert md.feed("x = 1") == []
    assert text(md.live()) == "x = 1"
    assert [text(line) for line in md.feed("\ny = ")] == ["x = 1\n"]
    assert text([f for line in md.finish() for f in line]) == "y = \n" + "─" * 100 + "\n"  # fence never closed


def test_long_code_block_is_lexed_once_per_line() -> None:
    source = "```python\n" + "value = compute(1, 'two')  # comment\n" * 2000 + "```\n"
    out, md = stream(source, 4)
    assert md.work < 3 * len(source)
    assert text(out).count("value = compute") == 2000


def test_table_aligns_wide_characters_with_box_characters() -> None:
    source = "| Name | 数 |\n|:--|--:|\n| 日本語 | 1 |\n| a | 22 |\n\nafter\n"
    out = render_markdown(source, THEME)
    table = lines_of(out)[:6]
    assert table[0].startswith("┌") and table[2].startswith("├") and table[5].startswith("└")
    assert len({get_cwidth(line) for line in table}) == 1
    assert table[3] == "│ 日本語 │  1 │"
    assert table[4] == "│ a      │ 22 │"
    assert "class:md.table.header" in style_of(out, "Name")
    assert "class:md.table.border" in style_of(out, "┌")


def test_wide_table_cells_wrap_to_the_width() -> None:
    source = "| a | b |\n|---|---|\n| " + "long words " * 20 + "| x |\n"
    lines = lines_of(render_markdown(source, THEME, width=40))[:-1]
    assert all(get_cwidth(line) == 40 for line in lines)
    assert sum("long" in line for line in lines) > 3


def test_table_is_complete_when_a_non_table_line_follows() -> None:
    md = MarkdownStream(THEME)
    assert md.feed("| a | b |\n|---|---|\n| 1 | 2 |\n") == []
    assert "┌" in text(md.live())
    done = md.feed("text after\n")
    assert text(done[0]).startswith("┌") and "text after" in text(done[-1])
    pipes = render_markdown("| not | a table\nplain\n", THEME)
    assert text(pipes) == "| not | a table\nplain\n"


def test_paragraph_lines_are_printed_before_the_paragraph_ends() -> None:
    md = MarkdownStream(THEME, width=40)
    printed: list[Fragments] = []
    for _ in range(50):
        printed += md.feed("some words ")
        assert len(text(md.live())) <= 60  # the live part is the unfinished line only
    assert len(printed) >= 10
    assert all(get_cwidth(text(line)) <= 41 for line in printed)


def test_crlf_tabs_and_control_characters() -> None:
    assert render_markdown("a\r\nb\r\n", THEME) == render_markdown("a\nb\n", THEME)
    out = text(render_markdown("col\tumn \x1b[31mred\x07\n```\n\tindented\n```\n", THEME))
    assert "\x1b" not in out and "\x07" not in out and "␛[31mred␇" in out
    assert "    indented" in out


def test_very_long_line_without_spaces() -> None:
    source = "x" * 50_000 + "\n"
    out, md = stream(source, 7, width=60)
    assert all(get_cwidth(line) <= 60 for line in lines_of(out))
    assert text(out).count("x") == 50_000
    assert md.work < 6 * len(source)


def test_wide_characters_wrap_by_display_width() -> None:
    lines = lines_of(render_markdown("日本語のテキスト" * 20 + "\n", THEME, width=25))[:-1]
    assert all(get_cwidth(line) <= 25 for line in lines) and len(lines) > 5


def test_style_is_added_to_every_fragment() -> None:
    out, _md = stream("thinking **hard**\n\n- about it\n```\ncode\n```\n", 3, style="class:reasoning")
    assert all(style.startswith("class:reasoning") for style, _t in out)


def test_work_grows_linearly_with_the_message() -> None:
    """~20,000 tokens in 4-character deltas with live() after each: work is a constant per character."""
    source = mixed_reply(20_000)
    assert len(source) >= 80_000
    _out, md = stream(source, 4)
    assert md.work < 6 * len(source)
    double = mixed_reply(40_000, seed=2)
    _out, md2 = stream(double, 4)
    assert md2.work / len(double) < 1.3 * md.work / len(source)


def test_unclosed_openers_cost_a_bounded_amount_per_character() -> None:
    """An unclosed "**" blocks the cut for SPAN_LIMIT characters: work per character is bounded by the
    limit, not by the paragraph's length."""
    ratios = []
    for count in (100, 400):
        source = ("**" + "a " * 30) * count + "\n"
        _out, md = stream(source, 4)
        ratios.append(md.work / len(source))
    assert ratios[1] < 1.2 * ratios[0]
    assert ratios[1] < SPAN_LIMIT / 2


def test_same_output_for_any_delta_sizes() -> None:
    source = mixed_reply(3_000, seed=5)
    whole = render_markdown(source, THEME, width=80)
    assert stream(source, 1)[0] == whole
    assert stream(source, [3, 1, 7, 2, 11])[0] == whole
    assert stream(source, len(source))[0] == whole


ATOMS = ("**", "*", "_", "~~", "`", "``", "[", "]", "](", "(http://a.b)", ")", "\\", "\n", "\n\n", " ", "word",
         "日本", "https://x.y/z", "<https://q.r>", "# ", "## ", "- ", "  - ", "1. ", "> ", "|",
         "| a | b |\n|---|---|\n", "```py\n", "```\n", "---\n", "\t", "- [ ] ", "![", "\r\n", "htt", "a_b", "x" * 30)


def test_same_output_for_random_snippets_and_splits() -> None:
    rng = random.Random(20)
    for _ in range(1500):
        source = "".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 50)))
        width = rng.choice((20, 37, 80))
        whole = render_markdown(source, THEME, width)
        sizes = [rng.randint(1, 6) for _ in range(5)]
        assert stream(source, sizes, width)[0] == whole, (source, sizes, width)


def test_a_resize_while_streaming_wraps_what_follows_to_the_new_width() -> None:
    md = MarkdownStream(THEME, 80)
    out: Fragments = []
    for block in md.feed("word " * 40):  # an open paragraph, partly printed at 80 columns
        out += block
    md.resize(40)
    for block in [*md.feed(" tail" * 30 + "\n\n```python\nx = 1\n```\n"), *md.finish()]:
        out += block
    lines = lines_of(out)
    after = lines[lines.index(next(line for line in lines if "tail" in line)):]
    assert after and all(get_cwidth(line) <= 40 for line in after), after
    assert any(get_cwidth(line) > 40 for line in lines)  # what was printed before the resize stays as it was


def test_a_table_row_being_streamed_shows_inside_the_table() -> None:
    md = MarkdownStream(THEME, 60)
    md.feed("| a | b |\n|---|---|\n| 1 | 2 |\n| one | tw")
    live = text(md.live())
    assert "│ one │ tw" in live and "| one" not in live  # in its cells, not as raw markdown
    assert live.count("└") == 1
    md.feed("o |\nafter\n")
    final = text([frag for block in md.finish() for frag in block])
    assert "after" in final


def test_a_resize_rewraps_the_line_being_filled() -> None:
    md = MarkdownStream(THEME, 100)
    out: Fragments = []
    for block in md.feed("- " + "item " * 15):  # a list item, its first line about 77 columns and open
        out += block
    md.resize(40)
    for block in [*md.feed("more " * 20 + "\n"), *md.finish()]:
        out += block
    lines = lines_of(out)
    assert all(get_cwidth(line) <= 40 for line in lines), lines
    assert " ".join(" ".join(lines).split()).count("item") == 15  # nothing lost or doubled
    assert lines[0].lstrip().startswith("•") and not lines[1].lstrip().startswith("•")  # the bullet once
