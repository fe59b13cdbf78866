"""Judging one argument by its role (a path read or written, a variable name, a sed script, shell
code …), once the options that decide roles are known. Used by ``policy/_commands_args.py``.

A word that is not literal is accepted only where its value cannot change what is judged: data that
stays one word (or whose extra words can only be more data), or any data of a program that has no
dangerous option. Everywhere else it makes the command OPAQUE, with a reason naming the word.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from policy._commands_scripts import Findings, awk_program, jq_filter, sed_script, yq_expression
from policy._commands_words import (
    ASSIGN,
    INPUT,
    UNKNOWN_DIR,
    Ctx,
    Layer,
    add_path,
    is_process_substitution,
    judge_assignment,
    may_become_option,
    split_prone,
    sub_word,
)
from policy._types import Kind, Word

if TYPE_CHECKING:
    from policy._commands_args import Item, State

_VAR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[.*\])?", re.S)
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_DATA_FILE = re.compile(r"[^@<]*?[@<](.+)", re.S)
_SCRIPTS: dict[str, Callable[[str], Findings]] = {
    "script:sed": sed_script, "script:awk": awk_program, "script:jq": jq_filter, "script:yq": yq_expression,
}
_WHAT = {"read": "path", "write": "path", "cd": "directory", "var": "variable name", "shell": "shell code",
         "data-file": "data argument", "arith": "expression", "script:sed": "sed script",
         "script:awk": "awk program", "script:jq": "jq filter", "script:yq": "yq expression"}
_DATA = frozenset({"data", "rest"})
_PATHS = frozenset({"read", "write", "file"})


def judge_item(item: Item, files: str, st: State, ctx: Ctx, out: Layer) -> None:
    """Judge one argument; ``files`` says whether the ``file`` role reads or writes."""
    w = item.word
    role = item.role
    if role == "file":
        role = "write" if files == "write" else "read"
    if not w.literal:
        _non_literal(item, role, st, ctx, out)
        return
    v = w.value
    if v == INPUT and item.capable and st.spec.risky:
        out.add(Kind.UNKNOWN, f"{ctx.fed_by} passes its input as arguments, which could be options of "
                f"{st.path} that write files or run code")
    if role in ("read", "write"):
        add_path(w, role == "write", st.path, ctx, out)
    elif role == "cd":
        out.cd = UNKNOWN_DIR if re.fullmatch(r"[-+][0-9]*", v) else w
    elif role == "var":
        m = _VAR.fullmatch(v)
        if m and _runs_code(m.group(2) or ""):
            out.opaque(f"{st.path} evaluates the subscript of {v!r}, which runs the substitution in it")
        elif m:
            judge_assignment(m.group(1), None, ctx, out)
    elif role == "assign":
        m = ASSIGN.match(v)
        if m and _runs_code(v[:m.end()]):
            out.opaque(f"{st.path} evaluates the subscript of {v!r}, which runs the substitution in it")
        elif m:
            judge_assignment(m.group(1), sub_word(w, v[m.end():], v[m.end():]), ctx, out)
    elif role == "kv":
        key, eq, value = v.partition("=")
        if eq:
            role = st.spec.operands.get(key, "data")
            judge_item(type(item)(role, sub_word(w, value, value), item.where), files, st, ctx, out)
    elif role == "arith":
        if _runs_code(v):
            out.opaque(f"{st.path} evaluates {v!r} as arithmetic, which runs the command substitution in it")
    elif role == "shell":
        st.shell(v, ctx, out)
    elif role == "data-file":
        m = _DATA_FILE.match(v)
        if m and m.group(1) != "-":
            add_path(sub_word(w, m.group(1), m.group(1)), False, st.path, ctx, out)
    elif role in _SCRIPTS:
        found = _SCRIPTS[role](v)
        for kind, reason in found.effects:
            out.add(kind, reason)
        for path, write in [(p, False) for p in found.reads] + [(p, True) for p in found.writes]:
            add_path(Word(raw=path, value=path, literal=True), write, st.path, ctx, out)
        if role == "script:yq" and item.index is not None:  # yq FILE alone reads FILE
            add_path(w, False, st.path, ctx, out)


def _runs_code(text: str) -> bool:
    """Text bash evaluates as arithmetic (a subscript, ``let``): ``$(…)`` or backquotes in it run."""
    return "$(" in text or "`" in text


def _non_literal(item: Item, role: str, st: State, ctx: Ctx, out: Layer) -> None:
    w, inert, later = item.word, st.spec.inert, item.later
    if is_process_substitution(w.raw) and role in ("read", "write", "data", "rest"):
        return  # a /dev/fd/N pipe to a command that is judged on its own
    if w.glob:
        if item.capable and not inert and w.value[:1] in ("*", "?", "["):
            out.add(Kind.UNKNOWN, f"the glob {w.raw} could match a file name starting with '-', which "
                    f"{st.path} would take as an option (write ./{w.raw})")
        if role in ("read", "write") and later <= _PATHS:
            add_path(w, role == "write", st.path, ctx, out)
            if role == "read" and ("write" in later or ("file" in later and st.spec.files == "write")):
                add_path(w, True, st.path, ctx, out)  # extra matches may land on a written operand
        elif role in _DATA and (later <= _DATA or inert):
            pass
        else:
            out.opaque(f"the glob {w.raw} ({item.where} of {st.path}) may expand to several words")
        return
    if item.capable and not inert and role in _DATA and may_become_option(w.raw):
        out.opaque(f"{w.raw} ({item.where} of {st.path}) could expand to an option")
    elif role in _DATA or role == "arith":
        if split_prone(w.raw) and not inert and not later <= _DATA:
            out.opaque(f"{w.raw} ({item.where} of {st.path}) may split into several words")
    elif role in ("assign", "kv"):
        m = (ASSIGN if role == "assign" else _KEY).match(w.raw)
        if m is None:
            out.opaque(f"{st.path} {item.where} {w.raw} is not a literal word")
        elif role == "assign":
            judge_assignment(m.group(1), sub_word(w, w.raw[m.end():], w.raw[m.end():]), ctx, out)
        elif st.spec.operands.get(m.group(1), "data") != "data":
            out.opaque(f"{st.path} {m.group(1)}= names a path that is not a literal word: {w.raw}")
    else:
        out.opaque(f"the {_WHAT.get(role, role)} {w.raw} ({item.where} of {st.path}) is not a literal word")
