"""The workspace on disk: discovery, case paths, safe reads, atomic writes.

No git here (that is ``audit``). Every path a user can influence is derived
from a validated case id, and symlinks under ``cases/`` are refused, never
followed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from complaintctl.core.policy import Policy
from complaintctl.core.records import (
    ID_RE,
    case_relpath,
    has_escapes,
    no_control_characters,
    normalise_id,
    validate_case,
)
from complaintctl.errors import CaseFileError, NotFoundError, UsageError, WorkspaceError
from complaintctl.store.policyfile import load as load_policy

if TYPE_CHECKING:
    from complaintctl.core.lifecycle import Change

HEADER = "# complaintctl case file: change it with complaintctl commands (see README, 'Case files').\n"


@dataclass
class Workspace:
    root: Path
    _policy: Policy | None = field(default=None, repr=False)

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            try:
                cache: Path | None = self.git_dir() / "complaintctl" / "policy.pickle"
            except WorkspaceError:
                cache = None  # not a git repository (yet): said where git is needed
            self._policy = load_policy(self.root / "policy.yaml", cache=cache)
        return self._policy

    def case_path(self, case_id: str) -> tuple[str, Path]:
        rel = case_relpath(case_id)
        return rel, self.root / rel

    def git_dir(self) -> Path:
        dot_git = self.root / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():  # a worktree or submodule: "gitdir: PATH"
            text = dot_git.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                return (self.root / text.split(":", 1)[1].strip()).resolve()
        raise WorkspaceError(
            f"{self.root} is not a git repository",
            fix="run 'git init' there, or make a workspace with 'complaintctl init DIR'",
        )


def defaults_dir() -> Path:
    """The packaged defaults that 'init' copies: policy.yaml and templates/."""
    return Path(__file__).resolve().parent.parent / "defaults"


def _holds_policy(folder: Path) -> bool:
    """A policy.yaml that is a file; one that is something else (a FIFO
    would keep every command waiting) is refused, not passed over."""
    policy = folder / "policy.yaml"
    if policy.is_file():
        return True
    if policy.exists():
        raise WorkspaceError(
            f"{policy} is not a plain file",
            fix="put the committed one back: git checkout -- policy.yaml",
        )
    return False


def find_workspace(root: str | None = None, start: Path | None = None) -> Workspace:
    """--root / COMPLAINTCTL_ROOT, else the nearest ancestor with policy.yaml."""
    chosen = root or os.environ.get("COMPLAINTCTL_ROOT")
    if chosen:
        path = Path(chosen).expanduser().resolve()
        if not _holds_policy(path):
            raise WorkspaceError(
                f"{path} has no policy.yaml",
                fix="point --root at a workspace, or run 'complaintctl init DIR'",
            )
        return Workspace(path)
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if _holds_policy(candidate):
            return Workspace(candidate)
    raise WorkspaceError(
        f"no workspace here ({here} and its parents have no policy.yaml)",
        fix="cd into a workspace, pass --root DIR, or run 'complaintctl init DIR'",
    )


def _refuse_links(ws: Workspace, rel: str) -> None:
    path = ws.root
    for part in Path(rel).parts:
        path = path / part
        if path.is_symlink():
            raise CaseFileError(
                "is a symbolic link; case files must be plain files inside cases/",
                where=str(path.relative_to(ws.root)),
                fix="replace the link with the file itself",
            )


_ID_PREFIX_RE = re.compile(r"^[0-9A-Z-]+$")


def resolve_id(ws: Workspace, text: str) -> str:
    """A case id from what was typed: the whole id, or a unique prefix of it
    ('C-20261125-04') or of its random part ('04HZ'), in any case, as git and
    taskwarrior take them. An ambiguous prefix lists the cases it matches."""
    candidate = text.strip().upper()
    if ID_RE.match(candidate):
        return candidate
    if not _ID_PREFIX_RE.match(candidate) or candidate in ("C", "C-"):
        return normalise_id(text)  # refused with the usual message
    if candidate.startswith("C-"):
        date = candidate[2:10]
        year, month = date[:4], date[4:6]
        if len(month) == 2:
            folders = [ws.root / "cases" / year / month]
        elif len(year) == 4:
            folders = sorted((ws.root / "cases" / year).glob("[0-9][0-9]"))
        else:
            folders = sorted((ws.root / "cases").glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]"))
        wanted = candidate
        start = 0
    else:
        folders = sorted((ws.root / "cases").glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]"))
        wanted, start = candidate, 11  # the random part of 'C-YYYYMMDD-XXXXXX'
    found = []
    for folder in folders:
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                stem = entry.name.removesuffix(".yaml")
                if entry.name.endswith(".yaml") and ID_RE.match(stem) and stem[start:].startswith(wanted):
                    found.append(stem)
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFoundError(
            f"no case id starts with '{text.strip()}'",
            fix="run 'complaintctl list' to see the cases",
        )
    found.sort()
    shown = ", ".join(found[:8]) + (f" and {len(found) - 8} more" if len(found) > 8 else "")
    raise UsageError(f"'{text.strip()}' matches {len(found)} cases: {shown}", fix="type more of the id")


# A case file's place holding something else than a file (check says it too).
NOT_PLAIN = "is not a plain file (a folder, FIFO, socket or device)"
NOT_PLAIN_FIX = "remove it, or run 'complaintctl repair' to put back the case committed there"


def read_case_text(ws: Workspace, case_id: str) -> tuple[str, str]:
    """(relative path, text) of a case, refusing links and missing files."""
    case_id = resolve_id(ws, case_id)
    rel, path = ws.case_path(case_id)
    _refuse_links(ws, rel)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a FIFO would keep the command waiting for ever
            raise CaseFileError(NOT_PLAIN, where=rel, fix=NOT_PLAIN_FIX)
        if st.st_size > 4 * ws.policy.case_file_max_bytes:  # not even read (4: UTF-8 bytes a char)
            raise CaseFileError(
                f"is {st.st_size:,} bytes, over the case-file limit",
                where=rel,
                fix="restore it from git history (git log -- FILE)",
            )
        return rel, path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(
            f"no case {case_id}", where=rel, fix="run 'complaintctl list' to see the cases"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"cannot read: {exc}", where=rel) from None


def parse_case(text: str, rel: str, policy: Policy, *, roundtrip: bool) -> Any:
    """Parse and validate; errors name FILE:LINE."""
    from complaintctl.core import validate
    from complaintctl.store.yamlio import line_of, load_plain, load_roundtrip

    if len(text) > policy.case_file_max_bytes:
        raise CaseFileError(
            f"is {len(text):,} characters, over the case-file limit of {policy.case_file_max_bytes:,}",
            where=rel,
            fix="restore it from git history (git log -- FILE), or raise case_file_max_bytes in policy.yaml",
        )
    loader = load_roundtrip if roundtrip else load_plain
    data = loader(text, rel, CaseFileError)
    expected = os.path.splitext(os.path.basename(rel))[0]  # Path(rel).stem, without making a Path
    try:
        validate_case(data, policy, expected_id=expected)
        if has_escapes(text):
            no_control_characters(data)
    except validate.Invalid as exc:
        line = line_of(text, exc.path)
        raise CaseFileError(exc.what, where=f"{rel}:{line}" if line else rel, fix=exc.fix) from None
    return data


def load_case(ws: Workspace, case_id: str, *, roundtrip: bool = False) -> tuple[str, str, Any]:
    rel, text = read_case_text(ws, case_id)
    return rel, text, parse_case(text, rel, ws.policy, roundtrip=roundtrip)


@dataclass
class CaseEdit:
    """A case being changed: its file, its text before, its data (changed in
    place by ``apply``) and the changes applied, for ``text``."""

    rel: str
    before: str
    data: Any
    applied: list[Change] = field(default_factory=list)

    def apply(self, change: Change) -> None:
        from complaintctl.core import lifecycle

        lifecycle.apply(self.data, change)
        self.applied.append(change)

    def text(self) -> str:
        """The new text: what ruamel's round trip of the text before, with the
        changes applied, writes (by store/yamlemit when it can)."""
        from complaintctl.core import lifecycle
        from complaintctl.store import yamlemit, yamlio

        data = self.data
        if isinstance(data, yamlemit.Map):
            fast = yamlemit.rewrite(self.before, data)
            if fast is not None:
                return fast
            data = yamlio.load_roundtrip(self.before, self.rel, CaseFileError)
            for change in self.applied:
                lifecycle.apply(data, change)
        return dump_case(data)


def load_for_change(ws: Workspace, case_id: str) -> CaseEdit:
    """A case to change: when the fast reader reads its text, as plain data
    that behaves as ruamel's round-trip data (store/yamlemit.editable: no
    ruamel), else as ruamel's round-trip data."""
    from complaintctl.store import yamlemit, yamlfast

    rel, text = read_case_text(ws, case_id)
    if yamlfast.load(text) is None:
        return CaseEdit(rel, text, parse_case(text, rel, ws.policy, roundtrip=True))
    return CaseEdit(rel, text, yamlemit.editable(parse_case(text, rel, ws.policy, roundtrip=False)))


