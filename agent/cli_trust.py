"""``corral trust``: let a project's own ``.corral/`` settings loosen corral's, after the user has seen them.

``corral trust [DIR]`` lists every file under the project's ``.corral/`` (the files the trust will cover)
and records their digest (``agent/trust.py``); any later change makes the project untrusted again.
``--status`` says whether the project is trusted now and why (exit 0 trusted, 1 not), ``--revoke`` forgets
it, ``--list`` prints every trusted project with whether its ``.corral/`` still matches.

Exit codes: 0 done, 1 not trusted (``--status``) or the trust could not be recorded (the message says why),
2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import UsageError

if TYPE_CHECKING:
    from agent.trust import Snapshot

EXIT_OK, EXIT_FAILED = 0, 1


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trust = sub.add_parser(
        "trust",
        help="trust this project's .corral/ settings (after showing them)",
        description=(
            "A project's .corral/config.toml, policy.toml and prompts can only tighten corral's settings until "
            "you trust the project. `corral trust` lists what .corral/ holds and records its digest; a later "
            "change to any file there (a git pull included) makes the project untrusted again. Review the "
            "files before trusting them: once trusted they may switch the mode, allow commands, change providers."
        ),
    )
    trust.add_argument("dir", nargs="?", type=Path, default=None, metavar="DIR",
                       help="a directory of the project (default: the current directory)")
    what = trust.add_mutually_exclusive_group()
    what.add_argument("--status", action="store_true",
                      help="say whether the project is trusted now, and why (exit 0 trusted, 1 not)")
    what.add_argument("--revoke", action="store_true", help="stop trusting the project")
    what.add_argument("--list", action="store_true", help="list every trusted project")
    trust.set_defaults(handler=run_trust)


def _root(directory: Path | None) -> Path:
    from agent.project import find_project_root

    start = Path.cwd() if directory is None else directory
    if not start.is_dir():
        raise UsageError(f"{start} is not a directory; give a directory of the project")
    return find_project_root(start)


def run_trust(args: argparse.Namespace) -> int:
    from agent.trust import TrustError

    if args.list and args.dir is not None:
        raise UsageError("--list lists every trusted project; it takes no DIR")
    try:
        if args.list:
            return _list()
        root = _root(args.dir)
        if args.status:
            return _status(root)
        if args.revoke:
            return _revoke(root)
        return _trust(root)
    except TrustError as exc:
        print(f"corral: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # writing the trust file: a full disk, a read-only home ...
        name = f" {exc.filename}" if exc.filename else ""
        print(f"corral: cannot update the trust file{name}: {exc.strerror or exc}; nothing was changed",
              file=sys.stderr)
        return EXIT_FAILED


def describe_entries(snap: Snapshot) -> list[str]:
    """One line per entry under ``.corral/``: files with their size, directories with '/', symlinks with
    their target."""
    lines = []
    for entry in snap.entries:
        if not entry.path:
            continue
        if entry.kind == "file":
            lines.append(f"  {entry.path}  ({entry.size} bytes)")
        elif entry.kind == "dir":
            lines.append(f"  {entry.path}/")
        elif entry.kind == "symlink":
            lines.append(f"  {entry.path} -> {entry.target}")
        else:
            lines.append(f"  {entry.path}  (special file)")
    return lines


def _trust(root: Path) -> int:
    from agent import trust

    snap = trust.snapshot(root)
    if snap.digest is not None and not snap.problems:
        lines = describe_entries(snap)
        print(f"{root / trust.CORRAL_DIR}/ holds:" if lines else f"{root / trust.CORRAL_DIR}/ is empty")
        for line in lines:
            print(line)
    record, note = trust.trust(root, snap=snap)
    if note:
        print(f"corral: {note}", file=sys.stderr)
    print(f"trusted {root} (sha256 {record.digest[:16]}…): its .corral/ settings now apply in full; any change "
          "there makes it untrusted again")
    return EXIT_OK


def _status(root: Path) -> int:
    from agent.trust import trust_status

    status = trust_status(root)
    print(f"{root}: {status.reason}")
    return EXIT_OK if status.trusted else EXIT_FAILED


def _revoke(root: Path) -> int:
    from agent.trust import revoke

    if revoke(root):
        print(f"revoked the trust in {root}: its .corral/ settings can only tighten again")
    else:
        print(f"{root} was not trusted; nothing to revoke")
    return EXIT_OK


def _list() -> int:
    from agent.trust import trust_status, trusted_projects

    records = trusted_projects()
    if not records:
        print("no trusted projects")
        return EXIT_OK
    for root, record in sorted(records.items()):
        path = Path(root)
        if not path.is_dir():
            state = "directory gone"
        else:
            status = trust_status(path)
            state = {"trusted": "unchanged", "changed": "changed since, untrusted now",
                     "none": ".corral/ gone"}.get(status.state, status.reason)
        print(f"{root}  trusted {record.trusted_at[:10]}  ({state})")
    return EXIT_OK
