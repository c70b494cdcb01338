"""A case commit made with git's plumbing: the commit 'git add' and 'git
commit' would make of the same files, without reading the whole index.

In a big workspace 'git commit' costs more than everything else a command
does: it reads the index of every file and refreshes it (an lstat a file,
~80 ms at 100k cases), and 'git add' and 'git diff --cached' read it again.
Here the new trees are made from HEAD's, reading only the folders on the
paths' way; HEAD moves to the new commit only if nobody moved it meanwhile
(update-ref's compare-and-swap); the index gets the paths' entries
meanwhile, on a git of its own, and before HEAD moves.

git's own 'commit' is still used (gitwrite) where it would do more than
this: commit hooks (pre-commit, prepare-commit-msg, commit-msg,
post-commit), commit signing, an unborn branch, a path that is a link or a
submodule.
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from complaintctl.errors import GitError
from complaintctl.store import earlygit
from complaintctl.store.gitwrite import explain, fix_for, git
from complaintctl.store.later import Later

HOOKS = ("pre-commit", "prepare-commit-msg", "commit-msg", "post-commit")
FILE_MODES = (b"100644", b"100755")


class Unsupported(Exception):
    """Found before HEAD moves: this commit is for 'git commit' to make."""


@dataclass(frozen=True)
class Start:
    """Where a plumbing commit starts: HEAD's commit and tree, and whether
    the index should be split afresh (see ``_split_afresh``)."""

    head: str
    tree: str
    resplit: bool = False


def plumbing_head(root: Path, paths: Sequence[str]) -> Start | None:
    """Where a plumbing commit of ``paths`` starts, when it is what 'git
    commit' would make; None when 'git commit' must make it."""
    found = git(
        root, "rev-parse", "--git-path", "hooks", "--git-path", "index", "HEAD", "HEAD^{tree}", check=False
    )
    lines = found.stdout.split("\n")
    if found.returncode != 0 or len(lines) < 4:
        return None  # no commit yet
    hooks = root / lines[0]
    if any((hooks / name).is_file() for name in HOOKS):
        return None
    found = git(
        root, "config", "--get-regexp", r"^(commit\.(gpgsign|cleanup)|core\.splitindex)$", check=False
    )
    settings = dict(line.lower().partition(" ")[::2] for line in found.stdout.splitlines())
    truth = ("true", "yes", "on", "1", "")  # git's true (a key alone is true too)
    if settings.get("commit.gpgsign") in truth or "commit.cleanup" in settings:
        return None  # signing, or a clean-up of its own: 'git commit' does it
    if any(_through_link(root, rel) for rel in paths):
        return None
    resplit = settings.get("core.splitindex") in truth and _split_afresh(root / lines[1])
    return Start(lines[2], lines[3], resplit)


def _through_link(root: Path, rel: str) -> bool:
    """The path, or a folder on its way, is a symbolic link (git refuses to
    add 'beyond a symbolic link'; its own commit then says so)."""
    parts = rel.split("/")
    return any((root.joinpath(*parts[: i + 1])).is_symlink() for i in range(len(parts)))


def _split_afresh(index: Path) -> bool:
    """After git checks out many files within the same second, a split index
    keeps every entry in its own part, and every write of it then writes
    them all twice (~80 ms at 100k files). Splitting it afresh once puts
    them back in the shared part. Judged by the entry counts in the two
    files' headers (the size would mislead: the folder caches live in the
    own part too)."""
    own = _entry_count(index)
    shared = max((_entry_count(p) for p in index.parent.glob("sharedindex.*")), default=0)
    return own > 2000 and own * 5 > shared


def _entry_count(path: Path) -> int:
    """An index file's number of entries ('DIRC', version, count: 12 bytes)."""
    try:
        with path.open("rb") as file:
            head = file.read(12)
    except OSError:
        return 0
    return int.from_bytes(head[8:12], "big") if head[:4] == b"DIRC" else 0


