"""One argv layer judged against its catalog spec: options, operand roles, subcommands.

``parse`` walks the words the way the program's own option parser would (GNU bundling and long-option
abbreviations, POSIX stop-at-first-operand, find-style single-dash words), records what each word
does in a ``Layer`` (kinds with reasons, read and write paths, a ``cd`` target, inner commands and
shell code to look into) and never guesses: a word whose meaning depends on a run-time expansion
makes the layer OPAQUE, with a reason naming the word. Operand roles are judged in
``policy/_commands_roles.py``; ``policy/_commands.py`` drives both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import field
from fnmatch import fnmatchcase

from policy._catalog_specs import CommandSpec, OptionSpec, Roles
from policy._commands_roles import judge_item
from policy._commands_words import (
    CWD,
    ENV_ASSIGN,
    EXEC_PLACEHOLDERS,
    HOME,
    INPUT,
    INPUT_WORD,
    UNKNOWN_DIR,
    VERB,
    Ctx,
    Inner,
    Layer,
    ShellCode,
    add_path,
    judge_assignment,
    split_prone,
    sub_word,
    unknown_path,
)
from policy._types import Kind, Word
from policy._values import record

_RAW_OPTION = re.compile(r"(--?[A-Za-z0-9][-A-Za-z0-9_.]*)=")
_UNKNOWN_LATER = frozenset({"?"})  # an option's value: extra words from an expansion land anywhere


@record
class Item:
    """A word to judge by its role once every option is known."""

    role: str
    word: Word
    where: str
    capable: bool = False  # the word sits where an option could (a non-literal one may become one)
    later: frozenset[str] = _UNKNOWN_LATER  # roles a split or globbed word could spill into
    index: int | None = None


@record
class State:
    spec: CommandSpec
    prog: str  # the program as named in reasons ("git", "python -m pytest")
    path: str  # the program and its subcommands ("git stash push")
    sub: str  # the subcommand word that led here ("" at the top)
    seen: list[OptionSpec] = field(default_factory=list)
    positionals: list[tuple[Word, bool]] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    dashdash: bool = False
    dispatched: bool = False
    terminal: bool = False
    data_mode: bool = False

    def fmt(self, text: str, *, opt: str = "", word: str = "") -> str:
        """Fill a catalog reason's placeholders."""
        return (text.replace("{name}", self.prog).replace("{sub}", self.sub).replace("{opt}", opt)
                .replace("{word}", word))

    def reason(self, text: str | None, kind: Kind, *, opt: str = "") -> str:
        return self.fmt(text, opt=opt) if text else f"{self.path}{' ' + opt if opt else ''} {VERB[kind]}"

    def roles(self) -> tuple[Roles, bool]:
        """The operand roles in effect, and whether an option replaced the spec's own."""
        if self.data_mode:
            return Roles((), "data"), False
        for opt in self.seen:
            if opt.args is not None:
                return opt.args, True
        return self.spec.args, False

    def shell(self, source: str, ctx: Ctx, out: Layer) -> None:
        """Shell code this command runs: analysed later, unless file names are pasted into it."""
        if source.strip() in ("", "-"):
            return
        for ph in (*ctx.placeholders, *self.placeholders):
            if ph and ph in source:
                out.opaque(f"{self.path} substitutes file names into shell code ({ph} in {source!r})")
                return
        out.shells.append(ShellCode(source, self.path))


