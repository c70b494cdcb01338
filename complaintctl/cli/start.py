"""The start of every command line, before typer is imported.

Importing typer (with its copy of click) takes several times as long as
Python's own start, and ``complaintctl --help``, ``CMD --help``, ``--version``
and a command line refused before any command runs (a usage error) need
none of it after the first time: what typer printed for exactly that
command line, in exactly these surroundings, is kept in the user's cache
folder (``$XDG_CACHE_HOME/complaintctl``, else ``~/.cache/complaintctl``) and
printed again, byte for byte, with the same exit code.

What makes a replay exact:

- the key, kept in the entry as its SHA-256 and compared: the
  command line; the Python, its import path and complaintctl's version;
  which of stdin, stdout and stderr are terminals, the terminal's size and
  the streams' encodings; and the environment variables that typer, click
  or complaintctl read before a command runs (``_ENV`` and ``_ENV_PREFIXES``:
  COLUMNS, NO_COLOR, TERM, the locale, ...);
- the sources: an entry lists every module file loaded when it was recorded
  (outside the standard library: complaintctl's, typer's, click's), with
  its size and modification and change times; any difference and typer
  answers again;
- only what no command's code touched: an entry is kept only when typer
  stopped before the function of any command ran (help, a usage error;
  ``cli/app.py`` says when one starts), with exit 0 or 2, without ``-C``
  (which changes folder first), and when no option reads the environment,
  prompts, or checks a path (``app.replayable``);
- only command lines of command and option names: a line that holds a
  value (a customer's name or phone in a refused 'open') is never written.

A command line whose first word is no command ('complaintctl frobnicate')
is refused by click in words that depend on that word only through its
``repr`` and the commands typer suggests for it (difflib's close matches).
Those answers are kept as one entry per set of surroundings: the command
names, and for each set of suggestions seen, the answer with the word's
``repr`` taken out. The word itself is never written; another unknown word
with the same suggestions gets the same answer with its own ``repr`` put in.

The cache is never needed: a folder that cannot be read or written, or a
damaged, foreign or stale entry, and typer answers as it always does.
"""

from __future__ import annotations

import io
import os
import sys

import complaintctl

TYPE_CHECKING = False  # not typing's: importing it costs more than this whole module
if TYPE_CHECKING:
    from typing import Any

    from _typeshed import ReadableBuffer

# Bumped when an entry's layout changes (older entries are then misses).
_FORMAT = "1"
# Environment variables read before a command runs: terminal size and
# colour (click, typer, cli/colour.py), the locale (gettext, the streams).
_ENV = frozenset(
    {
        "COLUMNS",
        "LINES",
        "TERM",
        "NO_COLOR",
        "FORCE_COLOR",
        "PY_COLORS",
        "GITHUB_ACTIONS",
        "TERMINAL_WIDTH",
        "LANG",
        "LANGUAGE",
        "LC_ALL",
        "LC_CTYPE",
        "LC_MESSAGES",
        "PYTHONIOENCODING",
        "PYTHONUTF8",
    }
)
_ENV_PREFIXES = ("TYPER", "_TYPER", "CLICK", "_CLICK", "COMPLAINTCTL", "_COMPLAINTCTL")
COMPLETE_VAR = "_COMPLAINTCTL_COMPLETE"
# Entries kept at most (the oldest go first); a few hundred bytes each.
_KEEP = 400
# Output beyond this is not kept (help is a few KiB).
_LARGEST = 1 << 18


# What a kept command line may hold: command and option names only.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _is_name(word: str) -> bool:
    """'note', '--help', '-h': a command or option name, never a value."""
    bare = word[2:] if word.startswith("--") else word[1:] if word.startswith("-") else word
    return (
        bool(bare)
        and bare[0].isascii()
        and bare[0].isalpha()
        and bare[0].islower()
        and set(bare) <= _NAME_CHARS
    )


def version_line() -> str:
    """What --version prints (one place: complaintctl.__version__, which the
    package's metadata is built from)."""
    return f"complaintctl {complaintctl.__version__}\n"


