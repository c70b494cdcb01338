"""The start (cli/start.py) answers help, --version and usage errors without
typer once typer has answered them: byte for byte, with the same exit code.

Every command line here runs three times, in real processes: through typer
itself (cli/app.py:main, which the start never touches), through the start
with nothing kept yet (typer answers; the start keeps a copy), and through
the start again (it answers alone: typer is never imported). The three must
print the same bytes on stdout and on stderr and exit alike, in a pipe and
on a terminal (where the error line is red).
"""

from __future__ import annotations

import fcntl
import marshal
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest
import typer

from complaintctl.cli import start
from complaintctl.cli.app import app
from tests.helpers import Workspace

TYPER = "import sys; sys.argv[0] = 'complaintctl'; from complaintctl.cli.app import main; main()"
# The start as the console script runs it, noting at exit whether typer was imported.
START = (
    "import atexit, os, runpy, sys\n"
    "mark = os.environ.pop('START_TEST_MARK')\n"
    "atexit.register(lambda: open(mark, 'w').write(str(any(m.split('.')[0] == 'typer' for m in sys.modules))))\n"
    "sys.argv[0] = 'complaintctl'\n"
    "runpy.run_module('complaintctl', run_name='__main__', alter_sys=True)\n"
)


def command_paths() -> list[list[str]]:
    """Every command, and every command of a group (team add, policy commit)."""
    paths = []
    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        paths.append([name])
        paths += [[name, sub] for sub in getattr(command, "commands", {})]
    return paths


USAGE_ERRORS = [
    ["note"],  # a missing argument
    ["nope"],  # an unknown command
    ["--bogus"],  # an unknown option at the top
    ["list", "--bogus"],  # and of a command
    ["approve", "C-20261122-7K3QX2", "two"],  # not a number
    ["list", "--format", "pdf"],  # not one of the values (said by the Enum, as a ComplaintError)
    ["open", "--customer", "X"],  # a missing option
    ["note", "C-20261122-7K3QX2", "x", "--kind"],  # an option without its value
    ["team", "add"],
    ["-h", "extra"],
]
HELP = [[], ["--help"], ["-h"], ["--version"], ["team"], ["policy"], ["--version", "list"], ["list", "-h"]]


class Run:
    def __init__(self, code: int, out: bytes, err: bytes, typer_loaded: bool | None) -> None:
        self.code, self.out, self.err, self.typer_loaded = code, out, err, typer_loaded

    def said(self) -> tuple[int, bytes, bytes]:
        return self.code, self.out, self.err


def run(
    how: str, args: list[str], cwd: Path, terminal: bool = False, env: dict[str, str] | None = None
) -> Run:
    """One process: 'typer' (cli/app.py:main) or 'start' (python -m complaintctl)."""
    environ = {**os.environ, **(env or {})}
    mark = cwd / "typer-loaded"
    mark.unlink(missing_ok=True)
    if how == "start":
        environ["START_TEST_MARK"] = str(mark)
    argv = [sys.executable, "-c", TYPER if how == "typer" else START, *args]
    if not terminal:
        done = subprocess.run(argv, cwd=cwd, env=environ, stdin=subprocess.DEVNULL, capture_output=True)
        code, out, err = done.returncode, done.stdout, done.stderr
    else:
        code, out, err = _on_terminals(argv, cwd, environ)
    loaded = mark.read_text() == "True" if mark.exists() else None
    return Run(code, out, err, loaded)


def _on_terminals(argv: list[str], cwd: Path, environ: dict[str, str]) -> tuple[int, bytes, bytes]:
    """stdout and stderr each on its own pseudo-terminal, 100 columns wide."""
    ends = [pty.openpty() for _ in range(2)]
    for _, child in ends:
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    read: list[list[bytes]] = [[], []]

    def drain(fd: int, into: list[bytes]) -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other end is closed: all read
                return
            if not chunk:
                return
            into.append(chunk)

    readers = [
        threading.Thread(target=drain, args=(main, into)) for (main, _), into in zip(ends, read, strict=True)
    ]
    for reader in readers:
        reader.start()
    done = subprocess.run(
        argv, cwd=cwd, env={**environ, "TERM": "xterm"}, stdin=subprocess.DEVNULL,
        stdout=ends[0][1], stderr=ends[1][1], timeout=120,
    )  # fmt: skip
    for _, child in ends:
        os.close(child)
    for reader in readers:
        reader.join(timeout=60)
    for main, _ in ends:
        os.close(main)
    return done.returncode, b"".join(read[0]), b"".join(read[1])


