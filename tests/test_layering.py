"""The import contract: policy/ and sandbox/ are leaves; agent/ uses them only through their facades."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED_THIRD_PARTY = {
    "policy": {"pydantic", "bashlex", "pathspec"},
    "sandbox": {"trio", "pydantic"},
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_leaf_packages_import_only_stdlib_and_their_dependencies() -> None:
    import sys

    for package, allowed in ALLOWED_THIRD_PARTY.items():
        for path in _modules(package):
            for name in _imports(path):
                top = name.split(".")[0]
                if top == package or top in sys.stdlib_module_names or top == "__future__":
                    continue
                assert top in allowed, f"{path.relative_to(ROOT)} imports {name}: not allowed in {package}/"


def test_agent_uses_only_the_facades() -> None:
    for path in _modules("agent"):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] in ("policy", "sandbox"):
                assert len(parts) == 1, f"{path.relative_to(ROOT)} imports {name}: use the package facade"


def test_importing_policy_does_not_import_bashlex() -> None:
    import subprocess
    import sys

    code = "import sys, policy; print('bashlex' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
