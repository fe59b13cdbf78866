"""The prompt library: system prompts as markdown files with front matter, and how one is chosen.

Three layers, each a directory of `NAME.md` files (README.md is skipped):

- built-in: `prompts/` shipped with corral (code, plan, review, ... and the internal subagent and
  compaction prompts, which are never listed or selectable);
- user: `$XDG_CONFIG_HOME/corral/prompts/` (default `~/.config/corral/prompts/`);
- project: `.corral/prompts/` in the project root, read only once the user trusted the project: a
  repository must not be able to hand the model new instructions behind the user's back.

A later layer overrides an earlier one by name. Front matter (`key: value` lines between `---` fences)
sets `name`, `description`, `mode` (the prompt's permission mode: it can lower the user's mode, never
raise it, see `effective_mode`), `writes` (globs the model may write in this prompt; the policy engine
enforces them) and, for built-ins only, `internal`. Bad front matter is a UsageError naming the file and
line; a broken user or project file only becomes a note in the listing, unless it is the one selected.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Mapping
from pathlib import Path

from agent.errors import UsageError
from agent.values import frozen, record

MODES = ("restrictive", "read-only", "guarded", "standard", "yolo")  # policy.Mode's order, strictest first
KEYS = ("name", "description", "mode", "writes", "internal")
SOURCES = ("builtin", "user", "project")  # precedence, lowest first
MAX_PROMPT_BYTES = 64 * 1024
DOC_FILES = ("docs/CONFIG.md", "docs/POLICY.md", "docs/PROVIDERS.md", "docs/PROMPTS.md", "README.md")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


@frozen
class Prompt:
    name: str
    description: str
    mode: str | None
    body: str
    source: str = "builtin"
    path: Path | None = None
    writes: tuple[str, ...] = ()
    internal: bool = False


@record
class PromptList:
    """`prompts`: the selectable prompts by name (internal ones excluded); `notes`: what the user should
    know (ignored project prompts, broken files); `errors`: broken files by name that shadow a prompt
    of a lower layer (selecting that name raises the error); `untrusted`: names of ignored project prompts."""

    prompts: dict[str, Prompt]
    notes: list[str]
    errors: dict[str, UsageError]
    untrusted: tuple[str, ...] = ()


def builtin_prompt_dir() -> Path:
    """The prompts/ directory shipped with corral (beside the packages, in a checkout or a wheel)."""
    return Path(__file__).resolve().parent.parent / "prompts"


def user_prompt_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/corral/prompts` (an absolute XDG_CONFIG_HOME only), else `~/.config/corral/prompts`."""
    from agent.xdg import config_dir

    return config_dir(environ) / "prompts"


def project_prompt_dir(project_root: Path) -> Path:
    return project_root / ".corral" / "prompts"


# --- parsing ---------------------------------------------------------------------------------------


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _parse_writes(value: str, where: str) -> tuple[str, ...]:
    globs = tuple(item.strip() for item in value.split(","))
    for glob in globs:
        if not glob:
            raise UsageError(f"{where}: 'writes' has an empty entry; give comma-separated globs like docs/**")
        if glob.startswith("/") or (glob.startswith("~") and not glob.startswith("~/")):
            raise UsageError(
                f"{where}: writes glob {glob!r} must be relative to the project root or start with ~/"
            )
        if ".." in glob.split("/") or "\0" in glob:
            raise UsageError(f"{where}: writes glob {glob!r} must not contain '..'")
    return globs


def _parse_value(key: str, value: str, where: str, meta: dict[str, object]) -> None:
    if key == "mode":
        if value not in MODES:
            raise UsageError(f"{where}: mode {value!r} is not a permission mode; use one of {', '.join(MODES)}")
        meta[key] = value
    elif key == "writes":
        meta[key] = _parse_writes(value, where)
    elif key == "internal":
        if value.lower() not in ("true", "false"):
            raise UsageError(f"{where}: internal must be true or false, not {value!r}")
        meta[key] = value.lower() == "true"
    elif key == "name":
        if not _NAME.match(value):
            raise UsageError(f"{where}: name {value!r} must be letters, digits, '.', '_' or '-'")
        meta[key] = value
    else:
        meta[key] = value


def _front_matter(lines: list[str], path: str) -> tuple[dict[str, object], int]:
    """The front matter of a file whose first line is `---`, and the index of its closing line."""
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() == "---")
    except StopIteration:
        raise UsageError(
            f"{path}:1: front matter opened by '---' is never closed; add a '---' line after the last key"
        ) from None
    meta: dict[str, object] = {}
    for index in range(1, end):
        line = lines[index]
        where = f"{path}:{index + 1}"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep:
            raise UsageError(f"{where}: front matter line {line.strip()!r} is not 'key: value'")
        if key not in KEYS:
            raise UsageError(f"{where}: unknown front matter key {key!r}; known keys: {', '.join(KEYS)}")
        if key in meta:
            raise UsageError(f"{where}: front matter key {key!r} is given twice")
        _parse_value(key, _unquote(value.strip()), where, meta)
    return meta, end


