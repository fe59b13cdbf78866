"""Every cell of the mode table, through the real engine where a tool makes it reachable."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy import Decision, Kind, Mode
from policy._modes import Situation, fallback

A, Q, D = Decision.ALLOW, Decision.ASK, Decision.DENY
BASH_SANDBOXED = Situation(bash=True, sandboxed=True, read_only_sandbox=False)
BASH_RO_SANDBOX = Situation(bash=True, sandboxed=True, read_only_sandbox=True)
BASH_BARE = Situation(bash=True, sandboxed=False, read_only_sandbox=False)
TOOL = Situation(bash=False, sandboxed=False, read_only_sandbox=False)

# (kind, inside, situation) -> decisions for restrictive, read-only, guarded, standard, yolo
TABLE = [
    (Kind.NEUTRAL, True, BASH_SANDBOXED, (Q, D, A, A, A)),
    (Kind.NEUTRAL, True, BASH_RO_SANDBOX, (Q, A, A, A, A)),
    (Kind.READ, True, TOOL, (Q, A, A, A, A)),
    (Kind.READ, False, TOOL, (Q, D, Q, Q, A)),
    (Kind.READ, True, BASH_RO_SANDBOX, (Q, A, A, A, A)),
    (Kind.READ, True, BASH_SANDBOXED, (Q, D, A, A, A)),
    (Kind.READ, True, BASH_BARE, (Q, D, A, A, A)),
    (Kind.WRITE, True, TOOL, (Q, D, Q, A, A)),
    (Kind.WRITE, False, TOOL, (Q, D, Q, Q, A)),
    (Kind.WRITE, True, BASH_SANDBOXED, (Q, D, Q, A, A)),
    (Kind.WRITE, True, BASH_BARE, (Q, D, Q, Q, A)),
    (Kind.BUILD, True, BASH_SANDBOXED, (Q, D, Q, A, A)),
    (Kind.BUILD, True, BASH_BARE, (Q, D, Q, Q, A)),
    (Kind.UNKNOWN, True, BASH_SANDBOXED, (Q, D, Q, Q, A)),
    (Kind.NETWORK, True, BASH_SANDBOXED, (Q, D, Q, Q, A)),
    (Kind.DESTRUCTIVE, True, BASH_SANDBOXED, (Q, D, Q, Q, Q)),
    (Kind.PRIVILEGE, True, BASH_SANDBOXED, (Q, D, Q, Q, Q)),
    (Kind.OPAQUE, True, BASH_SANDBOXED, (Q, D, Q, Q, Q)),
]
MODES = [Mode.RESTRICTIVE, Mode.READ_ONLY, Mode.GUARDED, Mode.STANDARD, Mode.YOLO]


@pytest.mark.parametrize(("kind", "inside", "how", "expected"), TABLE)
def test_mode_table(kind: Kind, inside: bool, how: Situation, expected: tuple[Decision, ...]) -> None:
    for mode, want in zip(MODES, expected, strict=True):
        got, reason = fallback(mode, kind, inside, how)
        assert got is want, f"{mode.value} {kind.name} inside={inside} {how}: {got.label} ({reason})"
        assert reason


def test_mode_parse_accepts_spellings_and_rejects_unknown() -> None:
    assert Mode.parse("read_only") is Mode.READ_ONLY
    assert Mode.parse("READONLY") is Mode.READ_ONLY
    with pytest.raises(ValueError, match="use one of"):
        Mode.parse("careful")


def _project(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "proj"
    home = tmp_path / "home"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text("print(1)\n")
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("secret\n")
    (tmp_path / "outside.txt").write_text("x\n")
    return root, home


# tool, path (relative to root; "OUT" = outside), expected per mode
TOOL_CASES = [
    ("read", "src/a.py", (Q, A, A, A, A)),
    ("grep", "src", (Q, A, A, A, A)),
    ("find_files", ".", (Q, A, A, A, A)),
    ("list_dir", "src", (Q, A, A, A, A)),
    ("read", "OUT", (Q, D, Q, Q, A)),
    ("list_dir", "OUT", (Q, D, Q, Q, A)),
    ("write", "src/new.py", (Q, D, Q, A, A)),
    ("edit", "src/a.py", (Q, D, Q, A, A)),
    ("write", "OUT", (Q, D, Q, Q, A)),
    ("edit", "OUT", (Q, D, Q, Q, A)),
    ("read", "SECRET", (D, D, D, D, D)),
    ("write", "SECRET", (D, D, D, D, D)),
]


@pytest.mark.parametrize(("tool", "where", "expected"), TOOL_CASES)
def test_every_mode_for_every_path_tool(tmp_path: Path, tool: str, where: str,
                                        expected: tuple[Decision, ...]) -> None:
    from policy import Request, load_engine

    root, home = _project(tmp_path)
    path = {"OUT": str(tmp_path / "outside.txt"), "SECRET": str(home / ".ssh" / "id_rsa")}.get(where, where)
    engine = load_engine(root, home=home, user_file=tmp_path / "no-user-file.toml")
    for mode, want in zip(MODES, expected, strict=True):
        verdict = engine.evaluate(Request(tool=tool, args={"path": path}, cwd=root, project_root=root, mode=mode))
        assert verdict.decision is want, f"{tool} {where} in {mode.value}: {verdict.decision.label} ({verdict.reason})"


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("web_fetch", {"url": "https://example.org/"}, (Q, D, Q, Q, A)),
        ("mcp:github:create_issue", {"title": "x"}, (Q, D, Q, Q, A)),
        ("todo", {"items": []}, (Q, A, A, A, A)),
        ("bash", {"command": "ls src"}, (Q, A, A, A, A)),
        ("bash", {"command": "touch src/b.py"}, (Q, D, Q, A, A)),
        ("bash", {"command": "curl https://example.org"}, (Q, D, Q, Q, A)),
        ("bash", {"command": "rm src/a.py"}, (Q, D, Q, Q, Q)),
        ("bash", {"command": "frobnicate --all"}, (Q, D, Q, Q, A)),
        ("bash", {"command": "$CMD x"}, (Q, D, Q, Q, Q)),
    ],
)
def test_every_mode_for_other_tools(tmp_path: Path, tool: str, args: dict[str, object],
                                    expected: tuple[Decision, ...]) -> None:
    from policy import Request, load_engine

    root, home = _project(tmp_path)
    engine = load_engine(root, home=home, user_file=tmp_path / "no-user-file.toml")
    for mode, want in zip(MODES, expected, strict=True):
        request = Request(tool=tool, args=args, cwd=root, project_root=root, mode=mode,
                          sandboxed=True, read_only_sandbox=mode is Mode.READ_ONLY)
        verdict = engine.evaluate(request)
        assert verdict.decision is want, f"{tool} {args} in {mode.value}: {verdict.decision.label} ({verdict.reason})"


def test_read_only_mode_denies_bash_without_a_read_only_sandbox(tmp_path: Path) -> None:
    from policy import Request, load_engine

    root, home = _project(tmp_path)
    engine = load_engine(root, home=home, user_file=tmp_path / "none.toml")
    request = Request(tool="bash", args={"command": "ls"}, cwd=root, project_root=root,
                      mode=Mode.READ_ONLY, sandboxed=True, read_only_sandbox=False)
    verdict = engine.evaluate(request)
    assert verdict.decision is D
    assert "read-only sandbox" in verdict.reason