def dump_case(data: Any) -> str:
    """A case file's text: ruamel's round-trip dump of ``data``, by
    store/yamlemit when it is a new case it can write."""
    from complaintctl.store import yamlemit, yamlfast, yamlio

    if type(data) is dict:
        body = yamlemit.render(data)
        if body is not None and yamlemit.same(yamlfast.load(HEADER + body), data):
            return HEADER + body
    text = yamlio.dump_roundtrip(data)
    return text if text.startswith("#") else HEADER + text


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same folder, fsync, then rename over."""
    write_atomic_bytes(path, text.encode("utf-8"))


DISK_FULL_FIX = "the disk is full: free some space and run the command again (nothing was recorded)"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic_bytes(path: Path, content: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # a read-only folder, a full disk: said in one line, rolled back by the caller
        raise WorkspaceError(
            f"cannot write {path.name}: {exc.strerror}",
            where=str(path.parent),
            fix="check the folder's permissions and free space",
        ) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as a plain 'open' would: mkstemp makes 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):  # a full disk, most often: one line, rolled back by the caller
            raise WorkspaceError(
                f"cannot write {path.name}: {exc.strerror}",
                where=str(path.parent),
                fix=DISK_FULL_FIX if exc.errno == errno.ENOSPC else "check the folder's permissions",
            ) from None
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass
class FileBackup:
    """Files as they were before a command, to put back on failure."""

    root: Path
    saved: dict[str, bytes | None] = field(default_factory=dict)
    made_dirs: list[Path] = field(default_factory=list)

    def take(self, rel: str) -> None:
        path = self.root / rel
        try:
            self.saved[rel] = path.read_bytes()
        except FileNotFoundError:
            self.saved[rel] = None
            parent = path.parent
            while not parent.exists():
                self.made_dirs.append(parent)
                parent = parent.parent

    def restore(self) -> None:
        for rel, content in self.saved.items():
            path = self.root / rel
            if content is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            else:
                path.write_bytes(content)
        for folder in self.made_dirs:  # deepest first, as recorded
            with contextlib.suppress(OSError):
                folder.rmdir()


LINK, PLAIN, OTHER = (
    "link",
    "file",
    "other",
)  # what case_files tells of a file (OTHER: a FIFO, socket, device)


def case_files(ws: Workspace) -> list[tuple[str, str]]:
    """Every file under cases/ (for check), as os.walk finds them and in its
    order (a linked folder is not entered), dot files left out: its path from
    the workspace root, and what it is, LINK, PLAIN or OTHER (told by the
    folder listing: no lstat of each file, ~1 s at 100k cases)."""
    out: list[tuple[str, str]] = []
    base = ws.root / "cases"
    if base.is_dir():
        _add_files_under(str(base), "cases", out)
    return out


def _add_files_under(path: str, rel: str, out: list[tuple[str, str]]) -> None:
    try:
        with os.scandir(path) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return  # as os.walk: a folder that cannot be listed is passed over
    folders = []
    for entry in entries:
        try:
            is_folder = entry.is_dir()  # a link to a folder counts as one (and is not entered)
        except OSError:
            is_folder = False
        if is_folder:
            folders.append(entry)
        elif not entry.name.startswith("."):
            kind = LINK if entry.is_symlink() else PLAIN if entry.is_file(follow_symlinks=False) else OTHER
            out.append((f"{rel}/{entry.name}", kind))
    for entry in folders:
        if not entry.is_symlink():
            _add_files_under(entry.path, f"{rel}/{entry.name}", out)
