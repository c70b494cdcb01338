"""The one slow git call of a reading command, started before the imports.

At 100k cases ``git status -- cases`` takes ~0.25 s (an lstat of every
file), and a command like 'list' only starts it once typer and its own
modules are imported, ~0.15 s into the run, then waits for it. The start
(``cli/start.py``) calls ``begin`` first for the commands in ``READERS``,
and ``offrecord.differ`` takes that process's answer instead of starting
its own: the same command line, folder and environment, so the same
answer it would have had a moment later (as any read races a writer).

Only for commands that write nothing: a changing command's status runs
under the workspace lock. A status begun and never taken (the command
failed first) is stopped at exit with SIGTERM, on which git removes its
index lock. Standard library only: the start imports this before typer.
"""

from __future__ import annotations

import os
import subprocess

# The commands that read cases through the index snapshot ('caseindex.snapshot').
READERS = frozenset({"list", "report", "overdue", "customer"})
STATUS = ("status", "--porcelain=v1", "-z", "--untracked-files=no", "--no-renames", "--", "cases")

_begun: dict[tuple[str, tuple[str, ...]], tuple[subprocess.Popen[bytes], dict[str, str]]] = {}


def env() -> dict[str, str]:
    """The environment every complaintctl git call runs in (gitwrite uses it)."""
    full = dict(os.environ)
    full["GIT_TERMINAL_PROMPT"] = "0"
    full.setdefault("LC_ALL", "C")
    return full


def begin(root: str, args: tuple[str, ...] = STATUS) -> None:
    """Start ``git args`` in ``root`` (a workspace's resolved folder)."""
    if (root, args) in _begun:
        return
    environ = env()
    try:
        proc = subprocess.Popen(
            ["git", *args], cwd=root, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError:
        return  # no git: the command says so itself when it runs git
    _begun[(root, args)] = (proc, environ)
    if len(_begun) == 1:
        import atexit

        atexit.register(_stop_all)


def take(root: str, args: tuple[str, ...]) -> subprocess.CompletedProcess[str] | None:
    """What ``git args`` begun in ``root`` said, as ``gitwrite.git`` returns
    it; None if it was not begun (or the environment changed since)."""
    found = _begun.pop((root, args), None)
    if found is None:
        return None
    proc, environ = found
    if environ != env():
        _stop(proc)
        return None
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
    while _begun:
        _stop(_begun.popitem()[1][0])