def commit(
    root: Path, start: Start, paths: Sequence[str], text: str, env: Mapping[str, str], done: set[str]
) -> None:
    """Commit ``paths`` as they are in the work tree (a missing one is
    removed) on top of ``start`` (HEAD's commit and tree), move HEAD there,
    and stage the same entries. The new commit's id goes into ``done`` as
    soon as HEAD names it (a roll-back of a later failure undoes only that).
    The index is staged before HEAD moves, while the trees are made."""
    present = [rel for rel in paths if (root / rel).is_file()]
    # hash-object applies the paths' .gitattributes filters, as 'git add' does.
    ids = git(root, "hash-object", "-w", "--", *present).stdout.split() if present else []
    blobs = dict(zip(present, ids, strict=True))
    # The index is written meanwhile, on its own git: at 100k files that
    # write (~70 ms) is the longest step, and the trees need nothing of it.
    staging = Later(lambda: _stage(root, paths, start.resplit))
    try:
        new = _new_commit(root, start, paths, blobs, text, env)
    except BaseException:
        # Let git finish with the index first: the roll-back puts its entries back.
        with contextlib.suppress(GitError):
            staging.get()
        raise
    staging.get()  # git's refusal to stage, if any, before HEAD moves
    subject = text.split("\n", 1)[0]  # as 'git commit' writes it in the reflogs
    moved = git(root, "update-ref", "-m", f"commit: {subject}", "HEAD", new, start.head, check=False)
    if moved.returncode != 0:
        raise GitError(
            "HEAD moved while this command was committing: " + explain(moved.stderr)[5:],
            fix="run the command again",
        )
    done.add(new)
    # What 'git commit' does after every commit: pack loose objects when there are many.
    git(root, "maintenance", "run", "--auto", "--quiet", check=False)


def _stage(root: Path, paths: Sequence[str], resplit: bool) -> None:
    """Stage the paths from the work tree, as 'git add' stages: the entries
    get the files' stat data. Entries given by id ('--index-info') have none,
    and git then refuses 'reset --keep' and 'reset --merge' ("not uptodate")
    until something refreshes the index."""
    split = ["--split-index"] if resplit else []
    git(root, "update-index", *split, "--add", "--remove", "-z", "--stdin", stdin="\0".join(paths) + "\0")


def _new_commit(
    root: Path,
    start: Start,
    paths: Sequence[str],
    blobs: Mapping[str, str],
    text: str,
    env: Mapping[str, str],
) -> str:
    """The commit of ``paths`` (``blobs``: the ids of those present) on top
    of ``start``, its trees written; HEAD is not moved."""
    head, head_tree = start.head, start.tree
    folders = {""}
    changes: dict[str, dict[bytes, Change]] = {}
    for rel in paths:
        parts = rel.split("/")[:-1]
        folders.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        folder, _, name = rel.rpartition("/")
        blob = blobs.get(rel)
        changes.setdefault(folder, {})[name.encode()] = (FILE, bytes.fromhex(blob)) if blob else None
    trees = _read_trees(root, head, sorted(folders))
    # The folders on the paths' way, deepest first: each one's new id goes into its parent.
    made_trees: list[bytes] = []
    for folder in sorted(folders - {""}, key=lambda f: -f.count("/")):
        parent, _, name = folder.rpartition("/")
        data = splice(trees[folder], changes.get(folder, {}), folder)
        if data:
            made_trees.append(data)
        # git keeps no empty folder
        changes.setdefault(parent, {})[name.encode()] = (TREE, raw_tree_id(data)) if data else None
    made_trees.append(splice(trees[""], changes.get("", {}), ""))
    tree = raw_tree_id(made_trees[-1]).hex()
    if tree == head_tree:
        raise GitError("commit refused: nothing changed", fix="check the case file; nothing was recorded")
    _write_trees(root, made_trees)
    made = git(root, "commit-tree", tree, "-p", head, "-F", "-", env=env, stdin=text, check=False)
    if made.returncode != 0:
        raise GitError(
            "commit refused: " + explain(made.stderr)[5:],
            fix=fix_for(made.stderr) or "fix what git reports and run the command again",
        )
    return made.stdout.strip()