def parse(spec: CommandSpec, args: Sequence[Word], ctx: Ctx, out: Layer, prog: str, *,
          path: str | None = None, sub: str = "") -> None:
    """Judge ``args`` (the words after the program name ``prog``) against ``spec``, adding to ``out``."""
    path = path or prog
    if spec.info and all(w.literal for w in args) and tuple(w.value for w in args) in spec.info:
        out.add(Kind.READ, f"{path} {' '.join(w.value for w in args)} prints information")
        return
    words = list(args)
    if spec.old_style and words and words[0].literal and words[0].value[:1] not in ("", "-"):
        words = _expand_old_style(spec, words)
    if spec.default_sub is not None and (not words or (words[0].literal and words[0].value.startswith("-"))):
        parse(spec.subs[spec.default_sub], words, ctx, out, prog, path=f"{path} {spec.default_sub}",
              sub=spec.default_sub)
        return
    st = State(spec, prog, path, sub)
    ended = spec.style == "none"
    i = 0
    while i < len(words):
        w = words[i]
        if not ended:
            if w.literal and w.value == "--":
                ended, st.dashdash = True, True
                i += 1
                continue
            if _looks_like_option(w):
                i = _option(words, i, st, ctx, out)
                if st.dispatched:
                    break
                continue
        if w.literal and any(fnmatchcase(w.value, p) for p in spec.ignore):
            i += 1
            continue
        roles, _ = st.roles()
        if roles.terminal == len(st.positionals) and _terminal(roles.front[-1], words[i:], st, ctx, out):
            break
        st.positionals.append((w, not ended))
        ended = ended or spec.style == "posix"
        i += 1
    _finish(st, ctx, out)


def _looks_like_option(w: Word) -> bool:
    if w.literal:
        return len(w.value) > 1 and w.value.startswith("-")
    return _RAW_OPTION.match(w.raw) is not None


def _expand_old_style(spec: CommandSpec, words: list[Word]) -> list[Word]:
    """``tar czf x.tgz dir`` → ``tar -c -z -f x.tgz dir``: each letter's value is the next word."""
    queue = words[1:]
    out: list[Word] = []
    for ch in words[0].value:
        flag = "-" + ch
        out.append(Word(raw=flag, value=flag, literal=True))
        opt = spec.options.get(flag)
        if opt is not None and not opt.optional:
            for _ in opt.values:
                if queue:
                    out.append(queue.pop(0))
    return out + queue


def _option(words: list[Word], i: int, st: State, ctx: Ctx, out: Layer) -> int:
    """Handle the option word ``words[i]``; returns the index of the next unconsumed word."""
    spec, w = st.spec, words[i]
    if not w.literal:  # --name=$value: the name is literal, the value is not
        m = _RAW_OPTION.match(w.raw)
        assert m is not None
        name = m.group(1)
        opt = spec.options.get(name) or _prefixed(spec, name)
        inline = sub_word(w, w.value.partition("=")[2], w.raw[m.end():])
        if opt is not None and opt.values:
            return _apply(opt, name, words, i + 1, inline, st, ctx, out)
        if not spec.inert:
            out.opaque(f"{st.path} option {w.raw} has a value that is not a literal word")
        return i + 1
    v = w.value
    if v.startswith("--") or spec.style == "single-dash" or v in spec.options:
        name, eq, rest = v.partition("=") if v not in spec.options else (v, "", "")
        opt = spec.options.get(name)
        if opt is None and v.startswith("--") and spec.style in ("gnu", "posix"):
            opt = _prefixed(spec, name)
        attached = sub_word(w, rest, w.raw.partition("=")[2]) if eq else None
        if opt is None:
            if attached is not None and rest.startswith(("/", "~")):
                add_path(attached, False, st.path, ctx, out)
            return i + 1
        return _apply(opt, name, words, i + 1, attached, st, ctx, out)
    for j in range(1, len(v)):  # bundled short options: -abc, -n20, -ofile
        opt = spec.options.get("-" + v[j])
        if opt is None:
            continue
        if not opt.values:
            _apply(opt, "-" + v[j], words, i + 1, None, st, ctx, out)
            continue
        rest = v[j + 1:]
        if rest:
            raw = w.raw[j + 1:] if w.raw.startswith(v[:j + 1]) else rest
            return _apply(opt, "-" + v[j], words, i + 1, sub_word(w, rest, raw), st, ctx, out)
        return _apply(opt, "-" + v[j], words, i + 1, None, st, ctx, out)
    return i + 1


def _prefixed(spec: CommandSpec, name: str) -> OptionSpec | None:
    """An abbreviated long option (``--out`` for ``--output``), matched only against dangerous ones."""
    if len(name) < 3:
        return None
    found = [spec.options[n] for n in spec.prefixable if n.startswith(name)]
    return max(found, key=lambda o: max(o.kind or 0, o.base or 0, 1), default=None)


