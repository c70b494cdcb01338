"""The one slow git call of a reading command, started before the imports.

At 100k cases ``git status -- cases`` takes ~0.25 s (an lstat of every
file), and a command like 'list' only starts it once typer and its own
modules are imported, ~0.15 s into the run, then waits for it. The start
(``cli/start.py``) calls ``begin`` first for the commands in ``READERS``,
and ``offrecord.differ`` takes that process's answer instead of starting
its own: the same command line, folder and environment, so the same
answer it would have had a moment later (as any read races a writer); not
if HEAD moved meanwhile (a commit, checkout or reset came in).

Only for commands that write nothing: a changing command's status runs
under the workspace lock. A status begun and never taken (the command
failed first) is stopped at exit with SIGTERM, on which git removes its
index lock. Standard library only: the start imports this before typer.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's (see cli/start.py)
if TYPE_CHECKING:
    import subprocess

# The commands that read cases through the index snapshot ('caseindex.snapshot').
READERS = frozenset({"list", "report", "overdue", "customer"})
STATUS = ("status", "--porcelain=v1", "-z", "--untracked-files=no", "--no-renames", "--", "cases")

# (root, args) -> (the process, its environment, HEAD's files as they were when it began)
if TYPE_CHECKING:
    _Begun = tuple[subprocess.Popen[bytes], dict[str, str], tuple[int, ...]]
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


def begin(root: str, args: tuple[str, ...] = STATUS) -> None:
    """Start ``git args`` in ``root`` (a workspace's resolved folder)."""
    if (root, args) in _begun or not os.path.isdir(os.path.join(root, ".git")):
        return  # a worktree's .git is a file: left to the command
    head = _head_now(root)
    if head is None:
        return
    import subprocess  # here: a line the start only refuses need not pay for it

    environ = env()
    try:
        proc = subprocess.Popen(
            ["git", *args], cwd=root, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError:
        return  # no git: the command says so itself when it runs git
    _begun[(root, args)] = (proc, environ, head)
    if len(_begun) == 1:
        import atexit

        atexit.register(_stop_all)


def take(root: str, args: tuple[str, ...]) -> subprocess.CompletedProcess[str] | None:
    """What ``git args`` begun in ``root`` said, as ``gitwrite.git`` returns
    it; None if it was not begun (or the environment changed since)."""
    found = _begun.pop((root, args), None)
    if found is None:
        return None
    proc, environ, head = found
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
