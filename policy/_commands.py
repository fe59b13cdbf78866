"""The classifier: what one simple command does, according to the command catalog.

    classify(cmd, catalog, functions=analysis.functions, analyze=analyze) -> tuple[CommandFacts, ...]

The first fact is the command itself: its ``kind`` is the most dangerous thing any part of it does
(its prefix assignments, its redirections, every wrapper layer, the inner command, ``find -exec``
commands, options such as ``sed -i`` or ``git -c``), with a human reason for each. Shell code the
command runs (``bash -c``, ``su -c``, ``watch``, ``trap``, ``xargs sh -c`` …) is analysed with the
injected ``analyze`` and its commands follow as further facts, up to the catalog's depth limit.
``eval``, ``source`` and ``.`` are opaque; code for other interpreters (``python -c``) is UNKNOWN.

Anything that depends on a run-time expansion the classifier must judge (the command name, a path,
a subcommand, a word that could become an option) makes the command OPAQUE, with a reason naming
the word. Argument parsing lives in ``policy/_commands_args.py`` and ``policy/_commands_roles.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from policy._catalog import Catalog
from policy._commands_args import parse
from policy._commands_words import (
    INPUT_WORD,
    Ctx,
    Layer,
    ShellCode,
    add_path,
    is_process_substitution,
    judge_assignment,
)
from policy._types import CommandFacts, Kind, Redirect, ShellAnalysis, SimpleCommand, Word

MAX_REASONS = 12


def classify(
    cmd: SimpleCommand,
    catalog: Catalog,
    *,
    functions: frozenset[str] = frozenset(),
    analyze: Callable[[str], ShellAnalysis] | None = None,
    depth: int = 0,
) -> tuple[CommandFacts, ...]:
    """Classify one simple command; further facts follow for the shell code it runs."""
    ctx = Ctx(catalog)
    out = Layer()
    layers: list[tuple[str, ...]] = []
    for name, value in cmd.assignments:
        judge_assignment(name, value, ctx, out)
    for redirect in cmd.redirects:
        _redirect(redirect, ctx, out)
    if cmd.argv:
        _command(cmd.argv, ctx, out, layers, functions=functions, via=None, execdir=False)
    else:
        out.add(Kind.NEUTRAL, "sets shell variables" if cmd.assignments else "only redirects")
    nested: list[CommandFacts] = []
    for code in out.shells:
        nested.extend(_nested(code, catalog, analyze, depth, out))
    fact = CommandFacts(
        text=cmd.text or " ".join(w.raw for w in cmd.argv),
        argv=layers[-1] if layers else (),
        layers=tuple(layers),
        kind=out.kind,
        reasons=_reasons(out),
        reads=tuple(dict.fromkeys(out.reads)),
        writes=tuple(dict.fromkeys(out.writes)),
        cd=out.cd,
    )
    return (fact, *nested)


def _command(
    words: tuple[Word, ...],
    ctx: Ctx,
    out: Layer,
    layers: list[tuple[str, ...]],
    *,
    functions: frozenset[str],
    via: str | None,
    execdir: bool,
) -> None:
    """Classify one argv layer (and, recursively, the commands it runs) into ``out``."""
    layers.append(tuple(  # xargs' input marker shows only where it is the command name
        w.raw if w is INPUT_WORD else w.value if w.literal else w.raw
        for i, w in enumerate(words) if i == 0 or w is not INPUT_WORD
    ))
    if len(layers) > ctx.catalog.max_layers:
        out.opaque(f"commands are nested more than {ctx.catalog.max_layers} layers deep")
        return
    head = words[0]
    if not head.literal:
        where = "" if via is None else f" run by {via}"
        out.opaque(f"the command name {head.raw}{where} is not a literal word")
        return
    prog = head.value
    if via is None and prog in functions and "/" not in prog:
        out.add(Kind.NEUTRAL, f"calls {prog}, a function defined in the script (its body is judged)")
        return
    if any(ph in prog for ph in ctx.placeholders):
        out.add(Kind.UNKNOWN, f"{via} runs programs named by its input")
        return
    layer = Layer()
    spec = ctx.catalog.lookup(prog)
    if spec is not None:
        parse(spec, words[1:], ctx, layer, prog.rpartition("/")[2] or prog)
    elif "/" in prog or head.tilde:
        layer.add(Kind.UNKNOWN, f"runs the program {prog}")
        layer.reads.append(head)
    else:
        layer.add(Kind.UNKNOWN, f"unknown program {prog!r}")
    for inner in layer.inner:
        sub = Layer()
        fed_by = inner.via if inner.placeholders != ctx.placeholders else ctx.fed_by
        inner_ctx = replace(ctx, placeholders=inner.placeholders, fed_by=fed_by)
        _command(inner.words, inner_ctx, sub, layers, functions=functions, via=inner.via,
                 execdir=inner.execdir)
        layer.merge(sub)
    if execdir:
        for word in (*layer.reads, *layer.writes):
            if word.literal and not word.value.startswith(("/", "~")):
                out.opaque(f"{via} runs {prog} in each found file's directory, so its path {word.raw} "
                           "cannot be judged")
    out.merge(layer)


def _redirect(r: Redirect, ctx: Ctx, out: Layer) -> None:
    """Redirections read or write their target; ``/dev/tcp`` and ``/dev/udp`` are network."""
    target = r.target
    if r.op in ("<<", "<<-", "<<<") or target is None:
        return
    v = target.value
    if r.op in (">&", "<&") and target.literal and (v == "-" or v.rstrip("-").isdigit()):
        return
    if target.literal and v.startswith(ctx.catalog.network_prefixes):
        out.add(Kind.NETWORK, f"the redirection opens a network connection ({v})")
        return
    reads = r.reads or r.op == "<&"
    if not (r.writes or reads):
        out.opaque(f"unrecognised redirection {r.op}")
        return
    if is_process_substitution(target.raw):
        return
    if not target.literal and not target.glob:
        out.opaque(f"the redirection target {target.raw} is not a literal path")
        return
    if r.writes:
        add_path(target, True, "the redirection", ctx, out)
    if reads:
        add_path(target, False, "the redirection", ctx, out)


def _nested(
    code: ShellCode,
    catalog: Catalog,
    analyze: Callable[[str], ShellAnalysis] | None,
    depth: int,
    out: Layer,
) -> list[CommandFacts]:
    """The facts of shell code a command runs; problems make the outer command opaque."""
    if analyze is None:
        out.opaque(f"{code.via} runs shell code, and no shell parser was given to analyse it")
        return []
    if depth >= catalog.max_shell_depth:
        out.opaque(f"{code.via} runs shell code nested more than {catalog.max_shell_depth} levels deep")
        return []
    analysis = analyze(code.source)
    if analysis.opaque:
        out.opaque(f"{code.via} runs shell code that cannot be seen through: " + "; ".join(analysis.opaque))
        return []
    out.add(Kind.NEUTRAL, f"{code.via} runs shell code, judged command by command")
    facts: list[CommandFacts] = []
    for cmd in analysis.commands:
        facts.extend(classify(cmd, catalog, functions=analysis.functions, analyze=analyze, depth=depth + 1))
    return facts


def _reasons(out: Layer) -> tuple[str, ...]:
    """Reasons, the most dangerous first, without repeats."""
    ordered = sorted(out.effects, key=lambda e: -e[0])
    return tuple(dict.fromkeys(r for _, r in ordered if r))[:MAX_REASONS]