def _apply(opt: OptionSpec, used: str, words: list[Word], j: int, inline: Word | None, st: State,
           ctx: Ctx, out: Layer) -> int:
    """Apply option ``opt`` (written as ``used``) whose values start at ``words[j]``."""
    st.seen.append(opt)
    roles = opt.values
    if roles and roles[0] in ("exec", "execdir"):  # find -exec CMD ... ; / {} +
        inner: list[Word] = []
        while j < len(words):
            a = words[j]
            j += 1
            if a.literal and (a.value == ";" or (a.value == "+" and inner and inner[-1].value == "{}")):
                break
            inner.append(a)
        if inner:
            ph = (*ctx.placeholders, *EXEC_PLACEHOLDERS)
            out.inner.append(Inner(tuple(inner), ph, roles[0] == "execdir", f"{st.path} {used}"))
        _option_effect(opt, used, [], st, out)
        return j
    if roles == ("sub",):  # python -m MODULE ...
        target = inline if inline is not None else (words[j] if j < len(words) else None)
        rest = words[j:] if inline is not None else words[j + 1:]
        _option_effect(opt, used, [], st, out)
        if target is not None:
            st.dispatched = True
            dispatch(target, rest, st, ctx, out, via=used)
        return len(words)
    values: list[Word] = [] if inline is None else [inline]
    if not opt.optional:
        while len(values) < len(roles) and j < len(words):
            values.append(words[j])
            j += 1
    for role, word in zip(roles, values, strict=False):
        if role == "placeholder":
            st.placeholders.append(word.value)
        else:
            st.items.append(Item(role, word, f"the value of {used}"))
    if roles == ("placeholder",) and not values:
        st.placeholders.append("{}")
    for rule in st.spec.words:
        if rule.option in opt.names:
            for word in values:
                word_rule(rule.match, rule.kind, rule.reason, word, st, out)
    _option_effect(opt, used, values, st, out)
    return j


def _option_effect(opt: OptionSpec, used: str, values: list[Word], st: State, out: Layer) -> None:
    if opt.kind is None:
        return
    if opt.unless and values and all(v.literal for v in values) and any(
        fnmatchcase(v.value.lower(), p) for v in values for p in opt.unless
    ):
        return
    out.add(opt.kind, st.reason(opt.reason, opt.kind, opt=used))


def word_rule(match: tuple[str, ...], kind: Kind, reason: str | None, word: Word, st: State,
              out: Layer) -> None:
    if not word.literal and (not word.glob or word.value[:1] in ("*", "?", "[")):
        out.opaque(f"{st.path} cannot check the argument {word.raw}: it is not a literal word")
    elif any(fnmatchcase(word.value, p) for p in match):
        out.add(kind, st.fmt(reason, word=word.value) if reason else f"{st.path} {word.value} {VERB[kind]}")


def dispatch(word: Word, rest: Sequence[Word], st: State, ctx: Ctx, out: Layer, *, via: str = "") -> bool:
    """Run subcommand ``word``; False when it is unknown and the spec treats it as data."""
    spec = st.spec
    if not word.literal:
        out.opaque(f"the {st.path} subcommand {word.raw} is not a literal word")
        st.dispatched = True
        return True
    sub = spec.subs.get(word.value)
    if sub is not None:
        st.dispatched = True
        name = f"{st.path} {via} {word.value}" if via else f"{st.path} {word.value}"
        parse(sub, rest, ctx, out, name if via else st.prog, path=name, sub=word.value)
        return True
    if spec.unknown_sub is None:
        st.data_mode = True
        return False
    eff = spec.unknown_sub
    st.sub = word.value
    named = f"{st.path} {via + ' ' if via else ''}{word.value}"
    out.add(eff.kind, st.fmt(eff.reason) if eff.reason else f"{named} is not in the command catalog")
    st.dispatched = True
    return True