def kept(cache: Path) -> list[Path]:
    return sorted((cache / "complaintctl").glob("*.start")) if (cache / "complaintctl").is_dir() else []


def written(cache: Path) -> dict[Path, int]:
    return {entry: entry.stat().st_mtime_ns for entry in kept(cache)}


def _all_names() -> set[str]:
    """Every command and option name of the whole CLI (what the start may keep)."""
    import typer

    from complaintctl.cli import app

    app._prepare(typer.main.get_command(app.app))
    return set(app.names)


def three_ways(args: list[str], cwd: Path, terminal: bool = False, env: dict[str, str] | None = None) -> Run:
    """Typer, the start with nothing kept, the start again: the same bytes; the last without typer."""
    cache = Path(os.environ["XDG_CACHE_HOME"])
    plain = run("typer", args, cwd, terminal, env)
    before = written(cache)
    first = run("start", args, cwd, terminal, env)
    after = written(cache)
    again = run("start", args, cwd, terminal, env)
    assert first.said() == plain.said(), args
    assert again.said() == plain.said(), args
    assert plain.code in (0, 2), (args, plain.err)
    # A line that holds a value (not a command or option name) is never kept:
    # a refused 'open' would put a customer's name or phone in the cache.
    names_only = all(word in _all_names() for word in args)
    # A first word that is no command is kept without it (see test_an_unknown_command_...).
    unknown = not names_only and _no_command(args) and all(start._is_name(word) for word in args)
    if args != ["--version"]:  # --version is answered at once, nothing kept
        assert first.typer_loaded is True, args
        rewritten = len([e for e in after if before.get(e) != after[e]])
        assert rewritten == (1 if names_only or unknown else 0), args  # one entry (re)written
    assert again.typer_loaded is (not (names_only or unknown) and args != ["--version"]), args
    return plain


def _no_command(args: list[str]) -> bool:
    return bool(args) and not args[0].startswith("-") and args[0] not in typer.main.get_command(app).commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("args", [[*path, "--help"] for path in command_paths()], ids=" ".join)
def test_every_commands_help_is_answered_alike(args: list[str], tmp_path: Path) -> None:
    shown = three_ways(args, tmp_path)
    assert shown.out.startswith(b"Usage: complaintctl " + " ".join(args[:-1]).encode())


@pytest.mark.parametrize("args", HELP + USAGE_ERRORS, ids=lambda a: " ".join(a) or "(none)")
def test_help_version_and_usage_errors_are_answered_alike_in_a_pipe(args: list[str], tmp_path: Path) -> None:
    said = three_ways(args, tmp_path)
    if said.code == 2:  # one line, no colour, how to go on
        assert re.fullmatch(rb"complaintctl: [^\n]+\n", said.err) and b"\033[" not in said.err, said.err
        assert said.out == b""


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["note", "--help"], ["team"], *USAGE_ERRORS[:6]], ids=" ".join
)
def test_and_on_a_terminal_in_colour(args: list[str], tmp_path: Path) -> None:
    said = three_ways(args, tmp_path, terminal=True)
    if said.code == 2:
        assert said.err.startswith(b"\033[1;31mcomplaintctl:\033[0m "), said.err
    # and never with NO_COLOR, nor from what was kept in colour
    plain = three_ways(args, tmp_path, terminal=True, env={"NO_COLOR": "1"})
    assert b"\033[" not in plain.err
    assert plain.out.replace(b"\r\n", b"\n") == run("typer", args, tmp_path).out.replace(b"\r\n", b"\n")


def test_what_is_kept_depends_on_the_terminals_width(tmp_path: Path) -> None:
    wide = three_ways(["open", "--help"], tmp_path, env={"COLUMNS": "200"})
    narrow = three_ways(["open", "--help"], tmp_path, env={"COLUMNS": "60"})
    assert wide.out != narrow.out  # each answered as typer would at its width
    assert max(len(line) for line in narrow.out.splitlines()) <= 60