def parse_prompt(text: str, path: Path | str, source: str = "builtin") -> Prompt:
    """A prompt from a file's text; `path` names it in errors and gives the default name (its stem)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    lines = text.split("\n")
    meta: dict[str, object] = {}
    body = text
    if lines[0].rstrip() == "---":
        meta, end = _front_matter(lines, str(path))
        body = "\n".join(lines[end + 1 :])
    if meta.get("internal") and source != "builtin":
        raise UsageError(f"{path}: 'internal' is reserved for corral's built-in prompts; remove it")
    if not body.strip():
        raise UsageError(f"{path}: the prompt has no text after its front matter")
    name = str(meta.get("name") or Path(path).stem)
    writes = meta.get("writes", ())
    return Prompt(
        name=name,
        description=str(meta.get("description", "")),
        mode=str(meta["mode"]) if "mode" in meta else None,
        body=body.strip() + "\n",
        source=source,
        path=Path(path),
        writes=writes if isinstance(writes, tuple) else (),
        internal=bool(meta.get("internal", False)),
    )


def read_prompt_file(path: Path, source: str, project_root: Path | None = None) -> Prompt:
    """Parse one prompt file. A project prompt may not be a symlink leaving its directory, nor resolve
    outside `project_root` (a linked `.corral/`); only regular files up to MAX_PROMPT_BYTES of UTF-8."""
    from agent.context_files import Unreadable, inside, read_regular, symlink_escapes

    if source == "project":
        real = os.path.realpath(path)
        root = os.path.realpath(project_root) if project_root is not None else real
        if symlink_escapes(path) or not inside(real, root):
            raise UsageError(f"{path}: resolves to {real}, outside {path.parent}; not read")
    try:
        data, _ = read_regular(Path(os.path.realpath(path)), MAX_PROMPT_BYTES)
    except Unreadable as exc:
        raise UsageError(f"{path}: {exc}") from None
    if len(data) > MAX_PROMPT_BYTES:
        raise UsageError(f"{path}: larger than {MAX_PROMPT_BYTES // 1024} KB; a prompt should be much shorter")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    return parse_prompt(text, path, source)


def _prompt_files(directory: Path) -> list[Path]:
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise UsageError(f"{directory}: cannot list prompts ({exc.strerror})") from None
    return [directory / n for n in names if n.endswith(".md") and n != "README.md" and not n.startswith(".")]


def load_builtin(name: str) -> Prompt:
    """A built-in prompt by name, internal ones included (the agent uses this for subagent/compaction)."""
    path = builtin_prompt_dir() / f"{name}.md"
    if not _NAME.match(name) or not path.is_file():
        known = sorted(p.stem for p in _prompt_files(builtin_prompt_dir()))
        raise UsageError(f"unknown prompt {name!r}; built-in prompts: {', '.join(known)}")
    return parse_prompt(path.read_text(encoding="utf-8"), path, "builtin")


# --- the library -----------------------------------------------------------------------------------


def _add_layer(found: PromptList, directory: Path, source: str, broken: dict[str, tuple[int, UsageError]],
               project_root: Path | None = None) -> None:
    rank = SOURCES.index(source)
    builtin = source == "builtin"
    layer: dict[str, Prompt] = {}
    try:
        paths = _prompt_files(directory)
    except UsageError as exc:
        if builtin:
            raise
        found.notes.append(f"{source} prompts not loaded: {exc}")
        return
    for path in paths:
        try:
            prompt = load_builtin(path.stem) if builtin else read_prompt_file(path, source, project_root)
        except UsageError as exc:
            if builtin:
                raise
            found.notes.append(f"ignored {source} prompt: {exc}")
            broken[path.stem] = (rank, exc)
            continue
        if prompt.internal:
            continue
        if prompt.name in layer:
            found.notes.append(f"{source} prompts {layer[prompt.name].path} and {path} are both named "
                               f"{prompt.name!r}; using the first")
            continue
        layer[prompt.name] = prompt
    found.prompts.update(layer)


def list_prompts(project_root: Path, environ: Mapping[str, str] | None = None, trusted: bool = False) -> PromptList:
    """Every selectable prompt: project (only if `trusted`) > user > built-in, by name."""
    found = PromptList(prompts={}, notes=[], errors={})
    broken: dict[str, tuple[int, UsageError]] = {}
    _add_layer(found, builtin_prompt_dir(), "builtin", broken)
    _add_layer(found, user_prompt_dir(environ), "user", broken)
    project_dir = project_prompt_dir(project_root)
    if trusted:
        _add_layer(found, project_dir, "project", broken, project_root)
    else:
        try:
            ignored = tuple(p.stem for p in _prompt_files(project_dir))
        except UsageError:
            ignored = ()
        if ignored:
            count = f"{len(ignored)} project prompt{'s' if len(ignored) != 1 else ''}"
            found.notes.append(f"{count} in .corral/prompts ignored: the project is not trusted (run `corral trust`)")
        found.untrusted = ignored
    for name, (rank, exc) in broken.items():
        winner = found.prompts.get(name)
        if winner is None or SOURCES.index(winner.source) < rank:
            found.errors[name] = exc
    return found


def select_prompt(name: str, project_root: Path, environ: Mapping[str, str] | None = None,
                  trusted: bool = False) -> Prompt:
    """The prompt `--prompt NAME` chose. A broken file of that name that would have won raises its error."""
    if (_NAME.match(name) and not _prompt_files(user_prompt_dir(environ))
            and not (trusted and _prompt_files(project_prompt_dir(project_root)))
            and (builtin_prompt_dir() / f"{name}.md").is_file()):
        prompt = load_builtin(name)  # only built-ins can win: read the one chosen, not the whole library
        if not prompt.internal:
            return prompt
    found = list_prompts(project_root, environ, trusted)
    if name in found.errors:
        raise found.errors[name]
    if name in found.prompts:
        return found.prompts[name]
    if name in found.untrusted:
        raise UsageError(
            f"prompt {name!r} comes from this project's .corral/prompts, which is ignored until you trust the "
            "project: review the files there, then run `corral trust`"
        )
    raise UsageError(
        f"unknown prompt {name!r}; available prompts: {', '.join(sorted(found.prompts))} "
        "(`corral prompts` describes them)"
    )


def format_listing(found: PromptList) -> str:
    """The text of `corral prompts`: name, default mode, source and description, then the notes."""
    rows = sorted(found.prompts.values(), key=lambda p: p.name)
    width = max((len(p.name) for p in rows), default=4)
    lines = [
        f"{p.name:<{width}}  {(p.mode or '-'):<11}  {p.source:<7}  {p.description}".rstrip() for p in rows
    ]
    lines += [f"note: {note}" for note in found.notes]
    return "\n".join(lines) + "\n"


def effective_mode(user_mode: str, prompt_mode: str | None) -> str:
    """The stricter of the user's mode and the prompt's: a prompt can lower the mode, never raise it.

    `standard` (the default mode) in a prompt puts no limit on the user's choice: the code, debug … prompts
    say standard and still run in yolo when the user asks for yolo. Only a stricter prompt mode (read-only
    for review, ask …) lowers the run's mode."""
    import policy

    try:
        user = policy.Mode.parse(user_mode).value
        prompt = policy.Mode.parse(prompt_mode).value if prompt_mode is not None else user
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if prompt in (policy.Mode.STANDARD.value, policy.Mode.YOLO.value):
        return user
    order = [m.value for m in policy.Mode]
    return min(user, prompt, key=order.index)


