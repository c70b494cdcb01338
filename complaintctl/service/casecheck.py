"""'check' of the case files: every problem, as 'FILE[:LINE]: what; how to fix'.

It says what parsing every file under cases/ and hashing every evidence file
would say (tests/test_check.py holds it to exactly that), without doing it
at 100k cases: a committed case file unchanged since was read by the index
(the same parse, kept by blob id), and the evidence of a committed case is
compared through store/evidencecache.py. Parsed here: the files that differ
from HEAD (edited, new, ignored) and, once per version, the cases that
record evidence.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from complaintctl.core.records import ID_RE, case_relpath, is_case_path
from complaintctl.errors import ComplaintError
from complaintctl.store import caseindex, faults, gitwrite, workspace
from complaintctl.store.evidencecache import EvidenceCache, Record, records_of
from complaintctl.store.later import Later
from complaintctl.store.workspace import Workspace


def problems(ws: Workspace) -> list[str]:
    # git's answers, asked at once (each on a thread that waits on its git):
    # one after another they took ~2 s at 100k cases. What differs from HEAD:
    # what a crash could leave (one 'git status' of cases/ and evidence/),
    # ignored files, and files git was told not to look at.
    faults_later = Later(lambda: faults.find(ws))
    ignored_later = Later(
        lambda: gitwrite.git(
            ws.root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--", "cases"
        )
    )
    hidden_later = Later(lambda: _hidden(ws))
    # The files that cannot be read, from the queue database: asked first,
    # as making it (a cold index: at 100k cases ~15 s and ~60 MB) must not
    # meet HEAD's listing and the folder's in memory (~60 MB more). With the
    # database current, this takes as long here as later.
    unreadable = caseindex.with_queue(ws, lambda queue: queue.problems(), status=False)
    heads_later = Later(lambda: _head_blobs(ws))
    named_later = Later(lambda: _naming_evidence(ws))
    entries = workspace.case_files(ws)
    listing = [rel for rel, _ in entries]
    found: dict[str, list[str]] = {}  # the problems of a file, by path (none: not there)
    for rel, kind in entries:
        if kind == workspace.LINK:
            found[rel] = [f"{rel}: is a symbolic link; replace it with a plain file"]
        elif kind == workspace.OTHER:  # never opened: a FIFO would keep check waiting for ever
            found[rel] = [f"{rel}: {workspace.NOT_PLAIN}; {workspace.NOT_PLAIN_FIX}"]
        elif not is_case_path(rel):
            found[rel] = [_misplaced(ws, rel)]
    del entries
    left = faults_later.get()
    touched = {fault.path for fault in left} | hidden_later.get()
    changed = touched | set(filter(None, ignored_later.get().stdout.split("\0")))
    listed = set(listing) if unreadable else set()
    for problem in unreadable:
        if problem.path in listed and problem.path not in changed and not found.get(problem.path):
            found[problem.path] = [problem.message]
    cache = EvidenceCache(ws)  # before the listing of HEAD: its decoding needs room for a while
    heads = heads_later.get()
    named = named_later.get()
    sha_of = _hasher(heads, touched, cache)
    # Looked up in the cache in the order of the files, a window at a time.
    cache.plan(
        [heads[rel] for rel in listing if rel in named and rel not in changed and rel in heads],
        [blob for rel, blob in heads.items() if rel.startswith("evidence/") and rel not in touched],
    )
    recorded: set[str] = set()  # every evidence file and letter some case records
    for rel in listing:
        if rel in found or not is_case_path(rel):
            continue
        blob = None if rel in changed else heads.get(rel)
        if blob is None or rel in named:
            records = cache.records(blob) if blob else None
            if records is None:
                try:
                    text = (ws.root / rel).read_text(encoding="utf-8")
                    records = records_of(workspace.parse_case(text, rel, ws.policy, roundtrip=False))
                except ComplaintError as exc:
                    found[rel] = [str(exc)]
                    continue
                except (OSError, UnicodeDecodeError) as exc:
                    found[rel] = [f"{rel}: cannot read: {exc}"]
                    continue
                if blob:
                    cache.keep_records(blob, records)
            recorded.update(name for name, _ in records)
            missing = _evidence_problems(ws, rel, records, sha_of)
            if missing:
                found[rel] = missing
    cache.save(set(heads.values()))
    said = [problem for rel in listing for problem in found.get(rel, ())]
    said += _unrecorded(heads, recorded, touched, {Path(rel).stem for rel in found})
    joined = "\n".join(said)
    for fault in left:
        # Each file named once: a fault's file may be named by another's line
        # (a case's missing evidence), but a path that only starts another
        # (a folder put in a case file's place, named by its files) is not it.
        if not re.search(rf"(?:^|[ (]){re.escape(fault.path)}(?=[:;,) ]|$)", joined, re.MULTILINE):
            said.append(f"{fault.path}: {fault.what}; run 'complaintctl repair' to put it back")
    return said


def _unrecorded(heads: dict[str, str], recorded: set[str], touched: set[str], unread: set[str]) -> list[str]:
    """Committed files under evidence/ that no case records: a 'signed
    agreement' committed by hand is evidence of nothing. (Those of a case
    that could not be read are left to that case's own line.)"""
    out = []
    for name in heads:
        if name.startswith("evidence/") and name not in recorded and name not in touched:
            parts = name.split("/")
            if len(parts) > 2 and parts[1] in unread:
                continue
            out.append(
                f"{name}: no case records this file; remove it (git rm), or record evidence "
                "through 'complaintctl agree --evidence'"
            )
    return out


