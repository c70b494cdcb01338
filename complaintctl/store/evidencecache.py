"""What 'check' knows of evidence, kept by git blob id.

A case file's evidence records (each file it names and the SHA-256 it
recorded) and an evidence file's SHA-256 never change for one blob id. Kept
in ``.git/complaintctl/vN/evidence.json``, 'check' parses a committed case
and hashes a committed evidence file only the first time it meets that
version of it: at 100k cases, 40k of them with a signed agreement, that is
the difference between minutes and seconds. Like the rest of the index it
is disposable: a damaged file is read as empty and written anew.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from complaintctl.core import indexrow
from complaintctl.store.workspace import Workspace, write_atomic

Record = tuple[str, str]  # (evidence file, its recorded SHA-256)


class EvidenceCache:
    def __init__(self, ws: Workspace) -> None:
        self._path = ws.git_dir() / "complaintctl" / f"v{indexrow.VERSION}" / "evidence.json"
        self._cases: dict[str, list[list[str]]] = {}
        self._files: dict[str, str] = {}
        self._changed = False
        try:
            data = json.loads(self._path.read_bytes())  # bytes: no text copy of 15 MB at 100k cases
            cases, files = data["cases"], data["files"]
            if isinstance(cases, dict) and isinstance(files, dict):
                self._cases, self._files = cases, files
        except (OSError, ValueError, KeyError, TypeError):
            pass  # none yet, or damaged: made again

    def records(self, case_blob: str) -> list[Record] | None:
        """The case's records as kept; None when not kept (or kept damaged)."""
        found = self._cases.get(case_blob)
        if found is None:
            return None
        try:
            records = [(f, s) for f, s in found]
        except (TypeError, ValueError):
            return None
        return records if all(isinstance(f, str) and isinstance(s, str) for f, s in records) else None

    def keep_records(self, case_blob: str, records: list[Record]) -> None:
        self._cases[case_blob] = [[f, s] for f, s in records]
        self._changed = True

    def sha256(self, blob: str, path: Path) -> str:
        """The SHA-256 of a committed evidence file, unchanged in the work tree."""
        kept = self._files.get(blob)
        if not (isinstance(kept, str) and len(kept) == 64):  # not kept, or kept damaged
            import hashlib

            self._files[blob] = hashlib.sha256(path.read_bytes()).hexdigest()
            self._changed = True
        return self._files[blob]

    def save(self, live: set[str]) -> None:
        """Write what changed, keeping only the versions still at HEAD (``live``: their blob ids)."""
        cases = {b: r for b, r in self._cases.items() if b in live}
        files = {b: s for b, s in self._files.items() if b in live}
        if not self._changed and len(cases) == len(self._cases) and len(files) == len(self._files):
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self._path, json.dumps({"cases": cases, "files": files}, separators=(",", ":")))
        except OSError:
            pass  # a cache: the next check makes it again


def records_of(case: Any) -> list[Record]:
    """Each evidence file and letter a parsed case names, with its recorded hash."""
    found = []
    for event in case["events"]:
        for item in [*(event.get("evidence") or ()), *([event["letter"]] if event.get("letter") else [])]:
            found.append((str(item.get("file", "")), str(item.get("sha256"))))
    return found