def _terminal(role: str, words: list[Word], st: State, ctx: Ctx, out: Layer) -> bool:
    """A role that takes every remaining word. Returns False when the word stays a plain operand."""
    if role == "sub":
        return dispatch(words[0], words[1:], st, ctx, out)
    st.terminal = True
    if role == "assign-command":  # env/sudo: NAME=VALUE ... then a command
        while words and (m := ENV_ASSIGN.match(words[0].value if words[0].literal else words[0].raw)):
            w = words.pop(0)
            text = w.value if w.literal else w.raw
            if not w.literal and (any(c in m.group(1) for c in "$`'\"\\") or split_prone(w.raw)):
                out.opaque(f"{st.path} {w.raw} may set another variable or split into a different command")
            judge_assignment(m.group(1), sub_word(w, text[m.end():], text[m.end():]), ctx, out)
        if not words:
            eff = st.spec.without_args
            if eff is not None:
                out.add(eff.kind, st.reason(eff.reason, eff.kind))
            return True
        role = "command"
    if role == "input-command":  # xargs: words from its input are appended, or replace -I's string
        fed = tuple(st.placeholders) or (INPUT,)
        argv = tuple(words) if st.placeholders else (*words, INPUT_WORD)
        out.inner.append(Inner(argv, (*ctx.placeholders, *fed), False, st.path))
    elif role == "command":
        out.inner.append(Inner(tuple(words), (*ctx.placeholders, *st.placeholders), False, st.path))
    elif role == "shell-joined":
        if all(w.literal for w in words):
            st.shell(" ".join(w.value for w in words), ctx, out)
        else:
            out.opaque(f"{st.path} runs shell code that is not literal: {' '.join(w.raw for w in words)}")
    return True


def _finish(st: State, ctx: Ctx, out: Layer) -> None:
    spec = st.spec
    roles, replaced = st.roles()
    n = len(st.positionals)
    for idx, (w, capable) in enumerate(st.positionals):
        st.items.append(Item(roles.role_at(idx, n), w, f"argument {idx + 1}", capable,
                             roles.from_index(idx), idx))
    files = spec.files
    chosen = [o.files for o in st.seen if o.files is not None]
    if chosen:
        files = "write" if "write" in chosen else "read"
    for item in st.items:
        judge_item(item, files, st, ctx, out)
    if not replaced:
        for rule in spec.words:
            if rule.option is None:
                for idx, (w, _) in enumerate(st.positionals):
                    if rule.index is None or rule.index == idx:
                        word_rule(rule.match, rule.kind, rule.reason, w, st, out)
    if st.dispatched:
        return
    for eff, applies in ((spec.with_args, not replaced and spec.with_args is not None
                          and n >= spec.with_args.min),
                         (spec.without_args, n == 0 and not st.terminal),
                         (spec.dashdash, st.dashdash)):
        if eff is not None and applies:
            out.add(eff.kind, st.reason(eff.reason, eff.kind))
    bases = [o for o in st.seen if o.base is not None]
    if bases:
        top = max(bases, key=lambda o: o.base or 0)
        kind = top.base or Kind.NEUTRAL
        out.add(kind, st.reason(top.reason, kind, opt=top.name))
    else:
        out.add(spec.kind, st.reason(spec.reason, spec.kind))
    if (spec.writes_cwd or any(o.writes_cwd for o in st.seen)) and out.kind >= Kind.WRITE:
        add_path(CWD, True, st.path, ctx, out)
    for what in [spec.reads_unknown, *(o.reads_unknown for o in st.seen)]:
        if what:
            out.reads.append(unknown_path(what))
            out.add(Kind.READ, f"{st.path} reads {what}, which cannot be checked before it runs")
    for what in [spec.writes_unknown, *(o.writes_unknown for o in st.seen)]:
        if what and out.kind >= Kind.WRITE:
            out.writes.append(unknown_path(what))
            out.add(Kind.WRITE, f"{st.path} writes {what}, which cannot be checked before it runs")
    if roles.front[:1] == ("cd",) and n == 0:
        out.cd = HOME if spec.without_args is None else UNKNOWN_DIR

