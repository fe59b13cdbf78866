"""Static checks of the little programs read-only tools take: sed scripts, awk programs, jq filters
and yq expressions.

Each checker returns ``Findings``: the kinds the program adds (``sed w`` writes, ``awk system()``
runs commands …), with reasons, and the literal file names it reads or writes. A program the checker
cannot follow is reported as UNKNOWN: a checker never guesses that code is harmless.
"""

from __future__ import annotations

import re
from dataclasses import field

from policy._types import Kind
from policy._values import record


@record
class Findings:
    effects: list[tuple[Kind, str]] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)


class _Unparsable(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# sed


def sed_script(text: str) -> Findings:
    """Find the commands of a (GNU) sed script that write files (``w``, ``W``, ``s///w``), read
    files (``r``, ``R``) or run commands (``e``, ``s///e``)."""
    out = Findings()
    try:
        _Sed(text, out).run()
    except _Unparsable as exc:
        out.effects.append((Kind.UNKNOWN, f"sed script could not be checked ({exc})"))
    return out


class _Sed:
    _SIMPLE = frozenset("=dDgGhHnNpPxzF")

    def __init__(self, text: str, out: Findings) -> None:
        self.s, self.i, self.out = text, 0, out

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip(self, chars: str) -> None:
        while self.i < len(self.s) and self.s[self.i] in chars:
            self.i += 1

    def rest_of_line(self) -> str:
        end = self.s.find("\n", self.i)
        end = len(self.s) if end < 0 else end
        text, self.i = self.s[self.i:end], end
        return text

    def until(self, stops: str) -> str:
        start = self.i
        while self.i < len(self.s) and self.s[self.i] not in stops:
            self.i += 1
        return self.s[start:self.i]

    def delimited(self, delim: str) -> None:
        """Skip a regex or replacement ending at an unescaped ``delim``."""
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == "\\":
                self.i += 2
                continue
            self.i += 1
            if ch == delim:
                return
            if ch == "\n":
                raise _Unparsable("newline inside a regular expression")
        raise _Unparsable("unterminated regular expression or replacement")

    def address(self, second: bool) -> None:
        ch = self.peek()
        if ch.isdigit() or (second and ch in "+~"):
            self.i += 1
            self.skip("0123456789")
            if self.peek() == "~":
                self.i += 1
                self.skip("0123456789")
        elif ch == "$":
            self.i += 1
        elif ch in ("/", "\\"):
            if ch == "\\":
                self.i += 1
                ch = self.peek()
                if not ch or ch in "\n\\":
                    raise _Unparsable("bad address delimiter")
            self.i += 1
            self.delimited(ch)
            self.skip("IM")

    def filename(self, write: bool) -> None:
        self.skip(" \t")
        name = self.rest_of_line()
        if not name:
            raise _Unparsable("missing file name")
        (self.out.writes if write else self.out.reads).append(name)

    def run(self) -> None:
        while True:
            self.skip(" \t\n;")
            ch = self.peek()
            if not ch:
                return
            if ch == "#":
                self.rest_of_line()
                continue
            self.address(second=False)
            self.skip(" \t")
            if self.peek() == ",":
                self.i += 1
                self.skip(" \t")
                self.address(second=True)
            self.skip(" \t!")
            self.command()

    def command(self) -> None:
        c = self.peek()
        self.i += 1
        if c in "{}" or c in self._SIMPLE:
            pass
        elif c in "qQlL":
            self.skip(" \t")
            self.skip("0123456789")
        elif c in ":btTv":
            self.skip(" \t")
            self.until(";\n")
        elif c in "aic":
            self.text()
        elif c in "rRwW":
            self.filename(write=c in "wW")
            return
        elif c == "e":
            self.rest_of_line()
            self.out.effects.append((Kind.UNKNOWN, "sed e runs a shell command"))
            return
        elif c == "s":
            self.substitute()
        elif c == "y":
            delim = self.peek()
            if not delim or delim in "\n\\":
                raise _Unparsable("bad y delimiter")
            self.i += 1
            self.delimited(delim)
            self.delimited(delim)
        else:
            raise _Unparsable(f"unknown command {c!r}" if c else "missing command")
        self.end_of_command()

    def text(self) -> None:
        """The text of a, i, c: up to an unescaped newline."""
        while self.i < len(self.s):
            ch = self.s[self.i]
            self.i += 1 if ch != "\\" else 2
            if ch == "\n":
                return

    def substitute(self) -> None:
        delim = self.peek()
        if not delim or delim in "\n\\":
            raise _Unparsable("bad s delimiter")
        self.i += 1
        self.delimited(delim)
        self.delimited(delim)
        while True:
            ch = self.peek()
            if ch and (ch in "gpiImM" or ch.isdigit()):
                self.i += 1
            elif ch == "e":
                self.i += 1
                self.out.effects.append((Kind.UNKNOWN, "sed s///e runs the result as a shell command"))
            elif ch == "w":
                self.i += 1
                self.filename(write=True)
                return
            else:
                return

    def end_of_command(self) -> None:
        self.skip(" \t")
        if self.peek() not in ("", ";", "\n", "}", "#"):
            raise _Unparsable(f"unexpected {self.peek()!r} after a command")


# ---------------------------------------------------------------------------------------------
# awk

_AWK_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r]+|\\\n)|(?P<nl>\n)|(?P<comment>\#[^\n]*)
    |(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<ident>@?[A-Za-z_][A-Za-z0-9_]*)|(?P<num>[0-9]+(?:\.[0-9]*)?)
    |(?P<op>\|\||\|&|\||>>|>|<|&&|\+\+|--|[-+*%^!=~?:,;(){}\[\]$/.&])""",
    re.X,
)
_AWK_KEYWORDS = frozenset({"print", "printf", "return", "in", "case", "if", "while", "for", "do",
                           "else", "getline", "delete", "exit", "next", "nextfile", "function", "func"})
_AWK_REGEX = re.compile(r"/(?:[^/\\\n\[]|\\.|\[(?:\\.|[^\]\\\n])*\]?)*/")


def awk_program(text: str) -> Findings:
    """Find what an awk program does beyond reading its input: ``system()``, pipes to and from
    commands, ``print > file``, ``getline < file``, ``ENVIRON``, gawk extensions and /inet files."""
    out = Findings()
    try:
        _awk(text, out)
    except _Unparsable as exc:
        out.effects.append((Kind.UNKNOWN, f"awk program could not be checked ({exc})"))
    return out


def _awk_tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        prev = next((t for t in reversed(tokens) if t[0] != "nl"), ("op", "("))
        operand_before = prev[0] in ("str", "num") or prev[1] in (")", "]", "$") or (
            prev[0] == "ident" and prev[1] not in _AWK_KEYWORDS
        )
        if text[i] == "/" and not operand_before:
            m = _AWK_REGEX.match(text, i)
            if m is None:
                raise _Unparsable("unterminated regular expression")
            tokens.append(("regex", m.group()))
            i = m.end()
            continue
        m = _AWK_TOKEN.match(text, i)
        if m is None:
            raise _Unparsable(f"unexpected {text[i]!r}")
        kind = m.lastgroup or "op"
        if kind not in ("ws", "comment"):
            tokens.append((kind, m.group()))
        i = m.end()
    return tokens


def _unquote_awk(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def _awk(text: str, out: Findings) -> None:
    tokens = _awk_tokens(text)
    in_print, print_depth, depth = False, 0, 0
    for n, (kind, tok) in enumerate(tokens):
        if kind == "str" and _unquote_awk(tok).startswith("/inet"):
            out.effects.append((Kind.NETWORK, "awk opens a network connection (/inet special file)"))
        if kind == "ident":
            if tok == "system":
                out.effects.append((Kind.UNKNOWN, "awk system() runs shell commands"))
            elif tok == "ENVIRON":
                out.effects.append((Kind.UNKNOWN, "awk ENVIRON reads the environment (secrets?)"))
            elif tok.startswith("@") and tok != "@namespace":
                out.effects.append((Kind.UNKNOWN, f"awk {tok} loads code from another file"))
            elif tok in ("print", "printf"):
                in_print, print_depth = True, depth
            elif tok == "getline":
                after = tokens[n + 1:n + 4]
                if after and after[0][0] == "ident":
                    after = after[1:]
                if after and after[0] == ("op", "<"):
                    _awk_target(after[1:], out.reads, out, "getline reads")
        elif tok in ("(", "["):
            depth += 1
        elif tok in (")", "]"):
            depth -= 1
        elif tok in (";", "{", "}") or kind == "nl":
            in_print = False
        elif tok in ("|", "|&"):
            out.effects.append((Kind.UNKNOWN, "awk pipes run shell commands"))
        elif tok in (">", ">>") and in_print and depth == print_depth:
            _awk_target(tokens[n + 1:n + 3], out.writes, out, "print writes")


def _awk_target(tokens: list[tuple[str, str]], into: list[str], out: Findings, what: str) -> None:
    """A redirection target: a string literal ending the statement, or a computed name."""
    if tokens and tokens[0][0] == "str":
        after = tokens[1] if len(tokens) > 1 else ("end", "")
        if after[0] in ("end", "nl") or after[1] in (";", "}", ")"):
            into.append(_unquote_awk(tokens[0][1]))
            return
    out.effects.append((Kind.UNKNOWN, f"awk {what} a file whose name is computed"))


# ---------------------------------------------------------------------------------------------
# jq, yq

_JQ_ENV = re.compile(r"\$ENV\b|(?<![\w$.])env\b")
_JQ_MODULES = re.compile(r"(?<![\w$.])(?:import|include)\b")
_YQ_DANGER = re.compile(r"(?<![\w$.])(load\w*|strenv|envsubst|eval)\s*\(|\$ENV\b|(?<![\w$.])env\s*\(")


def jq_filter(text: str) -> Findings:
    out = Findings()
    if _JQ_ENV.search(text):
        out.effects.append((Kind.UNKNOWN, "jq env reads the environment, which may hold secrets"))
    if _JQ_MODULES.search(text):
        out.effects.append((Kind.UNKNOWN, "jq import/include loads modules from files"))
    return out


def yq_expression(text: str) -> Findings:
    out = jq_filter(text)
    m = _YQ_DANGER.search(text)
    if m:
        out.effects.append((Kind.UNKNOWN, f"yq {m.group(1) or 'env'} reads files or the environment"))
    return out
