"""What 'check' knows of evidence, kept by git blob id.

A case file's evidence records (each file it names and the SHA-256 it
recorded) and an evidence file's SHA-256 never change for one blob id. Kept
in ``.git/complaintctl/vN/evidence.sqlite``, 'check' parses a committed case
and hashes a committed evidence file only the first time it meets that
version of it: at 100k cases, 40k of them with a signed agreement, that is
the difference between minutes and seconds. Read from SQLite a window of
the blobs 'check' plans to look up at a time (the JSON file it replaces took
39 MB decoded at 100k cases; one query a blob took ~1.5 s). Like the rest
of the index it is disposable: a damaged file is deleted and made anew, and
a file another command holds is left alone.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from complaintctl.core import indexrow
from complaintctl.store.workspace import Workspace

Record = tuple[str, str]  # (evidence file, its recorded SHA-256)

BUSY_S = 2.0  # how long to wait for another 'check' writing the file
WINDOW = 500  # planned blobs read in one query
# Learnt entries written at a time (each write a transaction): a first check
# at 100k cases held all of them (~30 MB) to the end, 168 MB with the rest.
FLUSH = 10_000
_TABLES = (
    "CREATE TABLE IF NOT EXISTS cases (blob TEXT PRIMARY KEY, records TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS files (blob TEXT PRIMARY KEY, sha256 TEXT NOT NULL) WITHOUT ROWID",
)


class EvidenceCache:
    def __init__(self, ws: Workspace) -> None:
        folder = ws.git_dir() / "complaintctl" / f"v{indexrow.VERSION}"
        self._path = folder / "evidence.sqlite"
        with contextlib.suppress(OSError):
            (folder / "evidence.json").unlink(missing_ok=True)  # the earlier layout
        self._cases: dict[str, list[list[str]]] = {}  # learnt by this check, not yet written
        self._files: dict[str, str] = {}
        self._learnt = False  # anything at all (save then drops what is no longer at HEAD)
        self._flushing = True
        self._con = self._open()
        self._plans: dict[str, _Plan] = {"cases": _Plan([]), "files": _Plan([])}

    def plan(self, case_blobs: list[str], file_blobs: list[str]) -> None:
        """The blobs about to be looked up, in about the order they will be."""
        self._plans = {"cases": _Plan(case_blobs), "files": _Plan(file_blobs)}

    def _open(self) -> sqlite3.Connection | None:
        for _attempt in range(2):
            con = None
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                con = sqlite3.connect(self._path, timeout=BUSY_S, isolation_level=None)
                for statement in _TABLES:
                    con.execute(statement)
                con.execute("SELECT blob, records FROM cases LIMIT 1").fetchall()
                con.execute("SELECT blob, sha256 FROM files LIMIT 1").fetchall()
                return con
            except (sqlite3.Error, OSError) as exc:
                if con is not None:
                    con.close()
                if getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                    return None  # another check is writing it: this one works without it
                with contextlib.suppress(OSError):  # damaged, or another layout: made anew
                    self._path.unlink()
        return None

    def _kept(self, table: str, blob: str) -> Any:
        if self._con is None:
            return None
        column = "records" if table == "cases" else "sha256"
        plan = self._plans[table]
        if blob in plan.read:
            return plan.read[blob]
        at = plan.where.get(blob)
        try:
            if at is None:  # not planned: looked up alone
                found = self._con.execute(f"SELECT {column} FROM {table} WHERE blob = ?", (blob,)).fetchone()
                return found[0] if found else None
            window = plan.blobs[at : at + WINDOW]
            marks = ",".join("?" * len(window))
            rows = self._con.execute(f"SELECT blob, {column} FROM {table} WHERE blob IN ({marks})", window)
            plan.read = dict.fromkeys(window)  # (None: not kept)
            plan.read.update(rows.fetchall())
        except sqlite3.Error:
            return None
        return plan.read[blob]

    def records(self, case_blob: str) -> list[Record] | None:
        """The case's records as kept; None when not kept (or kept damaged)."""
        found: Any = self._cases.get(case_blob)
        if found is None:
            text = self._kept("cases", case_blob)
            if not isinstance(text, str):
                return None
            try:
                found = json.loads(text)
            except ValueError:
                return None
        try:
            records = [(f, s) for f, s in found]
        except (TypeError, ValueError):
            return None
        return records if all(isinstance(f, str) and isinstance(s, str) for f, s in records) else None

    def keep_records(self, case_blob: str, records: list[Record]) -> None:
        self._cases[case_blob] = [[f, s] for f, s in records]
        self._written_now_and_then()

    def sha256(self, blob: str, path: str | Path) -> str:
        """The SHA-256 of a committed evidence file, unchanged in the work tree."""
        kept = self._files.get(blob) or self._kept("files", blob)
        if not (isinstance(kept, str) and len(kept) == 64):  # not kept, or kept damaged
            import hashlib

            with open(path, "rb") as handle:
                kept = self._files[blob] = hashlib.sha256(handle.read()).hexdigest()
            self._written_now_and_then()
        return kept

    def _written_now_and_then(self) -> None:
        """What was learnt, written once there is FLUSH of it; kept in memory
        (for save) if another command holds the file meanwhile."""
        if len(self._cases) + len(self._files) < FLUSH or self._con is None or not self._flushing:
            return
        try:
            self._con.execute("BEGIN IMMEDIATE")
            self._write()
            self._con.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                self._con.execute("ROLLBACK")
            self._flushing = False  # not waited on again: save tries once more
        else:
            self._learnt = True
            self._cases, self._files = {}, {}

    def _write(self) -> None:
        assert self._con is not None
        self._con.executemany(
            "INSERT OR REPLACE INTO cases VALUES (?, ?)",
            ((b, json.dumps(r, separators=(",", ":"))) for b, r in self._cases.items()),
        )
        self._con.executemany("INSERT OR REPLACE INTO files VALUES (?, ?)", self._files.items())

    def save(self, live: set[str]) -> None:
        """Write what this check learnt, and drop the versions no longer at
        HEAD (``live``: their blob ids) when it learnt anything (a new
        version came in); nothing if another command holds the file."""
        con = self._con
        if con is None:
            return
        try:
            if self._learnt or self._cases or self._files:
                con.execute("BEGIN IMMEDIATE")
                self._write()
                con.execute("CREATE TEMP TABLE live (blob TEXT PRIMARY KEY) WITHOUT ROWID")
                con.executemany("INSERT OR IGNORE INTO live VALUES (?)", ((b,) for b in live))
                for table in ("cases", "files"):
                    con.execute(f"DELETE FROM {table} WHERE blob NOT IN (SELECT blob FROM live)")
                con.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
        finally:
            con.close()
            self._con = None


class _Plan:
    """Blobs to be looked up in one table in this order, and the window read last."""

    def __init__(self, blobs: list[str]) -> None:
        self.blobs = blobs
        self.where = {blob: i for i, blob in enumerate(blobs)}
        self.read: dict[str, Any] = {}


def records_of(case: Any) -> list[Record]:
    """Each evidence file and letter a parsed case names, with its recorded hash."""
    found = []
    for event in case["events"]:
        for item in [*(event.get("evidence") or ()), *([event["letter"]] if event.get("letter") else [])]:
            found.append((str(item.get("file", "")), str(item.get("sha256"))))
    return found