def writes_patterns(prompt: Prompt, project_root: Path, home: Path) -> tuple[str, ...]:
    """The prompt's `writes` globs made absolute (`~/` against `home`, the rest against the project root)."""
    return tuple(
        str(home / g[2:]) if g.startswith("~/") else str(project_root / g) for g in prompt.writes
    )


# --- the system prompt -----------------------------------------------------------------------------


def environment_block(project_root: Path, cwd: Path, mode: str, sandbox: str, writes: tuple[str, ...] = ()) -> str:
    lines = [
        f"- project root: {project_root}",
        f"- working directory: {cwd}",
        f"- permission mode: {mode}; sandbox: {sandbox}",
        f"- platform: {os.uname().sysname} {os.uname().release}; shell: bash",
        f"- date: {datetime.date.today().isoformat()}",
        f"- user: {os.environ.get('USER', 'unknown')}",
    ]
    if writes:
        lines.append(f"- in this task you may write only: {', '.join(writes)} (other writes are denied)")
    return "\n".join(lines)


def docs_block() -> str:
    """Where corral's own documentation is installed (filled into a prompt's `{docs}` placeholder)."""
    base = builtin_prompt_dir().parent
    present = [base / rel for rel in DOC_FILES if (base / rel).is_file()]
    if not present:
        return (f"- corral's documentation is not installed beside the package ({base}); rely on "
                "`corral --help`, `corral config show` and `corral config path`")
    return "\n".join(f"- {path}" for path in present)


def system_prompt(prompt: Prompt | str, project_root: Path, cwd: Path, mode: str, sandbox: str, *,
                  context: str = "") -> str:
    """The system prompt: the prompt's body with `{environment}` (and `{docs}`) filled in, an environment
    section appended when the body has no placeholder, and the project-context section (`context`,
    from `context_files.render`) at the end. A name instead of a Prompt loads that built-in."""
    if isinstance(prompt, str):
        prompt = load_builtin(prompt)
    env = environment_block(project_root, cwd, mode, sandbox, prompt.writes)
    body = prompt.body
    if "{environment}" in body:
        body = body.replace("{environment}", env)
    else:
        body = f"{body.rstrip()}\n\nEnvironment:\n{env}\n"
    if "{docs}" in body:
        body = body.replace("{docs}", docs_block())
    if context.strip():
        body = f"{body.rstrip()}\n\n{context.strip()}\n"
    return body
