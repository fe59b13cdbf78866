"""A fail-closed check for comments inside command substitutions.

In bash, `#` at the start of a word inside `$( … )` or backticks starts a comment that runs to the end
of the line, so it can swallow the closing `)` and make the substitution continue onto later lines
(`echo $( a # ) \n b` is a syntax error in bash). bashlex and bash disagree about such scripts, so the
analysis declares them opaque rather than guess where the substitution ends. A scanner bug here can
only make the analysis stricter: it adds an opaque reason, never removes a command.
"""

from __future__ import annotations

_WORD_START = frozenset(" \t\n;&|()<>")


def comment_in_substitution(source: str) -> bool:
    """True when an unquoted `#` starts a word inside `$( … )` or backticks."""
    stack: list[str] = []  # "sub" ($( )), "bt" (backticks), "dq" (double quotes), "arith" ($(( )))
    parens: list[int] = []  # open parentheses inside each "sub"/"arith" level
    i, n = 0, len(source)
    prev = "\n"
    while i < n:
        c = source[i]
        top = stack[-1] if stack else "top"
        if c == "\\":
            i += 2
            prev = "x"
            continue
        if top == "dq":
            if c == '"':
                stack.pop()
            elif source.startswith("$((", i):
                stack.append("arith")
                parens.append(0)
                i += 3
                prev = "("
                continue
            elif source.startswith("$(", i):
                stack.append("sub")
                parens.append(0)
                i += 2
                prev = "("
                continue
            elif c == "`":
                stack.append("bt")
            i += 1
            prev = c
            continue
        if c == "'" and top != "arith":
            end = source.find("'", i + 1)
            i = n if end < 0 else end + 1
            prev = "x"
            continue
        if c == '"':
            stack.append("dq")
        elif source.startswith("$((", i):
            stack.append("arith")
            parens.append(0)
            i += 3
            prev = "("
            continue
        elif source.startswith("$(", i):
            stack.append("sub")
            parens.append(0)
            i += 2
            prev = "("
            continue
        elif c == "`":
            if top == "bt":
                stack.pop()
            else:
                stack.append("bt")
        elif c == "(" and top in ("sub", "arith"):
            parens[-1] += 1
        elif c == ")" and top in ("sub", "arith"):
            if parens[-1] > 0:
                parens[-1] -= 1
            elif top == "arith" and source.startswith("))", i):
                stack.pop()
                parens.pop()
                i += 2
                prev = "x"
                continue
            else:
                stack.pop()
                parens.pop()
        elif c == "#" and prev in _WORD_START and top in ("sub", "bt"):
            return True
        elif c == "#" and prev in _WORD_START and top == "top":
            end = source.find("\n", i)  # a top-level comment: nothing in it is code
            i = n if end < 0 else end
            prev = "\n"
            continue
        i += 1
        prev = c
    return False