def test_a_command_that_ran_is_never_kept(ws: Workspace, tmp_path: Path) -> None:
    cache = Path(os.environ["XDG_CACHE_HOME"])
    env = {"COMPLAINTCTL_ROOT": str(ws.root)}
    for args, code in (
        (["note", "ZZZZ", "x"], 1),  # refused by the command: the workspace answers
        (["note", "ZZZZ"], 2),  # no text and no terminal: said by the command, exit 2
        (["-C", str(tmp_path / "nope"), "list"], 2),  # -C changes folder first
        (["-C", str(tmp_path / "nope"), "--help"], 0),
        (["-C", str(ws.root), "list", "--bogus"], 2),
        (["list"], 0),
    ):
        for _ in range(2):
            done = run("start", args, tmp_path, env=env)
            assert (done.code, done.typer_loaded) == (code, True), (args, done.err)
            assert done.said() == run("typer", args, tmp_path, env=env).said(), args
    assert kept(cache) == []


def package_copy(tmp_path: Path) -> Path:
    """complaintctl copied, to be edited: it shadows the installed one on PYTHONPATH."""
    source = Path(start.__file__).parents[1]
    target = tmp_path / "src"
    shutil.copytree(
        source, target / "complaintctl", symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    return target


def test_an_edited_source_or_a_new_version_is_answered_afresh(tmp_path: Path) -> None:
    src = package_copy(tmp_path)
    env = {"PYTHONPATH": str(src)}
    cache = Path(os.environ["XDG_CACHE_HOME"])
    three_ways(["note", "--help"], tmp_path, env=env)
    # What is printed again is what was kept: tamper with it, and the tampering shows.
    [entry] = kept(cache)
    fmt, key, sources, _said, code = marshal.loads(entry.read_bytes())
    assert str(src / "complaintctl" / "cli" / "app.py") in [s[0] for s in sources]
    entry.write_bytes(marshal.dumps((fmt, key, sources, [(1, b"kept\n")], code)))
    assert run("start", ["note", "--help"], tmp_path, env=env).out == b"kept\n"
    # An edited command: typer answers again, with the new text.
    app_py = src / "complaintctl" / "cli" / "app.py"
    app_py.write_text(app_py.read_text().replace("Add a note:", "Add a remark:"))
    edited = three_ways(["note", "--help"], tmp_path, env=env)
    assert b"Add a remark:" in edited.out
    # A new version (nothing else changed but __init__.py): answered afresh.
    entry = next(e for e in kept(cache) if b"Add a remark:" in e.read_bytes())
    fmt, key, sources, _said, code = marshal.loads(entry.read_bytes())
    entry.write_bytes(marshal.dumps((fmt, key, sources, [(1, b"kept\n")], code)))
    assert run("start", ["note", "--help"], tmp_path, env=env).out == b"kept\n"
    init = src / "complaintctl" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "0.1.0"', '__version__ = "0.2.0"'))
    assert run("start", ["note", "--help"], tmp_path, env=env).out == edited.out
    assert run("start", ["--version"], tmp_path, env=env).out == b"complaintctl 0.2.0\n"
    assert run("typer", ["--version"], tmp_path, env=env).out == b"complaintctl 0.2.0\n"


def test_a_cache_that_cannot_be_used_changes_nothing(tmp_path: Path) -> None:
    plain = run("typer", ["note"], tmp_path)
    # The cache folder's place is a file: nothing kept, the same answer.
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    for _ in range(2):
        done = run("start", ["note"], tmp_path, env={"XDG_CACHE_HOME": str(blocked)})
        assert (done.said(), done.typer_loaded) == (plain.said(), True)
    # A damaged entry, or one others may write, is not believed; a damaged one is written afresh.
    cache = Path(os.environ["XDG_CACHE_HOME"])
    three_ways(["note"], tmp_path)
    [entry] = kept(cache)
    entry.write_bytes(b"\x00garbage")
    assert run("start", ["note"], tmp_path).said() == plain.said()
    assert run("start", ["note"], tmp_path).typer_loaded is False
    entry.chmod(0o666)
    assert run("start", ["note"], tmp_path).typer_loaded is True


def test_the_key_names_every_variable_typer_reads(tmp_path: Path) -> None:
    """A new environment variable read by typer or its click must be in the start's key
    (or be read only where the key does not matter: completion, click's app folder)."""
    read = set()
    for source in Path(typer.__file__).parent.rglob("*.py"):
        read |= set(
            re.findall(r"""(?:getenv|environ\.get|environ)\(?\[?\s*["']([A-Z_]+)["']""", source.read_text())
        )
    unkeyed = {n for n in read if n not in start._ENV and not n.startswith(start._ENV_PREFIXES)}
    assert unkeyed == {"COMP_WORDS", "COMP_CWORD", "XDG_CONFIG_HOME"}, unkeyed


@pytest.mark.parametrize("encoding", ["utf-8", "ascii", "latin-1"])
def test_a_refused_value_is_said_alike_in_any_encoding(encoding: str, tmp_path: Path) -> None:
    # click re-wraps a stream whose encoding is ASCII; the start keeps what reached the stream.
    said = three_ways(["approve", "C-20261122-7K3QX2", "张三"], tmp_path, env={"PYTHONIOENCODING": encoding})
    assert said.code == 2 and said.err.startswith(b"complaintctl: Invalid value for 'OFFER'")


@pytest.mark.parametrize(
    "args",
    [
        ["open", "--customer", "张三", "--phone", "13812341234"],  # no --category: refused
        ["list", "zhangwei"],  # a lower-case value is a value too
    ],
)
def test_a_refused_line_with_a_customers_details_leaves_nothing_in_the_cache(
    tmp_path: Path, args: list[str]
) -> None:
    cache = Path(os.environ["XDG_CACHE_HOME"])
    shown = three_ways(args, tmp_path)
    assert shown.code == 2
    for entry in (cache / "complaintctl").glob("*") if (cache / "complaintctl").is_dir() else []:
        data = entry.read_bytes()
        assert all(word.encode() not in data for word in args[1:] if not word.startswith("-"))


def test_an_unknown_command_is_answered_for_any_word_without_keeping_the_word(tmp_path: Path) -> None:
    cache = Path(os.environ["XDG_CACHE_HOME"])
    three_ways(["frobnicate"], tmp_path)  # typer said it once: the answer is kept, the word taken out
    [entry] = kept(cache)
    assert b"frobnicate" not in entry.read_bytes()
    words = [
        ["张三"],
        ["Zhang Wei"],
        ["it's"],  # a repr in double quotes
        ["Zhang", "13812341234"],  # what follows the word is never read
        ["frob", "--help"],
        ["nte"],  # typer suggests 'note': a new answer, kept once seen
        ["nte"],
        ["ntoe", "qzqzq"],  # the same suggestion, another word
    ]
    seen_suggestion = False
    for args in words:
        plain = run("typer", args, tmp_path)
        done = run("start", args, tmp_path)
        assert done.said() == plain.said(), args
        assert plain.code == 2 and plain.err.startswith(
            b"complaintctl: No such command " + repr(args[0]).encode()
        )
        new_suggestion = b"Did you mean" in plain.err and not seen_suggestion
        assert done.typer_loaded is new_suggestion, args
        seen_suggestion = seen_suggestion or b"Did you mean" in plain.err
    data = b"".join(e.read_bytes() for e in kept(cache))
    for args in words:
        assert all(word.encode() not in data for word in args if not word.startswith("-")), args
    # A line that starts like a command and holds values ('note C-1 text', or a
    # typo of it) is left to typer: a command's own line never reads the entry.
    for args in (["nte", "C-1", "Called"], ["note", "C-1"]):
        done = run("start", args, tmp_path)
        assert done.typer_loaded is True and done.said() == run("typer", args, tmp_path).said(), args
    # A command is still a command, and says its own errors.
    for args in (["note"], ["list", "--bogus"], ["--bogus"]):
        done = run("start", args, tmp_path)
        assert done.said() == run("typer", args, tmp_path).said(), args
    # A damaged entry is not believed: typer answers; a line of names (never one
    # with a value) has it written afresh.
    entry.write_bytes(b"\x00garbage")
    for _ in range(2):
        assert run("start", ["张三"], tmp_path).typer_loaded is True
    assert run("start", ["frobnicate"], tmp_path).typer_loaded is True
    assert run("start", ["张三"], tmp_path).typer_loaded is False
    # Not on a stream that is not UTF-8: typer answers every time.
    for _ in range(2):
        done = run("start", ["张三"], tmp_path, env={"PYTHONIOENCODING": "latin-1"})
        assert done.typer_loaded is True
        assert done.said() == run("typer", ["张三"], tmp_path, env={"PYTHONIOENCODING": "latin-1"}).said()