def _read_trees(root: Path, head: str, folders: Sequence[str]) -> dict[str, bytes]:
    """Each folder's tree object at ``head``, as git stores it (empty when
    the folder is not there yet), in one cat-file."""
    names = [f"{head}^{{tree}}" if not f else f"{head}:{f}" for f in folders]
    try:
        out = subprocess.run(
            ["git", "cat-file", "--batch"],
            cwd=root,
            env=earlygit.env(),
            input="".join(n + "\n" for n in names).encode("utf-8"),
            capture_output=True,
            check=True,
        ).stdout
    except subprocess.CalledProcessError as exc:
        raise GitError(explain(exc.stderr.decode("utf-8", "replace"))) from None
    trees: dict[str, bytes] = {}
    at = 0
    for folder in folders:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        if header[-1] == b"missing":
            trees[folder] = b""
            continue
        if header[1] != b"tree":
            raise Unsupported(f"{folder} is not a folder in the last commit")
        size = int(header[2])
        trees[folder] = out[at : at + size]
        at += size + 1  # the newline after each object
    return trees


# A change to a tree's entry: a file's or a folder's new object id (20
# bytes), or None to remove the entry.
FILE, TREE = b"100644", b"40000"
Change = tuple[bytes, bytes] | None


def splice(data: bytes, changes: Mapping[bytes, Change], folder: str = "") -> bytes:
    """A tree object (git's form: 'MODE NAME\\0' and a 20-byte id, an entry
    after another in git's order) with ``changes`` made: the entries are
    copied as they are, not decoded, so that a commit in a month folder of
    thousands of cases costs a walk over it. A file keeps its mode
    (executable or not); anything else under a changed file's name (a link,
    a submodule, a folder) is for 'git commit' (Unsupported)."""
    # git orders a folder's name as if it ended in '/': 'a-b', then folder 'a', then 'a0'.
    adds = sorted(
        (name + b"/" if change[0] == TREE else name, name, change)
        for name, change in changes.items()
        if change is not None
    )
    pieces: list[bytes] = []
    next_add = 0
    at, size = 0, len(data)
    while at < size:
        space = data.index(b" ", at)
        nul = data.index(b"\0", space)
        end = nul + 21
        mode, name = data[at:space], data[space + 1 : nul]
        key = name + b"/" if mode == TREE else name
        while next_add < len(adds) and adds[next_add][0] < key:
            pieces.append(_entry(*adds[next_add][1:]))
            next_add += 1
        if name in changes:
            change = changes[name]
            if change is not None and change[0] == FILE:
                if mode not in FILE_MODES:
                    where = f"{folder}/" if folder else ""
                    raise Unsupported(
                        f"{where}{name.decode('utf-8', 'replace')} is not a plain file in the last commit"
                    )
                if next_add < len(adds) and adds[next_add][1] == name:
                    pieces.append(mode + b" " + name + b"\0" + change[1])  # the file's own mode kept
                    next_add += 1
        else:
            pieces.append(data[at:end])
        at = end
    pieces += [_entry(name, change) for _, name, change in adds[next_add:]]
    return b"".join(pieces)


def _entry(name: bytes, change: tuple[bytes, bytes]) -> bytes:
    return change[0] + b" " + name + b"\0" + change[1]


def tree_id(entries: Mapping[str, tuple[str, str]]) -> str:
    """The id git gives a tree of these entries (name -> mode as a tree
    object holds it, and the hex object id)."""
    changes = {name.encode(): (mode.encode(), bytes.fromhex(oid)) for name, (mode, oid) in entries.items()}
    return raw_tree_id(splice(b"", changes)).hex()


def raw_tree_id(data: bytes) -> bytes:
    """The id git gives a tree object of this content (20 bytes)."""
    return hashlib.sha1(b"tree %d\0" % len(data) + data, usedforsecurity=False).digest()


def _write_trees(root: Path, trees: Sequence[bytes]) -> None:
    """Write the tree objects in one hash-object (which checks their form);
    git's ids must be the ones worked out here, which the parents already name."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="complaintctl-trees-") as folder:
        files = []
        for n, data in enumerate(trees):
            path = Path(folder) / str(n)
            path.write_bytes(data)
            files.append(str(path))
        made = git(
            root,
            "hash-object",
            "-t",
            "tree",
            "-w",
            "--no-filters",
            "--stdin-paths",
            stdin="\n".join(files) + "\n",
        ).stdout.split()
    if made != [raw_tree_id(data).hex() for data in trees]:  # pragma: no cover - git and this module disagree
        raise GitError("git made other folder ids than expected; nothing was committed")