def _misplaced(ws: Workspace, rel: str) -> str:
    """What is wrong with a file under cases/ that is not where a case belongs."""
    stem = Path(rel).stem
    if rel.endswith(".yaml") and ID_RE.match(stem):
        home = case_relpath(stem)
        if (ws.root / home).exists():
            return f"{rel}: duplicate case id {stem} (also {home}); remove one copy"
        return f"{rel}: case {stem} is in the wrong folder; move it to {home}"
    return f"{rel}: not a case file name (cases/YYYY/MM/C-YYYYMMDD-XXXXXX.yaml); move or remove it"


def _hidden(ws: Workspace) -> set[str]:
    """Files of cases/ and evidence/ marked assume-unchanged or skip-worktree:
    git stops looking at them, so a change there shows in no status."""
    out = gitwrite.git_records(ws.root, "ls-files", "-v", "-z", "--", "cases", "evidence")
    return {entry[2:] for entry in out if entry and (entry[0].islower() or entry[0] == "S")}


def _head_blobs(ws: Workspace) -> dict[str, str]:
    """Every file of cases/ and evidence/ at HEAD, with its blob id."""
    blobs = {}
    listing = gitwrite.git_records(
        ws.root, "ls-tree", "-r", "-z", "HEAD", "--", "cases", "evidence", check=False
    )
    for line in listing:
        meta, _, rel = line.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            blobs[rel] = parts[2]
    return blobs


def _naming_evidence(ws: Workspace) -> set[str]:
    """Case files that record an evidence file or a letter (their hash)."""
    found = gitwrite.git(
        ws.root, "grep", "-l", "-z", "--untracked", "-F", "sha256", "--", "cases", check=False
    )
    return set(filter(None, found.stdout.split("\0")))


def _hasher(
    heads: dict[str, str], touched: set[str], cache: EvidenceCache
) -> Callable[[str, str], str | None]:
    """The SHA-256 of an evidence file (``path``: where it is), None when it
    is no file there. One as at HEAD (git's status names a tracked file that
    was deleted or changed) is there, and its hash is kept by blob id."""

    def sha_of(name: str, path: str) -> str | None:
        blob = heads.get(name)
        if blob and name not in touched:
            return cache.sha256(blob, path)
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()

    return sha_of


def _evidence_problems(
    ws: Workspace, rel: str, records: list[Record], sha_of: Callable[[str, str], str | None]
) -> list[str]:
    """Every evidence file and letter a case names must be there, unchanged."""
    found = []
    root = str(ws.root)
    for name, recorded in records:
        path = os.path.join(root, name)  # strings: 80k Paths cost seconds at 100k cases
        sha = sha_of(name, path) if name.startswith("evidence/") and ".." not in name.split("/") else None
        if sha is None:
            found.append(f"{rel}: evidence file {name} is missing; run 'complaintctl repair' to restore it")
        elif sha != recorded:
            found.append(
                f"{rel}: evidence file {name} was changed after it was recorded; "
                "run 'complaintctl repair' to restore it"
            )
    return found
