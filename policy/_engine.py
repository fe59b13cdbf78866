"""The engine: judges one tool request against the rules, the command catalog and the mode table.

For a bash request every simple command is classified and judged on its own, and every path it
reads or writes is judged as a read or write request; the verdict is the most severe of them all.
For path tools the path is judged in both its lexical and resolved forms. Rules that match decide
(deny beats ask beats allow); otherwise the mode table does. The engine never raises on a request:
anything it cannot see through becomes an ``ask`` (or ``deny`` in read-only mode) with a reason.

``load_engine`` keeps a cold start cheap: rule files verified before come from the startup cache
(``_rulecache.py``), the command catalog and the bash machinery (``_bash``, the shell analysis,
bashlex) load on the first bash request, and matchers compile on first use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING

from policy._modes import Outcome, Situation, fallback
from policy._paths import PathRef, is_within, make_ref, resolve
from policy._rules import DoomLoop, ExampleChecker, Rule, RuleFile, RuleSet, Source, merge
from policy._types import (
    READ_TOOLS,
    WRITE_TOOLS,
    CommandFacts,
    Decision,
    Kind,
    Mode,
    Request,
    Verdict,
)
from policy._values import record

if TYPE_CHECKING:
    from policy import _approvals
    from policy._catalog import Catalog

NEUTRAL_TOOLS = frozenset({"todo"})


def builtin_policy_dir() -> Path:
    """The ``policies/`` directory shipped with corral (beside the packages, in a checkout or a wheel)."""
    return Path(__file__).resolve().parent.parent / "policies"


def user_policy_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "corral" / "policy.toml"


@record
class SessionState:
    """What the engine remembers within one session: approvals and the recent requests."""

    approvals: list[tuple[Rule, Kind]] = field(default_factory=list)
    last_key: str | None = None
    repeats: int = 0

    def approve(self, rules: Iterable[_approvals.Approval]) -> None:
        for approval in rules:
            self.approvals.append((approval.rule, approval.max_kind))

    def export_approvals(self) -> list[dict[str, str]]:
        """The approvals as JSON-ready objects (``rule``: the rule as TOML, ``max_kind``), for the session log."""
        return [{"rule": rule.to_toml(), "max_kind": kind.name} for rule, kind in self.approvals]

    def restore_approvals(self, items: Iterable[Mapping[str, object]]) -> list[str]:
        """Add approvals exported by `export_approvals` (a resumed session). Only what an approval can be is
        accepted: an allow rule with a ``session-`` id that names one exact command (a command prefix, which
        older versions saved, is skipped: it covered commands the user never saw), one absolute path, or one
        non-bash tool. Anything else is skipped; the returned
        list says what was skipped and why (nothing raises)."""
        import re

        from policy._errors import PolicyError
        from policy._matchers import ANY_WORDS, ArgvMatcher, PathsMatcher
        from policy._rules import parse_rule_text

        wildcard = re.compile(r"(?<!\\)[*?\[]")  # an unescaped glob character

        problems: list[str] = []
        for number, item in enumerate(items, start=1):
            text, kind_name = item.get("rule"), item.get("max_kind")
            if not isinstance(text, str) or not isinstance(kind_name, str) or kind_name not in Kind.__members__:
                problems.append(f"approval {number}: not a saved approval (needs 'rule' and 'max_kind')")
                continue
            try:
                rules = parse_rule_text(text, path="session approval", source="session", trusted=True).rules
            except PolicyError as exc:
                problems.append(f"approval {number}: {exc}")
                continue
            rule = rules[0] if len(rules) == 1 else None
            matcher = rule.matcher if rule is not None else None
            narrow = rule is not None and rule.id.startswith("session-") and rule.decision is Decision.ALLOW and (
                (isinstance(matcher, ArgvMatcher) and rule.tools == ("bash",) and ANY_WORDS not in matcher.words
                 and not wildcard.search(matcher.words[0]) and matcher.kind == "argv")
                or (isinstance(matcher, PathsMatcher) and len(matcher.patterns) == 1
                    and matcher.patterns[0].startswith("/") and not wildcard.search(matcher.patterns[0])
                    and "bash" not in rule.tools)
                or (matcher is not None and not isinstance(matcher, (ArgvMatcher, PathsMatcher))
                    and len(rule.tools) == 1 and rule.tools[0].startswith("mcp:"))
            )
            if rule is None or not narrow:
                problems.append(f"approval {number}: not a narrow session approval; skipped")
                continue
            self.approvals.append((rule, Kind[kind_name]))
        return problems


class Engine:
    """Judges requests. Built by ``load_engine``; immutable, safe to share between sessions.
    ``catalog`` may be a function that loads it: it is then called on first use."""

    def __init__(self, rules: RuleSet, catalog: Catalog | Callable[[], Catalog], *, home: Path) -> None:
        self.rules = rules
        self._catalog = catalog
        self.home = home
        self.warnings: tuple[str, ...] = rules.warnings

    @property
    def catalog(self) -> Catalog:
        found = self._catalog
        if callable(found):
            found = self._catalog = found()
        return found

    # -- public ------------------------------------------------------------------------------

    def evaluate(self, request: Request, session: SessionState | None = None) -> Verdict:
        try:
            verdict = self._evaluate(request, session)
        except RecursionError:
            verdict = Verdict(Decision.ASK, "the request is too deeply nested to judge", None)
        except ValueError as exc:  # e.g. a NUL byte in a path: no such path can be opened
            verdict = Verdict(Decision.DENY, f"malformed {request.tool} request: {exc}", None)
        if session is not None:
            verdict = self._doom_loop(request, verdict, session)
        return verdict

    def propose_approvals(self, request: Request, verdict: Verdict) -> list[_approvals.Approval]:
        """Narrow rules that would let this exact request through next time; empty when none is safe."""
        from policy import _approvals

        return _approvals.propose(self, request, verdict)

    # -- dispatch ----------------------------------------------------------------------------

    def _evaluate(self, request: Request, session: SessionState | None) -> Verdict:
        if request.tool == "bash":
            from policy import _bash

            return _bash.evaluate(self, request, session)
        if request.tool in READ_TOOLS or request.tool in WRITE_TOOLS:
            return self._path_tool(request, session)
        if request.tool == "web_fetch":
            url = request.args.get("url")
            text = url if isinstance(url, str) else ""
            out = self.judge_value(request, text, Kind.NETWORK, session)
        elif request.tool in NEUTRAL_TOOLS:
            out = self.judge_value(request, "", Kind.NEUTRAL, session)
        else:
            out = self.judge_value(request, _json_args(request), Kind.UNKNOWN, session)
        return Verdict(out.decision, out.reason, out.rule)

    def _path_tool(self, request: Request, session: SessionState | None) -> Verdict:
        write = request.tool in WRITE_TOOLS
        path = request.args.get("path")
        if path is None and not write:
            path = "."
        if not isinstance(path, str) or not path:
            return Verdict(Decision.DENY, f"the {request.tool} tool needs a non-empty 'path' string")
        texts = [path]
        pattern = request.args.get("pattern")
        if request.tool == "find_files" and isinstance(pattern, str) and _escapes(pattern):
            texts.append(pattern)
        outcomes = [
            self.judge_path(request, make_ref(t, request.cwd, self.home), write=write, bash=False,
                            session=session)
            for t in texts
        ]
        worst = max(outcomes, key=lambda o: o.decision)
        return Verdict(worst.decision, worst.reason, worst.rule)

    # -- building blocks shared with _bash ---------------------------------------------------

    def active_rules(self, mode: Mode, session: SessionState | None) -> list[tuple[Rule, Kind]]:
        """Rules in force in ``mode``: restrictive and read-only ignore every rule that loosens."""
        loosening_ok = mode not in (Mode.RESTRICTIVE, Mode.READ_ONLY)
        out: list[tuple[Rule, Kind]] = [
            (r, Kind.OPAQUE) for r in self.rules.rules if loosening_ok or r.decision > Decision.ALLOW
        ]
        if session is not None and loosening_ok:
            out.extend(session.approvals)
        return out

    def judge_path(
        self,
        request: Request,
        ref: PathRef,
        *,
        write: bool,
        bash: bool,
        session: SessionState | None,
    ) -> Outcome:
        """Judge one path as a read or write in ``request.mode``."""
        text = ref.written
        root = resolve(request.project_root)
        tool = ("write" if write else "read") if bash else request.tool
        matched: list[Rule] = []
        for rule, _max_kind in self.active_rules(request.mode, session):
            if not rule.applies_to(tool, request.mode):
                continue
            if rule.matches_path(ref.resolved, root, self.home) or (
                rule.decision > Decision.ALLOW and rule.matches_path(ref.lexical, root, self.home)
            ):
                matched.append(rule)
        kind = Kind.WRITE if write else Kind.READ
        inside = is_within(ref.resolved, root)
        how = Situation(bash=bash, sandboxed=request.sandboxed, read_only_sandbox=request.read_only_sandbox)
        decision, reason = fallback(request.mode, kind, inside, how)
        if decision > Decision.ALLOW:
            reason = f"{reason}: {text}"
        mode_says = Outcome(decision, reason, None, kind)
        return _decide(matched, mode_says, subject=f"{'write' if write else 'read'} {text}")

    def judge_value(self, request: Request, text: str, kind: Kind, session: SessionState | None) -> Outcome:
        matched = [
            rule
            for rule, _k in self.active_rules(request.mode, session)
            if rule.applies_to(request.tool, request.mode) and rule.matches_value(text)
        ]
        how = Situation(bash=False, sandboxed=request.sandboxed, read_only_sandbox=request.read_only_sandbox)
        decision, reason = fallback(request.mode, kind, True, how)
        return _decide(matched, Outcome(decision, reason, None, kind), subject=request.tool)

    def judge_command(
        self, request: Request, facts: CommandFacts, session: SessionState | None,
    ) -> Outcome:
        """The decision for one simple command itself (not the paths it touches).

        A session approval only covers commands no more dangerous than the one approved, and no
        allow rule can let an opaque command through."""
        layers, text, kind = facts.layers, facts.text, facts.kind
        matched: list[Rule] = []
        for rule, max_kind in self.active_rules(request.mode, session):
            if not rule.applies_to("bash", request.mode):
                continue
            if rule.decision is Decision.ALLOW and (kind is Kind.OPAQUE or kind > max_kind):
                continue
            if rule.matches_command(layers, text):
                matched.append(rule)
        how = Situation(bash=True, sandboxed=request.sandboxed, read_only_sandbox=request.read_only_sandbox)
        decision, reason = fallback(request.mode, kind, True, how)
        why = "; ".join(facts.reasons)
        mode_says = Outcome(decision, f"{why} ({reason})" if why else reason, None, kind)
        return _decide(matched, mode_says, subject=text)

    # -- doom loops --------------------------------------------------------------------------

    def _doom_loop(self, request: Request, verdict: Verdict, session: SessionState) -> Verdict:
        key = request.key()
        session.repeats = session.repeats + 1 if key == session.last_key else 1
        session.last_key = key
        cfg: DoomLoop = self.rules.doom_loop
        if session.repeats < cfg.threshold:
            return verdict
        note = (
            f"This is the same {request.tool} call {session.repeats} times in a row. Repeating it will "
            "not give a different result: read the last output again, change the approach, or ask the user."
        )
        if cfg.action == "coach" or verdict.decision is Decision.DENY:
            return Verdict(verdict.decision, verdict.reason, verdict.rule, verdict.commands, note)
        decision = Decision.ASK if cfg.action == "ask" else Decision.DENY
        if decision <= verdict.decision:
            return Verdict(verdict.decision, verdict.reason, verdict.rule, verdict.commands, note)
        reason = f"doom loop: the same call {session.repeats} times in a row"
        return Verdict(decision, reason, "doom-loop", verdict.commands, note)


def _decide(matched: Sequence[Rule], mode_says: Outcome, *, subject: str) -> Outcome:
    """Combine matching rules with the mode's own answer.

    A deny rule always wins. A session approval (the user's answer to an earlier ask) then wins over
    ask rules and the mode. Otherwise an allow rule overrides the mode, while a rule that asks can
    only tighten it (an ask rule never turns read-only's deny into ask)."""
    if not matched:
        return mode_says
    worst = max(matched, key=lambda r: r.decision)
    if worst.decision is not Decision.DENY:
        approved = [r for r in matched if r.source == "session" and r.decision is Decision.ALLOW]
        if approved and mode_says.decision is not Decision.DENY:
            return Outcome(Decision.ALLOW, f"approved for this session ({approved[0].id})", approved[0].id,
                           mode_says.kind)
    if worst.decision > Decision.ALLOW and mode_says.decision > worst.decision:
        return mode_says
    why = worst.reason or f"rule {worst.id} ({worst.source})"
    reason = f"{why}: {subject}" if worst.decision > Decision.ALLOW else why
    return Outcome(worst.decision, reason, worst.id, mode_says.kind)


def _escapes(pattern: str) -> bool:
    return pattern.startswith(("/", "~")) or ".." in pattern.replace("\\", "/").split("/")


def _json_args(request: Request) -> str:
    import json

    try:
        return json.dumps(dict(request.args), sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(sorted(request.args.items(), key=lambda kv: kv[0]))


def load_engine(
    project_root: Path,
    *,
    user_file: Path | None = None,
    extra_files: Sequence[Path] = (),
    trusted: bool = False,
    home: Path | None = None,
    builtin_dir: Path | None = None,
) -> Engine:
    """Load the built-in rules, the user file, ``--policy`` files and the project file, and build an
    engine. Raises ``RuleFileError`` naming the file, line and rule of any malformed rule.

    The catalog loads now only when the startup cache has no record of it loading cleanly (so a
    malformed catalog still fails here), else on the first bash request."""
    from policy import _cache
    from policy._rulecache import load_rule_file_cached

    home = resolve(Path.home() if home is None else home)
    bdir = builtin_policy_dir() if builtin_dir is None else builtin_dir
    catalog = _CatalogSlot(bdir / "commands.toml")
    entry = _cache.catalog_entry(str(catalog.path))
    if entry is None or not _cache.exists(entry[0]):
        catalog.get()
    context = "catalog:" + (entry[0] if entry is not None else str(catalog.path))
    checker = _example_checker(catalog.get, home)

    def load(path: Path, source: Source, *, required: bool = True, trust: bool = True) -> RuleFile | None:
        return load_rule_file_cached(path, source, context=context, check_example=checker, trusted=trust,
                                     required=required)

    found = [load(p, "builtin") for p in sorted(bdir.glob("*.toml")) if p.name != "commands.toml"]
    found.append(load(user_policy_file() if user_file is None else user_file, "user", required=False))
    found.extend(load(p, "cli") for p in extra_files)
    found.append(load(project_root / ".corral" / "policy.toml", "project", required=False, trust=trusted))
    rules = merge([f for f in found if f is not None])
    return Engine(rules.with_rules(_own_directories(rules, home)), catalog.get, home=home)


class _CatalogSlot:
    """The command catalog, loaded on first ``get``."""

    def __init__(self, path: Path) -> None:
        self.path = path.absolute()
        self.value: Catalog | None = None

    def get(self) -> Catalog:
        if self.value is None:
            from policy._catalog import load_catalog

            self.value = load_catalog(self.path)
        return self.value


def _example_checker(catalog: Callable[[], Catalog], home: Path) -> ExampleChecker:
    """Checks bash examples through the real shell analysis and catalog (``_bash.example_checker``),
    loading them only when a bash example is checked; None (the loader's own check) for the rest."""
    made: list[ExampleChecker] = []

    def check(rule: Rule, example: str) -> bool | None:
        if not rule.applies_to_bash():
            return None
        if not made:
            from policy import _bash

            made.append(_bash.example_checker(catalog(), home))
        return made[0](rule, example)

    return check


_XDG_DIRS = (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
             ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache"))


def _own_directories(rules: RuleSet, home: Path) -> list[Rule]:
    """protect-corral names corral's default directories; when XDG variables move them, protect the
    real ones too (unless the user disabled protect-corral)."""
    if "protect-corral" in rules.disabled:
        return []
    out: list[Rule] = []
    for var, default in _XDG_DIRS:
        base = os.environ.get(var)
        if not base or not os.path.isabs(base):
            continue
        path = resolve(Path(base) / "corral")
        if path == home / default / "corral":
            continue
        out.append(Rule.for_path("@path", path, id=f"protect-corral-{var.lower().replace('_', '-')}",
                                 reason=f"corral's own directory (${var})", decision=Decision.DENY,
                                 source="builtin"))
    return out