def main() -> None:
    argv = sys.argv[1:]
    if os.environ.get(COMPLETE_VAR):  # shell completion reads the workspace: always typer
        _typer_main()
        return
    if argv == ["--version"]:
        sys.stdout.write(version_line())
        sys.stdout.flush()
        sys.exit(0)
    key = _key(argv)
    path = _entry_path(key) if key is not None else None
    if key is not None and path is not None:
        found = _load(path, key)
        if found is not None:
            _replay(*found)
    learn = None  # a line whose first word may be no command: what to keep if it is none
    # A command's own line with values ('note C-1 text') never looks: its first
    # word is a name and the line is no key (nor a cache miss of one).
    maybe = key is not None or bool(argv and not _is_name(argv[0]))
    unknown = _unknown_key(argv) if maybe else None
    if unknown is not None:
        entry = _load_unknown(*unknown)
        if entry is not None and argv[0] not in entry[0]:  # surely no command
            _answer_unknown(argv[0], entry)  # returns when this answer is not kept yet
            _record(path, key, (argv[0], *unknown, entry))
            return
        if entry is None:
            learn = (argv[0], *unknown, None)
    _begin_early(argv)
    if key is None or path is None:
        # A line with values runs as it is; the commands are learnt from a line of names.
        _typer_main()
        return
    _record(path, key, learn)


def _begin_early(argv: list[str]) -> None:
    """Start the command's slow 'git status' now, while typer and the
    command's modules are imported (store/earlygit.py): a reading command's
    of the cases, a changing command's of the files it will write."""
    from complaintctl.store import earlygit

    if not argv:
        return
    if any(word in ("-h", "--help") or word.startswith(("-C", "--root")) for word in argv):
        return  # help asks no git; another folder is found as the command finds it
    command = argv[0]
    case = earlygit.case_path_guess(argv[1]) if command in earlygit.CASE_CHANGERS and len(argv) > 1 else None
    args: tuple[str, ...]
    if command in earlygit.READERS:
        args, changing = earlygit.STATUS, False
    elif command == "open" or case is not None:
        args, changing = earlygit.watched((*([case] if case else []), *earlygit.AUDITED)), True
    else:
        return
    root = _workspace_root()
    if root is not None:
        earlygit.begin(root, args, changing)


