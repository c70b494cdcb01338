"""The one slow git call of a command, started before the imports.

At 100k cases ``git status -- cases`` takes ~0.25 s (an lstat of every
file), and a command like 'list' only starts it once typer and its own
modules are imported, ~0.15 s into the run, then waits for it. The start
(``cli/start.py``) calls ``begin`` first for the commands in ``READERS``,
and ``offrecord.differ`` takes that process's answer instead of starting
its own: the same command line, folder and environment, so the same
answer it would have had a moment later (as any read races a writer); not
if HEAD moved meanwhile (a commit, checkout or reset came in).

A changing command ('note CASE ...', 'open') asks 'git status' of the
files it will write and of the policy (``watched``) under the workspace
lock, once it holds it (gitwrite.preflight); ~0.1 s at 100k cases. The
start begins that status too, without the lock (a command may yet prompt
or fail, and must not keep others waiting meanwhile), when no command
holds it, and notes the token the lock file holds (``LOCK``). Every
command that takes the lock writes a new token there (gitwrite.
workspace_lock), and hands the token it found to ``locked`` first: a
status begun under another token than that one (another command took the
lock meanwhile, and may have written a case or rolled one back) is
stopped, and preflight asks again. So is one begun more than ``FRESH_S``
ago: the command waited on its user (text typed in $EDITOR or on stdin),
and a file may have been edited by hand meanwhile.

A status begun and never taken (the command failed first) is stopped at
exit with SIGTERM, on which git removes its index lock. Standard library
only: the start imports this before typer.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False  # not typing's (see cli/start.py)
if TYPE_CHECKING:
    import subprocess

# The commands that read cases through the index snapshot ('caseindex.snapshot').
READERS = frozenset({"list", "report", "overdue", "customer"})
STATUS = ("status", "--porcelain=v1", "-z", "--untracked-files=no", "--no-renames", "--", "cases")

# The commands that change the one case named by their first argument
# (cli/app.py hands each to changes.change_case): their preflight asks
# 'git status' of the case file and the audited files.
CASE_CHANGERS = frozenset(
    {
        "note", "propose", "approve", "withdraw", "refuse", "escalate", "draft", "signoff", "send",
        "wait", "resume", "flag", "lower", "close", "followup", "archive", "reopen", "assign", "plan",
        "execute", "correct", "retract",
    }
)  # fmt: skip
# What a case command is judged by: changed only through 'complaintctl policy
# commit' or 'complaintctl team', so that each case commit's policy is on record.
AUDITED = ("policy.yaml", "templates")
LOCK = "complaintctl.lock"  # in the git folder: the workspace lock (gitwrite.workspace_lock)
FRESH_S = 2.0  # a changing command's status begun longer ago than this is asked again
_TOKEN_BYTES = 16


def watched(paths: tuple[str, ...]) -> tuple[str, ...]:
    """A changing command's 'git status' of ``paths`` (gitwrite.preflight);
    --no-optional-locks: it need not write back the stat data it refreshes
    (writing the index is ~100 ms at 100k files)."""
    return ("--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)


def case_path_guess(word: str) -> str | None:
    """The file of the case a command line names by its whole id (as
    records.case_relpath makes it); None for anything else (a prefix, a
    value that is no id). A wrong guess costs only a status not taken."""
    case_id = word.strip().upper()
    if len(case_id) != 17 or case_id[:2] != "C-" or case_id[10] != "-" or not case_id[2:10].isdigit():
        return None
    return f"cases/{case_id[2:6]}/{case_id[6:8]}/{case_id}.yaml"


# (root, args) -> (the process, its environment, HEAD's files as they were
# when it began, and for a changing command's status the lock file's token
# and the time.monotonic() then)
if TYPE_CHECKING:
    _Begun = tuple[subprocess.Popen[bytes], dict[str, str], tuple[int, ...], tuple[bytes, float] | None]
_begun: dict[tuple[str, tuple[str, ...]], _Begun] = {}


def _head_now(root: str) -> tuple[int, ...] | None:
    """HEAD's files as they are (HEAD, the branch's ref, packed-refs): a
    commit, checkout or reset rewrites one of them. (Not the index: the
    status itself may write it, refreshed.)"""
    git_dir = os.path.join(root, ".git")
    seen: list[int] = []
    try:
        with open(os.path.join(git_dir, "HEAD"), "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    names = ["HEAD", "packed-refs"]
    if head.startswith(b"ref: "):
        names.append(head[5:].strip().decode("utf-8", errors="replace"))
    for name in names:
        try:
            info = os.stat(os.path.join(git_dir, name))
        except OSError:
            seen += [0, 0, 0]
            continue
        seen += [info.st_ino, info.st_size, info.st_mtime_ns]
    return tuple(seen)


# Git keeps up to 96 MB of delta bases and maps its pack files in windows
# of up to 1 GB, all of it resident as it is read: at 100k cases 'ls-tree -r'
# of cases/ took 153 MB and the log 'verify' reads 256 MB; with these 46 and
# 43 MB, and no slower. Given as configuration in the environment (git 2.31+;
# an older git ignores it), after any the caller gives.
SMALL_CACHES = (
    ("core.deltaBaseCacheLimit", "8m"), ("core.packedGitLimit", "32m"), ("core.packedGitWindowSize", "1m"),
)  # fmt: skip


def env() -> dict[str, str]:
    """The environment every complaintctl git call runs in (gitwrite uses it)."""
    full = dict(os.environ)
    full["GIT_TERMINAL_PROMPT"] = "0"
    full.setdefault("LC_ALL", "C")
    given = full.get("GIT_CONFIG_COUNT", "0") or "0"
    if given.isdigit():  # else git refuses the count; it is the caller's to fix
        n = int(given)
        for key, value in SMALL_CACHES:
            full[f"GIT_CONFIG_KEY_{n}"], full[f"GIT_CONFIG_VALUE_{n}"] = key, value
            n += 1
        full["GIT_CONFIG_COUNT"] = str(n)
    return full


def begin(root: str, args: tuple[str, ...] = STATUS, changing: bool = False) -> None:
    """Start ``git args`` in ``root`` (a workspace's resolved folder);
    ``changing``: a changing command's, begun only if no command holds the
    workspace lock now."""
    if (root, args) in _begun or not os.path.isdir(os.path.join(root, ".git")):
        return  # a worktree's .git is a file: left to the command
    token = _free_token(root) if changing else None
    if changing and token is None:
        return  # another command holds the lock: its change may be half made
    head = _head_now(root)
    if head is None:
        return
    began = time.monotonic()
    import subprocess  # here: a line the start only refuses need not pay for it

    environ = env()
    try:
        proc = subprocess.Popen(
            ["git", *args], cwd=root, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError:
        return  # no git: the command says so itself when it runs git
    _begun[(root, args)] = (proc, environ, head, (token, began) if token is not None else None)
    if len(_begun) == 1:
        import atexit

        atexit.register(_stop_all)


def _free_token(root: str) -> bytes | None:
    """The token in the workspace lock file (empty if there is none yet),
    read while no command holds the lock; None while one does (or where
    there is no flock)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    try:
        fd = os.open(os.path.join(root, ".git", LOCK), os.O_RDONLY)
    except FileNotFoundError:
        return b""
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        try:
            return os.pread(fd, _TOKEN_BYTES, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        return None  # held
    finally:
        os.close(fd)


def locked(root: str, fd: int) -> None:
    """Called by a command that has just taken the workspace lock (``fd``,
    the lock file open for writing): stop the changing commands' statuses
    begun under another token than the one found there, then write a new
    one, so that a status begun by any other command from now on is known
    to be older than this command's change."""
    found = os.pread(fd, _TOKEN_BYTES, 0)
    for key, (proc, _environ, _head, changing) in list(_begun.items()):
        if key[0] == root and changing is not None and changing[0] != found:
            del _begun[key]
            _stop(proc)
    os.pwrite(fd, os.urandom(_TOKEN_BYTES), 0)


def take(root: str, args: tuple[str, ...]) -> subprocess.CompletedProcess[str] | None:
    """What ``git args`` begun in ``root`` said, as ``gitwrite.git`` returns
    it; None if it was not begun (or the environment changed since)."""
    found = _begun.pop((root, args), None)
    if found is None:
        return None
    proc, environ, head, changing = found
    if changing is not None and time.monotonic() - changing[1] > FRESH_S:
        _stop(proc)  # the command waited on its user: a file may have been edited meanwhile
        return None
    if environ != env() or _head_now(root) != head:
        _stop(proc)  # another environment, or a commit came in meanwhile: ask again
        return None
    import subprocess

    out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, _text(out), _text(err))


def _text(data: bytes) -> str:
    """As ``subprocess.run(text=True, encoding="utf-8", errors="replace")`` reads it."""
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()  # git removes its lock files on SIGTERM
    proc.communicate()


def _stop_all() -> None:
    for key in list(_begun):
        found = _begun.pop(key, None)  # a thread of the command may take it meanwhile
        if found is not None:
            _stop(found[0])
