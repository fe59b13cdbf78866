"""The policy engine against the attack corpus and the everyday corpus (tests/policy/corpus.py).

Real files, a real git repository and a fake home under a temporary directory; no mocks. Every
adversarial command must not be allowed in standard, guarded, restrictive or read-only mode; the ones
tagged ``yolo`` not even in yolo mode. Every everyday command must be allowed in standard mode, and
the read-only ones in guarded and read-only mode too.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from policy import Decision, Engine, Mode, Request, Verdict, load_engine
from tests.policy.corpus import ADVERSARIAL, EVERYDAY, YOLO_NEVER, Fixture, build_fixture, case_id


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def engine(fx: Fixture) -> Engine:
    return load_engine(fx.root, home=fx.home, user_file=fx.user_policy)


def judge(engine: Engine, fx: Fixture, command: str, mode: Mode = Mode.STANDARD) -> Verdict:
    request = Request(
        tool="bash",
        args={"command": command},
        cwd=fx.root,
        project_root=fx.root,
        mode=mode,
        sandboxed=True,
        read_only_sandbox=mode is Mode.READ_ONLY,
    )
    return engine.evaluate(request)


def show(verdict: Verdict) -> str:
    return json.dumps(verdict.as_dict(), indent=2, ensure_ascii=False)


# Known gaps of static analysis, contained by the sandbox instead (it masks protected files inside the
# project too). strict=True: the day the engine catches one of these, the marker must go.
RECURSIVE_READ_GAP = {
    "grep -r API_KEY .": "a recursive read of the project reaches .env; the engine does not walk trees",
}


def _params(cases: list[tuple[str, str, str]], *, gaps: bool = True) -> list[object]:
    out: list[object] = []
    for cmd, why, _ in cases:
        marks = []
        if gaps and cmd in RECURSIVE_READ_GAP:
            marks.append(pytest.mark.xfail(reason=RECURSIVE_READ_GAP[cmd], strict=True))
        out.append(pytest.param(cmd, why, id=case_id(cmd), marks=marks))
    return out


def test_fixture_is_real(fx: Fixture) -> None:
    log = subprocess.run(
        ["git", "log", "--oneline"], cwd=fx.root, capture_output=True, text=True, check=True
    ).stdout
    assert len(log.splitlines()) == 2
    assert (fx.root / "src" / "leak").resolve() == (fx.home / ".ssh" / "id_rsa").resolve()
    assert (fx.root / ".env").is_file()
    assert (fx.root / ".git" / "hooks").is_dir()


@pytest.mark.parametrize(("command", "why"), _params(ADVERSARIAL))
def test_adversarial_not_allowed_in_standard(engine: Engine, fx: Fixture, command: str, why: str) -> None:
    verdict = judge(engine, fx, command)
    assert verdict.decision != Decision.ALLOW, f"{why}: allowed in standard mode\n{show(verdict)}"
    assert verdict.reason.strip(), f"{why}: empty reason\n{show(verdict)}"


STRICT_MODES = [Mode.GUARDED, Mode.RESTRICTIVE, Mode.READ_ONLY]


@pytest.mark.parametrize("mode", STRICT_MODES, ids=[m.value for m in STRICT_MODES])
@pytest.mark.parametrize(("command", "why"), _params(ADVERSARIAL, gaps=False))
def test_adversarial_not_allowed_in_stricter_modes(
    engine: Engine, fx: Fixture, command: str, why: str, mode: Mode
) -> None:
    verdict = judge(engine, fx, command, mode)
    if command in RECURSIVE_READ_GAP and mode is not Mode.RESTRICTIVE:
        assert verdict.decision == Decision.ALLOW, "the gap is closed: remove it from RECURSIVE_READ_GAP"
        pytest.xfail(RECURSIVE_READ_GAP[command])
    assert verdict.decision != Decision.ALLOW, f"{why}: allowed in {mode.value} mode\n{show(verdict)}"
    assert verdict.reason.strip()


@pytest.mark.parametrize(("command", "why"), _params(YOLO_NEVER))
def test_yolo_still_refuses_destructive_privilege_opaque_protected(
    engine: Engine, fx: Fixture, command: str, why: str
) -> None:
    verdict = judge(engine, fx, command, Mode.YOLO)
    assert verdict.decision != Decision.ALLOW, f"{why}: allowed in yolo mode\n{show(verdict)}"


@pytest.mark.parametrize(("command", "why"), _params(EVERYDAY))
def test_everyday_allowed_in_standard(engine: Engine, fx: Fixture, command: str, why: str) -> None:
    verdict = judge(engine, fx, command)
    assert verdict.decision == Decision.ALLOW, f"{why}: not allowed in standard mode\n{show(verdict)}"


READ_ONLY_EVERYDAY = [c for c in EVERYDAY if "read" in c[2].split()]


@pytest.mark.parametrize("mode", [Mode.GUARDED, Mode.READ_ONLY], ids=["guarded", "read-only"])
@pytest.mark.parametrize(("command", "why"), _params(READ_ONLY_EVERYDAY))
def test_everyday_reads_allowed_in_guarded_and_read_only(
    engine: Engine, fx: Fixture, command: str, why: str, mode: Mode
) -> None:
    verdict = judge(engine, fx, command, mode)
    assert verdict.decision == Decision.ALLOW, f"{why}: not allowed in {mode.value} mode\n{show(verdict)}"


@pytest.mark.parametrize(("command", "why"), _params(EVERYDAY))
def test_everyday_never_allowed_in_restrictive(engine: Engine, fx: Fixture, command: str, why: str) -> None:
    verdict = judge(engine, fx, command, Mode.RESTRICTIVE)
    assert verdict.decision != Decision.ALLOW, f"restrictive mode allowed {command!r}\n{show(verdict)}"