def _workspace_root() -> str | None:
    """Where workspace.find_workspace(None) will find the workspace (its rule:
    COMPLAINTCTL_ROOT, else the nearest folder up with policy.yaml), without
    importing it; a wrong guess only costs a git status that is not used."""
    chosen = os.environ.get("COMPLAINTCTL_ROOT")
    if chosen:
        path = os.path.realpath(os.path.expanduser(chosen))
        return path if os.path.isfile(os.path.join(path, "policy.yaml")) else None
    try:
        here = os.path.realpath(os.getcwd())
    except OSError:
        return None
    while True:
        if os.path.isfile(os.path.join(here, "policy.yaml")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _typer_main() -> None:
    from complaintctl.cli.app import main as typer_main

    typer_main()


# ---------------------------------------------------------------- the key


def _key(argv: list[str]) -> str | None:
    """Everything the answer may depend on, or None when it is not kept."""
    if any(word.startswith("-C") for word in argv):
        return None  # -C changes folder before anything is parsed
    if not all(_is_name(word) for word in argv):
        return None  # a value (a name, a phone, a case's text) is never written to the cache
    return _surroundings(argv)


def _surroundings(argv: list[str]) -> str | None:
    """The key: ``argv`` and everything else the answer may depend on."""
    stdout, stderr = sys.stdout, sys.stderr
    if stdout is None or stderr is None or not hasattr(stdout, "buffer") or not hasattr(stderr, "buffer"):
        return None
    try:
        size = tuple(os.get_terminal_size(sys.__stdout__.fileno()))  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        size = ()
    ttys = []
    for fd in (0, 1, 2):
        try:
            ttys.append(os.isatty(fd))
        except OSError:
            ttys.append(False)
    env = sorted((k, v) for k, v in os.environ.items() if k in _ENV or k.startswith(_ENV_PREFIXES))
    return repr(
        (
            _FORMAT,
            sys.version,
            sys.executable,
            sys.path,
            complaintctl.__file__,
            complaintctl.__version__,
            argv,
            ttys,
            size,
            (stdout.encoding, stdout.errors, stderr.encoding, stderr.errors),
            env,
        )
    )


def _entry_path(key: str) -> str | None:
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG rule: a relative path is ignored
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    import zlib

    data = key.encode("utf-8", "surrogatepass")
    return os.path.join(base, "complaintctl", f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}.start")


def _digest(key: str) -> str:
    """What an entry keeps of its key: the environment's values stay out of the file."""
    import hashlib

    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


# ---------------------------------------------------------------- an unknown command

# Stands for the unknown word in a kept key: no command line can hold it.
_ANY_WORD = "\0an unknown command"
# Stands for the word's repr in a kept answer.
_HOLE = b"\0word\0"


def _unknown_key(argv: list[str]) -> tuple[str, str] | None:
    """The entry's path and key for a line that may start with an unknown command
    (a word, not an option), or None: then it is answered as any other."""
    if not argv or not argv[0] or argv[0].startswith("-") or not argv[0].isprintable():
        return None
    encoding = getattr(sys.stderr, "encoding", None) or ""
    if encoding.lower().replace("-", "").replace("_", "") != "utf8":
        return None  # click re-wraps some streams: only UTF-8 is sure to take a repr as it is
    key = _surroundings([_ANY_WORD])
    path = _entry_path(key) if key is not None else None
    return (path, key) if key is not None and path is not None else None


def _answer_unknown(word: str, entry: tuple[list[str], dict[tuple[str, ...], Any]]) -> None:
    """Say that ``word`` is no command, as typer said it for another word
    with the same suggestions; return if no such answer is kept."""
    from difflib import get_close_matches

    commands, answers = entry
    found = answers.get(tuple(get_close_matches(word, commands)))  # as typer suggests them
    if found is not None:
        chunks, code = found
        text = repr(word).encode("utf-8", "surrogateescape")
        _replay([(fd, part.replace(_HOLE, text)) for fd, part in chunks], code)


def _load_unknown(path: str, key: str) -> tuple[list[str], dict[tuple[str, ...], Any]] | None:
    found = _load(path, key, fds=(0,))  # fd 0: the entry's data, not an answer
    if found is None or len(found[0]) != 1:
        return None
    import marshal

    try:
        commands, answers = marshal.loads(found[0][0][1])
        return list(commands), dict(answers)
    except Exception:  # damaged: typer answers
        return None


def _keep_unknown(
    unknown: tuple[str, str, str, tuple[list[str], dict[tuple[str, ...], Any]] | None],
    chunks: list[tuple[int, bytes]],
    code: int,
) -> None:
    """Keep typer's answer to a line starting with ``word`` if it said that
    ``word`` is no command: the word's repr taken out, under its suggestions."""
    from complaintctl.cli import app

    word, path, key, entry = unknown
    commands = list(app.commands)
    if code != 2 or word in commands or not commands:
        return
    kept = _without(chunks, repr(word).encode("utf-8", "surrogateescape"))
    if kept is None:
        return
    import marshal
    from difflib import get_close_matches

    answers = entry[1] if entry is not None and entry[0] == commands else {}
    answers[tuple(get_close_matches(word, commands))] = (kept, code)
    _store(path, key, [(0, marshal.dumps((commands, answers)))], 0)


def _without(chunks: list[tuple[int, bytes]], text: bytes) -> list[tuple[int, bytes]] | None:
    """The answer with the one place ``text`` is said replaced by the hole;
    None unless it is said exactly once, on stderr, and nothing on stdout."""
    whole = b"".join(part for _, part in chunks)
    if _HOLE in whole or whole.count(text) != 1 or any(fd != 2 for fd, _ in chunks):
        return None
    out = [(fd, part.replace(text, _HOLE)) for fd, part in chunks]
    return out if sum(part.count(_HOLE) for _, part in out) == 1 else None


# ---------------------------------------------------------------- replay


def _load(path: str, key: str, fds: tuple[int, ...] = (1, 2)) -> tuple[list[tuple[int, bytes]], int] | None:
    """The entry's output and exit code, if it is this key's and still true."""
    import marshal

    try:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o022:
                return None  # only an entry this user wrote, and no one else can
            data = file.read(_LARGEST * 2)
        fmt, stored_key, sources, chunks, code = marshal.loads(data)
        if fmt != _FORMAT or stored_key != _digest(key) or code not in (0, 2):
            return None
        for source, mtime, ctime, size in sources:
            seen = os.stat(source)
            if (seen.st_mtime_ns, seen.st_ctime_ns, seen.st_size) != (mtime, ctime, size):
                return None
        out = [(int(fd), bytes(text)) for fd, text in chunks if fd in fds]
        if len(out) != len(chunks):
            return None
        return out, int(code)
    except Exception:  # missing, unreadable, damaged: typer answers
        return None


def _replay(chunks: list[tuple[int, bytes]], code: int) -> None:
    streams = {1: sys.stdout.buffer, 2: sys.stderr.buffer}
    try:
        for fd, text in chunks:
            streams[fd].write(text)
            streams[fd].flush()
    except BrokenPipeError:
        # As typer does: the reader went away; say nothing more, exit 1.
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        sys.exit(1)
    sys.exit(code)


# ---------------------------------------------------------------- record


def _record(
    path: str | None,
    key: str | None,
    unknown: tuple[str, str, str, tuple[list[str], dict[tuple[str, ...], Any]] | None] | None = None,
) -> None:
    """Run typer with a copy of what it prints; keep it when no command ran
    (under ``path`` for a line of names, as ``unknown``'s answer when the
    line's first word turned out to be no command)."""
    from complaintctl.cli import app

    copy = _Copy()
    app.on_command = copy.stop_keeping
    try:
        app.main()
    except SystemExit as exc:
        copy.stop()
        code = 0 if exc.code is None else exc.code
        if copy.chunks is not None and code in (0, 2) and app.replayable and isinstance(code, int):
            # Only lines of the built commands' own names: a lower-case word can
            # still be a value ('list zhangwei'), and values never go to disk.
            known = all(word in app.names for word in sys.argv[1:])
            if path is not None and key is not None and known:
                _store(path, key, copy.chunks, code)
            if unknown is not None:
                _keep_unknown(unknown, copy.chunks, code)
        raise
    finally:
        app.on_command = None
        copy.stop()


class _Tap(io.BufferedIOBase):
    """A standard stream's bytes, passed on as they are, and noted."""

    def __init__(self, stream: Any, fd: int, copy: _Copy) -> None:
        super().__init__()
        self._raw = stream.buffer
        self._fd = fd
        self._copy = copy

    @property
    def name(self) -> Any:
        return self._raw.name

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        written: int = self._raw.write(data)
        self._copy.note(self._fd, bytes(data))
        return written

    def flush(self) -> None:
        self._raw.flush()

    def isatty(self) -> bool:
        return bool(self._raw.isatty())

    def fileno(self) -> int:
        return int(self._raw.fileno())

    def close(self) -> None:  # never the real stream
        super().close()


class _Copy:
    """stdout and stderr as they are, with a copy of every byte written
    until a command's own code starts (or the output grows too large)."""

    def __init__(self) -> None:
        self.chunks: list[tuple[int, bytes]] | None = []
        self._size = 0
        self._saved: tuple[Any, Any] | None = (sys.stdout, sys.stderr)
        sys.stdout = self._wrap(sys.stdout, 1)
        sys.stderr = self._wrap(sys.stderr, 2)

    def _wrap(self, stream: Any, fd: int) -> io.TextIOWrapper:
        return io.TextIOWrapper(
            _Tap(stream, fd, self),
            encoding=stream.encoding,
            errors=stream.errors,
            newline="\n",
            line_buffering=stream.line_buffering,
            write_through=True,
        )

    def note(self, fd: int, data: bytes) -> None:
        if self.chunks is None:
            return
        self._size += len(data)
        if self._size > _LARGEST:
            self.chunks = None
        else:
            self.chunks.append((fd, data))

    def stop_keeping(self) -> None:
        """A command's code starts: it runs on the real streams, nothing is kept."""
        self.stop()
        self.chunks = None

    def stop(self) -> None:
        if self._saved is None:
            return
        import contextlib

        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        sys.stdout, sys.stderr = self._saved
        self._saved = None


def _sources() -> list[tuple[str, int, int, int]] | None:
    """Every loaded module file outside the standard library, with its
    modification and change times and size (None if one cannot be read).
    The change time is the file system's own: a copy that keeps the
    modification time (cp -p, tar, rsync -t) still shows as changed."""
    stdlib = os.path.dirname(os.__file__) + os.sep
    found = []
    for name, module in list(sys.modules.items()):
        source = getattr(module, "__file__", None)
        if not isinstance(source, str) or (source.startswith(stdlib) and "-packages" not in source):
            continue
        try:
            info = os.stat(source)
        except OSError:
            if name == "__main__":
                continue
            return None
        found.append((source, info.st_mtime_ns, info.st_ctime_ns, info.st_size))
    return sorted(set(found))


def _store(path: str, key: str, chunks: list[tuple[int, bytes]], code: int) -> None:
    """Write the entry atomically; any failure leaves the cache as it was."""
    import marshal

    sources = _sources()
    if sources is None:
        return
    folder = os.path.dirname(path)
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        _prune(folder)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "wb") as file:
            file.write(marshal.dumps((_FORMAT, _digest(key), sources, chunks, code)))
        os.replace(temp, path)
    except OSError:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(temp)


def _prune(folder: str) -> None:
    entries = [e for e in os.scandir(folder) if e.name.endswith(".start")]
    if len(entries) < _KEEP:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns)
    import contextlib

    for entry in entries[: len(entries) - _KEEP // 2]:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
