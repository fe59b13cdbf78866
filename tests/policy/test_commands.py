"""The classifier: what one simple command does, built from SimpleCommand values directly.

Words are written as strings: a plain string is a literal word; ``X("$v")`` is an expansion,
``G("*.py")`` an unquoted glob. ``cmd("a b c")`` splits on spaces; pass several strings to keep
spaces inside a word. Shell code (``bash -c``) is analysed with ``split_shell`` below, a tiny real
parser for test strings (``;``-separated, space-split literal words), injected like the real one.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy._catalog import Catalog, load_catalog
from policy._commands import classify
from policy._types import CommandFacts, Kind, Redirect, ShellAnalysis, SimpleCommand, Word

CAT: Catalog = load_catalog()

N, R, W_, B, U = Kind.NEUTRAL, Kind.READ, Kind.WRITE, Kind.BUILD, Kind.UNKNOWN
NET, D, P, O = Kind.NETWORK, Kind.DESTRUCTIVE, Kind.PRIVILEGE, Kind.OPAQUE  # noqa: E741


def L(text: str) -> Word:
    tilde = text == "~" or text.startswith("~/")
    return Word(raw=text, value=text, literal=True, tilde=tilde)


def X(raw: str) -> Word:
    return Word(raw=raw, value=raw.strip('"'), literal=False)


def G(pattern: str) -> Word:
    return Word(raw=pattern, value=pattern, literal=False, glob=True)


def words(*parts: str | Word) -> tuple[Word, ...]:
    if len(parts) == 1 and isinstance(parts[0], str):
        return tuple(L(p) for p in parts[0].split())
    return tuple(p if isinstance(p, Word) else L(p) for p in parts)


def split_shell(source: str) -> ShellAnalysis:
    """A minimal shell 'parser' for tests: ``;`` separates commands, words split on spaces."""
    cmds = tuple(
        SimpleCommand(argv=tuple(L(w) for w in part.split()), text=part.strip())
        for part in source.split(";")
        if part.strip()
    )
    opaque = ("eval in the string",) if "eval" in source.split() else ()
    return ShellAnalysis(source, cmds, opaque)


def run(
    *parts: str | Word,
    assignments: tuple[tuple[str, Word], ...] = (),
    redirects: tuple[Redirect, ...] = (),
    functions: frozenset[str] = frozenset(),
) -> tuple[CommandFacts, ...]:
    argv = words(*parts) if parts else ()
    cmd = SimpleCommand(argv=argv, assignments=assignments, redirects=redirects,
                        text=" ".join(w.raw for w in argv))
    return classify(cmd, CAT, functions=functions, analyze=split_shell)


def kind(*parts: str | Word, **kw: object) -> Kind:
    """The most dangerous kind over every fact (the command and the shell code it runs)."""
    return max(f.kind for f in run(*parts, **kw))  # type: ignore[arg-type]


def fact(*parts: str | Word) -> CommandFacts:
    return run(*parts)[0]


def raws(ws: tuple[Word, ...]) -> list[str]:
    return [w.raw for w in ws]


def _id(v: object) -> str:
    return " ".join(w if isinstance(w, str) else w.raw for w in v) if isinstance(v, tuple) else ""


# ---------------------------------------------------------------------------------------------
# Everyday commands are READ, WRITE or BUILD (never UNKNOWN).

EVERYDAY: list[tuple[tuple[str, ...], Kind]] = [
    (("ls -la",), R), (("cat README.md",), R), (("head -n 20 src/main.py",), R),
    (("grep", "-rn", "def main", "src"), R), (("rg TODO",), R),
    (("find", ".", "-name", "*.py", "-not", "-path", "./.venv/*"), R),
    (("git status",), R), (("git diff HEAD~1 -- src",), R), (("git log --oneline -n 20",), R),
    (("git show HEAD:README.md",), R), (("git branch -a",), R), (("git rev-parse HEAD",), R),
    (("git blame -L 1,5 README.md",), R), (("git grep -n foo -- src",), R), (("git ls-files",), R),
    (("sort data.txt",), R), (("uniq -c",), R), (("tree -L 2",), R), (("python --version",), R),
    (("python3 -V",), R), (("node --version",), R), (("cargo --version",), R), (("go version",), R),
    (("pytest -q tests/test_x.py",), B), (("python -m pytest -x",), B), (("python3 -m pytest",), B),
    (("uv run pytest",), B), (("cargo test",), B), (("cargo build --release",), B),
    (("cargo clippy",), B), (("go test ./...",), B), (("go vet ./...",), B), (("npm test",), B),
    (("npm run lint",), B), (("yarn test",), B), (("pnpm test",), B), (("make",), B), (("make test",), B),
    (("make check",), B), (("cmake --build build",), B), (("ctest",), B), (("mvn test",), B),
    (("gradle test",), B), (("./gradlew test",), B), (("tox",), B), (("nox -s tests",), B),
    (("ruff check .",), B), (("mypy src",), B), (("pyright",), B), (("eslint src",), B),
    (("tsc --noEmit",), B), (("prettier --check .",), B), (("black --check .",), B),
    (("mkdir -p build",), W_), (("touch notes.txt",), W_), (("cp a.txt b.txt",), W_),
    (("mv old.py new.py",), W_),
    (("ln -s a b",), W_), (("sed", "-n", "1,20p", "file"), R), (("awk", "{print $1}", "file"), R),
    (("jq .name package.json",), R), (("diff a b",), R), (("cmp a b",), R), (("comm a b",), R),
    (("git add -A",), W_), (("git commit -m msg",), W_), (("du -sh .",), R), (("df -h",), R),
    (("which python3",), R), (("type ls",), R), (("command -v git",), N), (("stat file",), R),
    (("file x",), R), (("cut -d, -f1 data.csv",), R), (("tr a-z A-Z",), N), (("xargs grep foo",), R),
    (("wc -l",), R), (("pwd",), N), (("echo hello",), N), (("printf %s x",), N), (("true",), N),
    (("false",), N), (("test -f x",), N), (("[ -f x ]",), N), (("date",), R), (("uname -a",), R),
    (("whoami",), R), (("id",), R), (("basename a/b",), N), (("dirname a/b",), N), (("realpath x",), R),
    (("readlink -f x",), R), (("column -t data",), R), (("nl file",), R), (("od -c file",), R),
    (("hexdump -C file",), R), (("sha256sum file",), R), (("md5sum file",), R), (("yq .a f.yaml",), R),
    (("cd src",), N), (("pushd src",), N), (("popd",), N), (("tar tf x.tar",), R), (("tar -xf x.tar",), W_),
    (("less README.md",), R), (("man ls",), R), (("git stash list",), R), (("git remote -v",), R),
    (("git tag -l",), R), (("git config --get user.name",), R), (("git switch main",), W_),
    (("git checkout main",), W_), (("git stash",), W_), (("git merge feature",), W_),
    (("git rebase main",), W_),
    (("patch -p1 -i fix.patch",), W_), (("unzip -l a.zip",), R), (("gzip -c f",), R),
]


@pytest.mark.parametrize(("argv", "expected"), EVERYDAY, ids=lambda v: _id(v))
def test_everyday_commands(argv: tuple[str, ...], expected: Kind) -> None:
    facts = run(*argv)
    assert facts[0].kind is expected, facts[0].reasons
    assert facts[0].reasons


# ---------------------------------------------------------------------------------------------
# Dangerous options and forms make read-only programs something else.

DANGEROUS: list[tuple[tuple[str | Word, ...], Kind]] = [
    # find
    (("find . -delete",), D), (("find . -exec rm {} ;",), D), (("find . -execdir rm {} +",), D),
    (("find . -ok rm {} ;",), D), (("find . -okdir rm {} ;",), D), (("find / -fprint /tmp/x",), W_),
    (("find", ".", "-fprintf", "out", "%p"), W_), (("find . -fls out",), W_), (("find . -fprint0 out",), W_),
    (("find . -exec python x.py {} ;",), U), (("find . -exec {} ;",), U),
    # rg, grep family
    (("rg --pre ./evil.sh x",), U), (("rg --pre=sh TODO",), U), (("rg --pre-glob *.pdf x",), U),
    (("rg --pre-g *.pdf --pre x y",), U), (("rg --hostname-bin x y",), U),
    # sed
    (("sed -i s/a/b/ f",), W_), (("sed --in-place s/a/b/ f",), W_), (("sed -ni s/a/b/ f",), W_),
    (("sed -i.bak s/a/b/ f",), W_), (("sed --in-pl=.x s/a/b/ f",), W_), (("sed", "w /tmp/x", "f"), W_),
    (("sed", "W /tmp/x", "f"), W_), (("sed", "s/x/y/w out", "f"), W_), (("sed", "s/x/y/e", "f"), U),
    (("sed", "1e id", "f"), U), (("sed", "-e", "p", "-e", "e date", "f"), U), (("sed -f prog.sed f",), U),
    (("sed", "r /etc/passwd", "f"), R), (("sed", "s/a/b/;}junk", "f"), U),
    # awk
    (("awk", 'BEGIN{system("id")}'), U), (("awk", '{print > "/etc/x"}', "f"), W_),
    (("awk", '{print | "sh"}', "f"), U), (("awk", '"date" | getline d', "f"), U),
    (("awk", '{getline line < "/etc/passwd"}'), R), (("awk", "{print > $2}", "f"), U),
    (("gawk", "{print ENVIRON[\"HOME\"]}"), U), (("awk", '@load "x"; {print}'), U),
    (("awk -f prog.awk f",), U), (("awk", "-v", "x=1", "{print x}", "f"), R),
    (("awk", '{if ($1 > 5) print $1}', "f"), R), (("awk", '{print ($1 > 5)}', "f"), R),
    (("awk", '{x = $1 / 2; print x}', "f"), R), (("awk", '/a|b/ {print}', "f"), R),
    # sort, uniq, tee, xxd, date, tar, zip
    (("sort -o out data",), W_), (("sort --output=out data",), W_), (("sort -uo out data",), W_),
    (("sort --out=x data",), W_), (("sort --compress-program=gzip data",), U),
    (("uniq in out",), W_), (("tee out.txt",), W_), (("tee -a ~/.bashrc",), W_),
    (("xxd -r dump out.bin",), W_),
    (("date -s 2020-01-01",), P), (("date --set=2020-01-01",), P), (("date 010112002020",), P),
    (("tar -cf x.tar .",), W_), (("tar czf x.tgz dir",), W_), (("tar -xf a.tar --to-command=sh",), U),
    (("tar -cf x.tar --checkpoint=1 --checkpoint-action=exec=id .",), U), (("tar -I zstd -xf a.tar",), U),
    (("tar -xPf a.tar",), D), (("tar -cf x.tar --remove-files dir",), D), (("tar -tf host:a.tar",), NET),
    (("zip -TT id a.zip f",), U), (("zip -m a.zip f",), D),
    # pagers
    (("less", "+!id", "f"), U), (("less -k keys f",), U), (("less -o log f",), W_),
    (("man", "-P", "sh -c id", "ls"), U), (("man -Hfirefox ls",), U), (("bat --pager=id f",), U),
    # git global options and subcommands
    (("git", "-c", "core.pager=sh -c id", "log"), U), (("git -c alias.x=!id x",), U),
    (("git -c user.name=bot commit -m m",), W_), (("git -c core.pager=cat log",), R),
    (("git --config-env=core.pager=X log",), U), (("git -C /etc status",), U), (("git --git-dir=/x log",), U),
    (("git --work-tree=/x status",), U), (("git --exec-path=/tmp log",), U), (("git --exec-path",), R),
    (("git diff --output=/tmp/x",), W_), (("git log --output=x",), W_), (("git diff --ext-diff",), U),
    (("git diff --ext",), U), (("git show --textconv HEAD",), U), (("git diff --text",), R),
    (("git grep -O id x",), U), (("git grep --open-files-in-pager=id x",), U),
    (("git cat-file --filters HEAD:x",), U), (("git fetch --upload-pack=x origin",), NET),
    (("git ls-remote --upload-pack=x origin",), NET), (("git clone -u x http://h/r.git",), NET),
    (("git push",), NET), (("git pull",), NET), (("git fetch",), NET), (("git clone http://h/r",), NET),
    (("git submodule update",), NET), (("git remote show origin",), NET), (("git ls-remote",), NET),
    (("git reset --hard",), D), (("git clean -fdx",), D), (("git clean -n",), R), (("git push --force",), D),
    (("git push -f",), D), (("git push origin +main",), D), (("git push origin :old",), D),
    (("git push --force-with-lease",), D), (("git branch -D x",), D), (("git branch -d x",), W_),
    (("git branch new",), W_), (("git checkout -- .",), D), (("git checkout .",), D),
    (("git checkout src/app.py",), D), (("git checkout -b new origin/main",), W_),
    (("git checkout -f main",), D),
    (("git restore x",), D), (("git restore --staged x",), W_), (("git switch -f main",), D),
    (("git stash drop",), D), (("git stash clear",), D), (("git reflog expire --all",), D),
    (("git filter-branch x",), D), (("git gc --prune=now",), D), (("git rm x",), W_), (("git rm -f x",), D),
    (("git config core.hooksPath /tmp",), P), (("git config --global user.name X",), P),
    (("git config --unset user.name",), P), (("git config user.name",), R), (("git config set a.b c",), P),
    (("git init --template=/tmp/t",), P), (("git maintenance start",), P), (("git upload-pack .",), U),
    (("git frobnicate",), U), (("git difftool",), U), (("git help -w log",), U),
    (("git", "rebase", "-x", "rm -rf x", "main"), D), (("git bisect run rm x",), D),
    (("git", "submodule", "foreach", "rm x"), D),
    # destructive and privilege
    (("rm x",), D), (("rm -f",), D), (("rm --help",), D), (("rmdir d",), D), (("shred f",), D),
    (("dd if=/dev/zero of=x",), D), (("mkfs.ext4 /dev/sda",), D), (("truncate -s0 f",), D),
    (("chmod -R 777 .",), D), (("chmod 644 f",), W_), (("chmod -x f",), W_), (("chmod u+s f",), P),
    (("chmod 4755 f",), P), (("chmod g+s f",), P), (("chmod +s f",), P), (("chmod --reference=r f",), P),
    (("chown user f",), P), (("chown -R user .",), P), (("setcap cap_net_raw+ep f",), P),
    (("mount /dev/x /mnt",), P), (("install -m 4755 x /usr/bin/x",), P), (("crontab -e",), P),
    (("crontab -l",), R), (("sudo ls",), P), (("doas ls",), P), (("pkexec ls",), P), (("su -c id",), P),
    (("hash -p /tmp/x ls",), P), (("enable -f /tmp/x.so x",), P), (("hostname evil",), P),
    # network
    (("curl http://x",), NET), (("wget http://x",), NET), (("ssh host",), NET), (("scp a host:",), NET),
    (("rsync -a . host:/tmp",), NET), (("rsync --delete a/ b/",), D), (("nc -l 4444",), NET),
    (("ncat x 1",), NET), (("socat - TCP:h:1",), NET), (("telnet h",), NET), (("ftp h",), NET),
    (("pip install x",), NET), (("pip3 install x",), NET), (("python -m pip install x",), NET),
    (("pip list",), R), (("pip uninstall x",), D), (("npm install",), NET), (("npm i x",), NET),
    (("yarn add x",), NET), (("yarn",), NET), (("pnpm add x",), NET), (("cargo install x",), NET),
    (("cargo add x",), NET), (("go install x@latest",), NET), (("go get x",), NET), (("go mod tidy",), NET),
    (("apt-get install x",), NET), (("apt install x",), NET), (("brew install x",), NET),
    (("docker pull x",), NET), (("docker push x",), NET), (("docker run x",), P), (("docker ps",), R),
    (("python -m http.server",), NET), (("uv add x",), NET), (("npx cowsay",), U), (("uvx ruff",), U),
    # interpreters
    (("python",), U), (("python x.py",), U), (("python", "-c", "print(1)"), U), (("python3.12 -c x",), U),
    (("node -e x",), U), (("node x.js",), U), (("node --test",), B), (("perl -e x",), U), (("ruby -e x",), U),
    (("php -r x",), U), (("lua -e x",), U), (("deno eval x",), U), (("deno test",), B), (("bun x.ts",), U),
    (("bun test",), B), (("bash x.sh",), U), (("bash",), O), (("sh",), O), (("bash -s",), O),
    (("zsh -c ls",), U), (("fish -c ls",), U), (("java -jar x.jar",), U), (("java -version",), R),
    (("vim f",), U), (("eval x",), O), (("source x.sh",), O), ((".", "x.sh"), O), (("alias ls=rm",), O),
    (("alias",), N), (("declare -n ref=PATH",), O), (("let", "x[$(id)]"), O), (("let i++",), N),
    # environment printing
    (("env",), U), (("env -i",), U), (("env A=1",), U), (("printenv",), U), (("printenv HOME",), U),
    (("export",), U), (("export -p",), U), (("declare -p",), U), (("set",), U), (("set -e",), N),
    (("unknown-program x",), U), (("./script.sh",), U), (("/opt/bin/tool",), U),
]


@pytest.mark.parametrize(("argv", "expected"), DANGEROUS, ids=_id)
def test_dangerous_options_and_forms(argv: tuple[str | Word, ...], expected: Kind) -> None:
    facts = run(*argv)
    got = max(f.kind for f in facts)
    assert got is expected, [f.reasons for f in facts]


def test_reasons_are_human_readable() -> None:
    assert fact("find . -delete").reasons[0] == "find -delete deletes files"
    assert fact("curl x").reasons[0] == "curl talks to the network"
    assert fact("foo").reasons == ("unknown program 'foo'",)
    assert "rm deletes files" in fact("sudo rm x").reasons
    assert fact("git -c core.pager=sh log").reasons[0].startswith("git -c sets configuration")
    assert fact("sed -i s/a/b/ f").reasons[0] == "sed -i edits files in place"
    assert fact("python3 -m pytest").reasons[0] == "python3 -m pytest runs the project's tests"


# ---------------------------------------------------------------------------------------------
# Wrappers: unwrapped, every layer kept, the most dangerous kind wins.


@pytest.mark.parametrize(
    ("argv", "expected", "inner"),
    [
        ("sudo rm x", P, ("rm", "x")), ("sudo -u root -- rm -rf /", P, ("rm", "-rf", "/")),
        ("timeout 5 pytest", B, ("pytest",)), ("timeout -s KILL 5 curl x", NET, ("curl", "x")),
        ("nohup curl x", NET, ("curl", "x")), ("nice -n 5 make test", B, ("make", "test")),
        ("nice -5 ls", R, ("ls",)), ("ionice -c 3 ls", R, ("ls",)),
        ("stdbuf -o0 grep x f", R, ("grep", "x", "f")),
        ("time pytest", B, ("pytest",)), ("command rm x", D, ("rm", "x")),
        ("builtin cd src", N, ("cd", "src")),
        ("exec rm x", D, ("rm", "x")), ("env rm x", D, ("rm", "x")), ("env -u HOME -i A=1 ls", R, ("ls",)),
        ("env LD_PRELOAD=/x.so ls", P, ("ls",)), ("xargs rm", D, ("rm",)),
        ("xargs -0 -n 1 grep foo", R, ("grep", "foo")),
        ("xargs", N, ("xargs",)), ("setsid rm x", D, ("rm", "x")), ("chrt -f 1 ls", R, ("ls",)),
        ("taskset -c 0 ls", R, ("ls",)), ("flock /tmp/l rm x", D, ("rm", "x")), ("unbuffer ls", R, ("ls",)),
        ("watch -x ls", R, ("ls",)), ("strace -f ls", U, ("ls",)), ("busybox rm x", D, ("rm", "x")),
        ("nice nohup timeout 5 rm x", D, ("rm", "x")), ("/usr/bin/env rm x", D, ("rm", "x")),
        ("uv run python x.py", U, ("python", "x.py")), ("npx tsc --noEmit", U, ("tsc", "--noEmit")),
        ("cmake -E env A=1 rm x", D, ("rm", "x")), ("sudo A=1 ls", P, ("ls",)),
    ],
)
def test_wrappers(argv: str, expected: Kind, inner: tuple[str, ...]) -> None:
    f = fact(argv)
    assert f.kind is expected, f.reasons
    assert f.layers[0] == tuple(argv.split())
    assert f.argv == inner
    assert f.layers[-1] == inner


def test_find_exec_inner_command_is_a_layer() -> None:
    f = fact("find . -name *.py -exec grep -l foo {} +")
    assert f.kind is R
    assert f.layers[1] == ("grep", "-l", "foo", "{}")
    # {} stands for every file found, symbolic links included: a path that cannot be known beforehand
    assert raws(f.reads) == [".", "(files named by find -exec)"]
    assert not f.reads[1].literal


@pytest.mark.parametrize(
    ("argv", "reads", "writes"),
    [
        ("xargs cat", ["(files named by xargs)"], []),
        ("xargs -I{} cp {} dest/", ["(files named by xargs)"], ["dest/"]),
        ("xargs -0 grep -l foo", ["(files named by xargs)"], []),
        ("find src -exec mv {} {}.bak ;", ["src"], ["(files named by find -exec)"]),
        ("tar xf a.tar", ["a.tar"], [".", "(the paths stored in the archive)"]),
        ("unzip a.zip", ["a.zip"], [".", "(the paths stored in the archive)"]),
        ("patch -p1", [], [".", "(the files named in the patch)"]),
        ("cp -rL src backup", ["src", "(the files behind symbolic links)"], ["backup"]),
        ("grep -R KEY src", ["src", "(the files behind symbolic links)"], []),
        ("rg -uuu KEY", ["(hidden and ignored files (such as .env))"], []),
        ("find -L src", ["src", "(the files behind symbolic links)"], []),
        ("tar -tf a.tar", ["a.tar"], []),
        ("unzip -l a.zip", ["a.zip"], []),
        ("patch --dry-run -p1", [], []),
    ],
)
def test_paths_named_by_data_cannot_be_known(argv: str, reads: list[str], writes: list[str]) -> None:
    f = fact(argv)
    assert raws(f.reads) == reads
    assert raws(f.writes) == writes
    assert all(not w.literal for w in (*f.reads, *f.writes) if w.raw.startswith("("))


def test_xargs_input_may_be_options() -> None:
    assert fact("xargs grep foo").kind is R  # grep has no option that writes or runs code
    f = fact("xargs rg foo")
    assert f.kind is U and "could be options of rg" in f.reasons[0]
    assert fact("xargs sed -n p").kind is U  # the input could be -i
    assert fact("xargs rg foo --").kind is R  # after --, input words are operands
    assert fact("xargs env").kind is U
    assert fact("xargs env").layers == (("xargs", "env"), ("env",), ("<input>",))


def test_find_execdir_relative_paths_are_opaque() -> None:
    assert fact("find . -execdir cat ../x {} ;").kind is O
    assert fact("find . -execdir cat /etc/x {} ;").kind is R


def test_wrapper_with_non_literal_inner_command_is_opaque() -> None:
    f = fact("timeout", "5", X("$cmd"), "x")
    assert f.kind is O
    assert any("$cmd" in r for r in f.reasons)


def test_too_many_wrapper_layers_are_opaque() -> None:
    assert fact(" ".join(["nice"] * 12) + " ls").kind is O


# ---------------------------------------------------------------------------------------------
# Shell code: bash -c and friends are analysed recursively; eval/source are opaque.


def test_bash_c_is_analysed() -> None:
    facts = run("bash", "-c", "ls; rm -rf x")
    assert [f.text for f in facts] == ["bash -c ls; rm -rf x", "ls", "rm -rf x"]
    assert facts[0].kind is N
    assert facts[1].kind is R and facts[2].kind is D


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("sh", "-c", "ls"), R), (("bash", "-lc", "pytest"), B), (("bash", "-ec", "curl x"), NET),
        (("su", "-c", "rm x"), P), (("su", "-c", "ls"), P), (("xargs", "sh", "-c", "rm x"), D),
        (("watch", "rm", "-rf", "x"), D), (("trap", "rm x", "EXIT"), D), (("trap", "-", "EXIT"), N),
        (("flock", "/tmp/l", "-c", "curl x"), NET), (("git", "rebase", "--exec", "make test", "main"), B),
        (("find", ".", "-exec", "sh", "-c", "rm x", ";"), D), (("mapfile", "-C", "rm x", "arr"), D),
        (("sudo", "bash", "-c", "ls"), P), (("bash", "-c", "eval x"), O),
        (("timeout", "5", "bash", "-c", "make test"), B), (("npm", "exec", "-c", "curl x"), NET),
    ],
)
def test_shell_strings(argv: tuple[str, ...], expected: Kind) -> None:
    assert kind(*argv) is expected


def test_nested_shells_stop_at_the_depth_limit() -> None:
    assert kind("bash", "-c", "bash -c ls") is R
    facts = classify(
        SimpleCommand(argv=words("bash", "-c", "x")), CAT, analyze=split_shell, depth=CAT.max_shell_depth
    )
    assert facts[0].kind is O
    assert "levels deep" in facts[0].reasons[0]


def test_shell_code_without_a_parser_is_opaque() -> None:
    cmd = SimpleCommand(argv=words("bash", "-c", "ls"))
    f = classify(cmd, CAT)[0]
    assert f.kind is O


def test_file_names_pasted_into_shell_code_are_opaque() -> None:
    assert fact("xargs", "-I{}", "sh", "-c", "{}").kind is O
    assert fact("xargs", "-I", "%", "sh", "-c", "cat %").kind is O
    assert fact("find", ".", "-exec", "sh", "-c", "cat {}", ";").kind is O
    assert kind("find", ".", "-exec", "sh", "-c", "cat x", "{}", ";") is R


def test_non_literal_shell_code_is_opaque() -> None:
    assert fact("bash", "-c", X('"$code"')).kind is O
    assert fact("watch", X("$cmd")).kind is O


# ---------------------------------------------------------------------------------------------
# Paths read and written.


def test_paths() -> None:
    f = fact("cp -r src/ ~/backup")
    assert raws(f.reads) == ["src/"] and raws(f.writes) == ["~/backup"]
    assert f.writes[0].tilde
    f = fact("cp -t dest a b")
    assert raws(f.reads) == ["a", "b"] and raws(f.writes) == ["dest"]
    assert raws(fact("mv a b").writes) == ["a", "b"]
    assert raws(fact("touch a b").writes) == ["a", "b"]
    assert raws(fact("tee a b").writes) == ["a", "b"]
    assert raws(fact("sed -i s/a/b/ f g").writes) == ["f", "g"]
    assert raws(fact("sort -o out in").writes) == ["out"]
    assert raws(fact("grep -e x -f pats a b").reads) == ["pats", "a", "b"]
    assert raws(fact("grep pattern a").reads) == ["a"]
    assert raws(fact("head -n 20 f").reads) == ["f"]
    assert raws(fact("ls --ignore=/x/y --color=/z d").reads) == ["d"]
    assert raws(fact("ls --unknown=/etc/x").reads) == ["/etc/x"]
    assert raws(fact("curl -d @.env http://x").reads) == [".env"]
    assert raws(fact("curl -F f=@/etc/passwd http://x").reads) == ["/etc/passwd"]
    assert raws(fact("dd if=/dev/sda of=img").reads) == ["/dev/sda"]
    assert raws(fact("dd if=/dev/sda of=img").writes) == ["img"]
    assert raws(fact("tar -xf a.tar -C out").writes) == ["out", ".", "(the paths stored in the archive)"]
    assert raws(fact("tar -xf a.tar").reads) == ["a.tar"]
    assert raws(fact("tar czf x.tgz dir").writes) == ["x.tgz"]
    assert raws(fact("git add -A").writes) == ["."]
    assert raws(fact("cat - /dev/null").reads) == []
    assert fact("tee /dev/sda").kind is D


def test_glob_words_pass_as_paths() -> None:
    f = fact("wc", "-l", G("src/*.py"))
    assert f.kind is R and f.reads[0].glob
    assert fact("cat", G(".e*")).reads[0].raw == ".e*"
    f = fact("uniq", G("src/*"))  # may fill uniq's output operand too
    assert raws(f.writes) == ["src/*"]


def test_glob_that_may_match_an_option_name_asks() -> None:
    """A repository can hold a file named --pre=sh: ``rg foo *`` would run it. Not allowed unasked."""
    f = fact("rg", "foo", G("*"))
    assert f.kind is U
    assert "starting with '-'" in f.reasons[0]
    assert raws(f.reads) == ["*"]  # still judged as paths
    assert fact("sort", G("*.txt")).kind is U
    assert fact("cat", G("*")).kind is U  # a file named --files0-from=… would make cat read a list
    assert fact("ls", G("*")).kind is R  # ls has no dangerous option
    assert fact("rg", "foo", G("./*")).kind is R
    assert fact("rg", "foo", "--", G("*")).kind is R


def test_glob_in_a_data_value_is_opaque_for_programs_with_dangerous_options() -> None:
    assert fact("find", ".", "-name", G("*.py")).kind is O


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("cat", X("$HOME/.ssh/id_rsa")), "$HOME/.ssh/id_rsa"),
        (("rm", X('"$f"')), '"$f"'),
        (("git", X("$sub")), "$sub"),
        (("grep", X('"$pat"'), "file"), '"$pat"'),
        (("sed", X("$script"), "f"), "$script"),
        (("find", ".", X("$pred")), "$pred"),
        ((X("$cmd"), "x"), "$cmd"),
        (("cd", X("$dir")), "$dir"),
        (("chmod", X("$mode"), "f"), "$mode"),
        (("read", X("$name")), "$name"),
        (("export", X("$assign")), "$assign"),
        (("find", ".", "-name", X("$n")), "$n"),
        (("sort", X("--output=$f"), "x"), "$f"),
        (("grep", X("--file=$f"), "x"), "$f"),
    ],
)
def test_non_literal_words_where_they_matter_are_opaque(argv: tuple[str | Word, ...], fragment: str) -> None:
    f = fact(*argv)
    assert f.kind is O, f.reasons
    assert any(fragment in r for r in f.reasons), f.reasons


@pytest.mark.parametrize(
    "argv",
    [
        ("echo", X("$HOME")), ("echo", X("$(date)")), ("printf", "%s", X('"$x"')), ("printf", "%s", X("$x")),
        ("git", "log", "--grep", X('"$msg"')), ("grep", "-e", X('"$pat"'), "file"), ("test", "-n", X("$x")),
        ("ls", X("--color=$c")),
        ("git", "log", X('--author="$me"')), ("head", "-n", X("$n"), "f"), ("tr", X("$a"), X("$b")),
        ("printf", X('"%s $x"')), ("basename", X("$path")),
    ],
)
def test_non_literal_data_that_cannot_change_behaviour_is_fine(argv: tuple[str | Word, ...]) -> None:
    assert fact(*argv).kind <= R, fact(*argv).reasons


def test_process_substitution_is_a_neutral_path() -> None:
    assert fact("diff", X("<(ls)"), X("<(ls -a)")).kind is R
    f = run("wc", "-l", redirects=(Redirect("<", X("<(ls)")),))[0]
    assert f.kind is R and f.reads == ()


# ---------------------------------------------------------------------------------------------
# Redirections.


def test_redirections() -> None:
    f = run("echo", "hello", redirects=(Redirect(">", L("out.txt")),))[0]
    assert f.kind is W_ and raws(f.writes) == ["out.txt"]
    assert f.reasons[0] == "the redirection writes out.txt"
    f = run("tr", "a-z", "A-Z", redirects=(Redirect("<", L("in")),))[0]
    assert f.kind is R and raws(f.reads) == ["in"]
    f = run("cat", redirects=(Redirect("<>", L("f")),))[0]
    assert raws(f.reads) == ["f"] and raws(f.writes) == ["f"]
    for neutral in ("/dev/null", "/dev/stderr", "/dev/stdout", "/dev/fd/3"):
        f = run("ls", redirects=(Redirect(">", L(neutral)), Redirect(">&", None, fd=2)))[0]
        assert f.kind is R and f.writes == ()
    f = run("echo", "x", redirects=(Redirect(">", L("/dev/tcp/1.2.3.4/80")),))[0]
    assert f.kind is NET
    f = run("exec", redirects=(Redirect("<>", L("/dev/udp/h/53"), fd=3),))[0]
    assert f.kind is NET
    f = run("cat", redirects=(Redirect("<<", L("EOF")), Redirect("<<<", X('"$x"'))))[0]
    assert f.kind is R and f.reads == ()
    f = run("ls", redirects=(Redirect(">", X('"$out"')),))[0]
    assert f.kind is O and "$out" in f.reasons[0]
    f = run("ls", redirects=(Redirect(">", G("*.log")),))[0]
    assert f.kind is W_ and f.writes[0].glob
    f = run("echo", redirects=(Redirect(">", L("/dev/sda")),))[0]
    assert f.kind is D
    f = run("echo", redirects=(Redirect(">&", L("2")), Redirect(">&", L("-"))))[0]
    assert f.kind is N
    f = run(redirects=(Redirect(">", L("f")),))[0]
    assert f.kind is W_ and f.argv == () and f.layers == ()


# ---------------------------------------------------------------------------------------------
# Assignments.


@pytest.mark.parametrize(
    "name",
    ["LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", "PATH", "BASH_ENV", "ENV",
     "PROMPT_COMMAND", "PS4", "SHELLOPTS", "BASHOPTS", "PAGER", "GIT_PAGER", "MANPAGER", "LESSOPEN",
     "LESSCLOSE", "EDITOR", "VISUAL", "GIT_EDITOR", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_EXTERNAL_DIFF",
     "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_GLOBAL", "GIT_DIR", "GIT_WORK_TREE", "GIT_EXEC_PATH", "GIT_ASKPASS",
     "SSH_ASKPASS", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "NODE_OPTIONS", "NODE_PATH", "PERL5OPT",
     "PERL5LIB", "RUBYOPT", "RUBYLIB", "BROWSER", "HISTFILE", "CDPATH", "HOME", "BASH_FUNC_ls%%", "IFS"],
)
def test_dangerous_assignments(name: str) -> None:
    value = L("/tmp/evil")
    f = run("ls", assignments=((name, value),))[0]
    assert f.kind is P, f.reasons
    assert f.reasons[0].startswith(f"setting {name}")
    assert run(assignments=((name, value),))[0].kind is P  # bare assignment
    if name.isidentifier():  # bash refuses to export other names
        assert fact("export", f"{name}=/tmp/evil").kind is P
    assert fact("env", f"{name}=/tmp/evil", "ls").kind is P
    assert fact("sudo", f"{name}=/tmp/evil", "ls").kind is P


def test_env_assignment_with_a_non_literal_name_is_opaque() -> None:
    assert fact("env", X('"$N"=x'), "ls").kind is O
    assert fact("env", X('A="$v"'), "ls").kind is R
    assert fact("env", X("A=$v"), "ls").kind is O  # $v could split into "A=x rm -rf /"


def test_safe_assignments() -> None:
    assert run("git", "log", assignments=(("GIT_PAGER", L("cat")),))[0].kind is R
    assert run("git", "log", assignments=(("PAGER", L("")),))[0].kind is R
    assert run("read", "-r", "line", assignments=(("IFS", L("")),))[0].kind is N
    assert run("make", assignments=(("CC", L("clang")),))[0].kind is B
    assert run(assignments=(("x", X("$(date)")),))[0].kind is N
    assert run("ls", assignments=(("GIT_PAGER", X("$p")),))[0].kind is P  # not a known-safe value
    assert fact("export", X('PATH="$PATH:/x"')).kind is P
    assert fact("export", "FOO=1").kind is N
    assert fact("read", "PATH").kind is P
    assert fact("printf", "-v", "PATH", "%s", "x").kind is P
    assert fact("local", "-n", "r=PATH").kind is O


# ---------------------------------------------------------------------------------------------
# cd, functions, facts shape.


def test_cd() -> None:
    f = fact("cd src")
    assert f.kind is N and f.cd is not None and f.cd.value == "src"
    home = fact("cd").cd
    assert home is not None and home.tilde and home.value == "~"
    assert fact("cd", "-").cd == L("-")
    pushd = fact("pushd")
    assert pushd.cd is not None and pushd.cd.value == "-"
    popd = fact("popd")
    assert popd.cd is not None and popd.cd.value == "-"
    assert fact("pushd", "+1").cd == L("-")
    assert fact("pushd -n src").cd is None
    assert fact("cd", X('"$d"')).kind is O
    assert fact("builtin cd /etc").cd == L("/etc")


def test_functions_defined_in_the_script_are_neutral() -> None:
    f = run("build", "x", functions=frozenset({"build"}))[0]
    assert f.kind is N and "function" in f.reasons[0]
    assert run("rm", "x", functions=frozenset({"rm"}))[0].kind is N  # its body is judged instead
    assert run("timeout", "5", "build", functions=frozenset({"build"}))[0].kind is U  # not callable there
    assert run("build", functions=frozenset())[0].kind is U


def test_layers_use_raw_text_for_non_literal_words() -> None:
    f = fact("echo", X('"$HOME"'))
    assert f.layers == (("echo", '"$HOME"'),)
    assert f.text == 'echo "$HOME"'


def test_nested_facts_keep_their_own_text_and_layers() -> None:
    facts = run("sudo", "sh", "-c", "rm x")
    assert facts[0].kind is P and facts[0].layers[-1] == ("sh", "-c", "rm x")
    assert facts[1].layers == (("rm", "x"),) and facts[1].kind is D


# ---------------------------------------------------------------------------------------------
# Robustness: any argv classifies without raising, and never below the kind of its words' effects.

_VOCAB = [
    "-", "--", "-x", "-c", "-e", "-i", "-o", "-f", "-C", "-m", "-rf", "-exec", ";", "+", "{}", "--output=x",
    "--pre", "a=b", "PATH=/x", "x", "/etc/passwd", "~/.ssh", ".", "..", "*", "s/a/b/w f", "BEGIN{system(1)}",
    "push", "run", "install", "-c", "sh", "rm", "ls", "+x", ":x", "if=/x", "of=/y", "-Wsource=x", "",
]
_WORDS = st.one_of(
    st.sampled_from(_VOCAB).map(L),
    st.sampled_from(["$x", '"$@"', "$(id)", "`id`", '"$y"']).map(X),
    st.sampled_from(["*", "*.py", "src/*", "-*"]).map(G),
    st.text(max_size=6).map(L),
)
_NAMES = st.sampled_from(sorted(CAT.commands)).map(L)


@settings(max_examples=400, deadline=None)
@given(st.lists(_WORDS, max_size=7), _NAMES)
def test_never_raises(tail: list[Word], name: Word) -> None:
    for argv in ((name, *tail), (name, L("-c"), *tail), (L("sudo"), name, *tail)):
        facts = classify(SimpleCommand(argv=argv), CAT, analyze=split_shell)
        assert facts[0].layers[0][0] == argv[0].value
        assert facts[0].kind >= Kind.NEUTRAL
        if argv[0].value == "sudo":
            assert facts[0].kind >= Kind.PRIVILEGE
        if name.value == "rm":
            assert max(f.kind for f in facts) >= Kind.DESTRUCTIVE
