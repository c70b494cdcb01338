"""Working on one shared remote: setup, the merge driver's config, and sync.

``sync`` = fetch, integrate, push, in one locked step. Remote commits that
only add to ours fast-forward; concurrent ones are merged in one merge
commit, where every case changed on both sides is merged event by event
(``mergefile``). A case whose two sides cannot both stand stops the sync
before anything changes. A push that loses a race is retried after
integrating again, a bounded number of times.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from complaintctl.errors import GitError, UsageError, WorkspaceError
from complaintctl.store import gitread, gitwrite, workspace
from complaintctl.store.gitwrite import git
from complaintctl.store.workspace import Workspace
from complaintctl.team import mergefile
from complaintctl.team.replay import MergeConflict, describe, plain

ATTRIBUTES_LINE = "cases/**/*.yaml merge=complaintctl"
PUSH_ATTEMPTS = 4
RACE_RE = re.compile(
    r"\[rejected\] \((fetch first|non-fast-forward)\)"
    r"|cannot lock ref|failed to update ref|incorrect old value"
)


# ---------------------------------------------------------------- setup


def driver_command() -> str:
    """How git calls us back: this very interpreter while it exists (a venv
    install works without activating it), else whatever 'complaintctl' is on
    PATH, so a reinstall elsewhere does not break every later 'git pull'.

    -P: git runs the driver in the repository, and a 'complaintctl' folder
    committed there must not be imported in place of the installed package.
    git puts the file names in place of %O %A %B and a quoted path for %P.
    """
    python = shlex.quote(sys.executable)
    args = "merge-driver %O %A %B %P"
    return (
        f"if [ -x {python} ]; then exec {python} -P -m complaintctl {args}; "
        f"elif command -v complaintctl >/dev/null; then exec complaintctl {args}; "
        f"else echo '{DRIVER_MISSING}' >&2; exit 1; fi"
    )


DRIVER_MISSING = (
    "complaintctl: git cannot run the merge driver: complaintctl is not installed where it was "
    "nor on PATH; install it, run complaintctl setup, then git merge --abort and complaintctl sync"
)


def driver_problem(root: Path) -> str | None:
    """Why git's merges of case files would not go through complaintctl, if
    they would not: setup never run in this clone, or the install it named is
    gone and none is on PATH."""
    import shutil

    driver = git(root, "config", "--get", "merge.complaintctl.driver", check=False).stdout.strip()
    if not driver:
        if git(root, "remote", check=False).stdout.strip():
            return (
                "this clone is not set up for team work: 'git pull' would merge case files line by "
                "line; run 'complaintctl setup'"
            )
        return None
    words = shlex.split(driver.replace(";", " ; "))
    named = next((w for w in words if w.startswith("/")), None)  # the interpreter setup recorded
    if named and not Path(named).exists() and not shutil.which("complaintctl"):
        return (
            f"git's merge driver names {named}, which is gone, and no complaintctl is on PATH: "
            "run 'complaintctl setup' with the install you use now"
        )
    return None


def configure(root: Path) -> list[str]:
    """Repository settings a clone needs (git config is not cloned); the
    keys that were not set so already."""
    settings = {
        "merge.complaintctl.name": "complaintctl: merge the events of both sides of a case",
        "merge.complaintctl.driver": driver_command(),
        # A plain 'git pull' merges (through the driver) instead of stopping
        # on divergent branches or rebasing events out of time order.
        "pull.rebase": "false",
        "core.splitIndex": "true",
        # Off, and dropped from the index by git at its next write: every
        # status complaintctl asks is of named paths, which git never answers
        # from it, while each command's index write rewrote it (2 MB, ~35 ms a
        # command at 100k cases). A plain 'git status' there takes ~0.7 s
        # instead of ~0.35 s.
        "core.untrackedCache": "false",
    }
    changed = []
    for key, value in settings.items():
        if git(root, "config", "--get", key, check=False).stdout.strip() != value:
            git(root, "config", key, value)
            changed.append(key)
    return changed


def attributes_missing(root: Path) -> bool:
    path = root / ".gitattributes"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return ATTRIBUTES_LINE not in (line.strip() for line in lines)


def add_attributes(root: Path) -> None:
    path = root / ".gitattributes"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    text += "# complaintctl: merge case files event by event (see 'complaintctl setup --help')\n"
    workspace.write_atomic(path, text + ATTRIBUTES_LINE + "\n")


# ---------------------------------------------------------------- sync


@dataclass
class Outcome:
    remote: str
    branch: str
    incoming: int = 0
    outgoing: int = 0
    cases_in: list[str] = field(default_factory=list)
    cases_out: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    pushed: bool = False
    retries: int = 0


def _branch(ws: Workspace) -> str:
    result = git(ws.root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if result.returncode != 0:
        raise WorkspaceError("HEAD is detached; sync works on a branch", fix="run 'git switch BRANCH' first")
    return result.stdout.strip()


def _config(ws: Workspace, key: str) -> str | None:
    return git(ws.root, "config", "--get", key, check=False).stdout.strip() or None


def _remote(ws: Workspace, branch: str, chosen: str | None) -> tuple[str, str]:
    remotes = git(ws.root, "remote").stdout.split()
    remote = chosen or _config(ws, f"branch.{branch}.remote") or ("origin" if "origin" in remotes else None)
    if remote is None and len(remotes) == 1:
        remote = remotes[0]
    if remote is None or remote not in remotes:
        raise WorkspaceError(
            f"no remote '{remote}' (remotes here: {', '.join(remotes) or 'none'})"
            if remote
            else "this workspace has no remote to sync with",
            fix="add the shared one: git remote add origin URL",
        )
    merge_ref = _config(ws, f"branch.{branch}.merge") if not chosen else None
    name = merge_ref.removeprefix("refs/heads/") if merge_ref else branch
    return remote, name


def _rev(ws: Workspace, ref: str) -> str | None:
    result = git(ws.root, "rev-parse", "-q", "--verify", ref + "^{commit}", check=False)
    return result.stdout.strip() or None


def _count(ws: Workspace, spec: str) -> int:
    return int(git(ws.root, "rev-list", "--count", spec).stdout.strip() or 0)


def _cases_in(ws: Workspace, old: str | None, new: str) -> list[str]:
    """Cases whose file differs between two commits (net, as a reader sees it)."""
    old = old or git(ws.root, "hash-object", "-t", "tree", "/dev/null").stdout.strip()
    out = git(ws.root, "diff", "--name-only", old, new, "--", "cases").stdout
    return sorted({Path(p).stem for p in out.split() if p.endswith(".yaml")})


def sync(
    ws: Workspace,
    actor: str,
    remote_name: str | None = None,
    keep_ours: frozenset[str] = frozenset(),
    keep_theirs: frozenset[str] = frozenset(),
    attempts: int = PUSH_ATTEMPTS,
) -> Outcome:
    both = keep_ours & keep_theirs
    if both:
        raise UsageError(f"{sorted(both)[0]} is in both --keep-ours and --keep-theirs", fix="choose one side")
    with gitwrite.workspace_lock(ws):
        gitwrite.preflight(ws, [])
        branch = _branch(ws)
        remote, name = _remote(ws, branch, remote_name)
        gitwrite.preflight(ws, [], clean_tree=True)
        outcome = Outcome(remote, name)
        start = _rev(ws, "HEAD")
        try:
            _attempts(ws, actor, branch, remote, name, keep_ours, keep_theirs, attempts, outcome)
        except BaseException:
            # All or nothing: a stop on a later attempt must not leave the
            # merge commit of an earlier one behind.
            gitwrite.undo_to(ws, start)
            raise
        if start == _rev(ws, "HEAD") and not outcome.pushed:
            outcome.incoming = 0
    return outcome


def _attempts(
    ws: Workspace,
    actor: str,
    branch: str,
    remote: str,
    name: str,
    keep_ours: frozenset[str],
    keep_theirs: frozenset[str],
    attempts: int,
    outcome: Outcome,
) -> None:
    tracking = f"refs/remotes/{remote}/{name}"
    for attempt in range(attempts):
        outcome.retries = attempt
        fetched = git(ws.root, "fetch", "--quiet", remote, f"+refs/heads/{name}:{tracking}", check=False)
        if fetched.returncode != 0 and "couldn't find remote ref" not in fetched.stderr:
            raise GitError(
                "fetch failed: " + gitwrite.explain(fetched.stderr)[5:], fix="check the remote's URL"
            )
        theirs = _rev(ws, tracking) if fetched.returncode == 0 else None
        head = _rev(ws, "HEAD")
        incoming = _count(ws, f"HEAD..{theirs}") if theirs and head else 0
        diverged = bool(incoming and _count(ws, f"{theirs}..HEAD"))
        if attempt == 0 and not diverged:
            _check_keep(keep_ours | keep_theirs, set())
        if theirs and head and incoming:
            outcome.incoming += incoming
            outcome.cases_in = sorted({*outcome.cases_in, *_cases_in(ws, head, theirs)})
            if diverged:
                _merge(ws, actor, remote, name, theirs, keep_ours, keep_theirs, outcome, strict=attempt == 0)
            else:
                gitwrite.fast_forward(ws, theirs)
        if theirs == _rev(ws, "HEAD"):
            return
        _refuse_rewritten(ws, theirs)
        pushed = git(ws.root, "push", "--porcelain", remote, f"HEAD:refs/heads/{name}", check=False)
        if pushed.returncode == 0:
            outcome.pushed = True
            outcome.outgoing = _count(ws, f"{theirs}..HEAD") if theirs else _count(ws, "HEAD")
            outcome.cases_out = _cases_in(ws, theirs, "HEAD")
            if not _config(ws, f"branch.{branch}.remote"):
                git(ws.root, "branch", "--quiet", f"--set-upstream-to={remote}/{name}", check=False)
            return
        # Retry only when someone pushed first (before our push, or while it
        # ran); a hook or a protected branch says no for good, in its words.
        if not RACE_RE.search(pushed.stdout + pushed.stderr):
            said = [
                ln.removeprefix("remote:").strip()
                for ln in pushed.stderr.splitlines()
                if ln.startswith("remote:")
            ]
            reason = next((ln for ln in pushed.stdout.splitlines() if "rejected" in ln), "")
            raise GitError(
                "push refused: "
                + (
                    "; ".join(filter(None, said))
                    or reason.split("\t")[-1]
                    or gitwrite.explain(pushed.stderr)[5:]
                ),
                fix="nothing was changed; fix what the remote reports and run 'complaintctl sync' again",
            )
    raise GitError(
        f"the push to {remote} was rejected {attempts} times (others keep pushing first)",
        fix="nothing was changed; run 'complaintctl sync' again",
    )


def _refuse_rewritten(ws: Workspace, theirs: str | None) -> None:
    """Never push a commit whose events rewrite the record (a 'git pull
    --rebase' makes them): every clone's verify would flag it for good."""
    from complaintctl.team import verify
    from complaintctl.team.replay import REWRITTEN

    for finding in verify.verify(ws, since=theirs):
        if finding.what.startswith(REWRITTEN[:40]):
            raise WorkspaceError(
                f"will not push {finding.commit[:10]}: {finding.case}: {finding.what.split(' (')[0]}",
                fix="it was rebased; run 'git reset --keep ORIG_HEAD' right after the rebase "
                "(or reset to the commit 'git reflog' shows before it), then 'complaintctl sync'",
            )


def _merge(
    ws: Workspace,
    actor: str,
    remote: str,
    name: str,
    theirs: str,
    keep_ours: frozenset[str],
    keep_theirs: frozenset[str],
    outcome: Outcome,
    strict: bool = True,
) -> None:
    """One merge commit; case files changed on both sides merged event by event."""
    policy = ws.policy
    base = git(ws.root, "merge-base", "HEAD", theirs).stdout.strip()

    def changed(rev: str) -> set[str]:
        out = git(ws.root, "diff", "--name-only", "-z", base, rev, "--", "cases").stdout
        return {p for p in out.split("\0") if p.endswith(".yaml")}

    both = changed("HEAD") & changed(theirs)
    if strict:
        _check_keep(keep_ours | keep_theirs, {Path(rel).stem for rel in both})
    results: dict[str, str] = {}
    body: list[str] = []
    trailers: list[tuple[str, str]] = [("Action", "merge")]
    conflicts: list[MergeConflict] = []
    for rel in sorted(both):
        case_id = Path(rel).stem
        texts = [_show(ws, rev, rel) for rev in (base, "HEAD", theirs)]
        if texts[1] is None or texts[2] is None:
            conflicts.append(
                MergeConflict(
                    "deleted on one side and changed on the other (complaintctl never deletes a case)",
                    where=rel,
                    fix=f"restore it from history: git show {theirs if texts[1] is None else 'HEAD'}:{rel}",
                )
            )
            continue
        if case_id in keep_ours or case_id in keep_theirs:
            side = "ours" if case_id in keep_ours else "theirs"
            results[rel] = texts[1] if side == "ours" else texts[2]
            left_out = _left_out(ws, rel, texts, side)
            body.append(f"{case_id}: kept {side} by decision of {actor}; left out: {left_out}")
            trailers += [("Case", case_id), ("Keep", f"{case_id} {side}")]
            outcome.kept.append(f"{case_id} {side}")
            continue
        try:
            results[rel], merged = mergefile.merge_texts(
                policy,
                rel,
                texts[0],
                texts[1],
                texts[2],
                lambda rel=rel: gitread.file_history(ws.root, base, rel),  # type: ignore[misc]
            )
        except MergeConflict as exc:
            conflicts.append(exc)
            continue
        ours_words = ", ".join(str(e["action"]) for e in merged.ours) or "nothing"
        theirs_words = ", ".join(str(e["action"]) for e in merged.theirs) or "nothing"
        line = f"{case_id}: ours {ours_words}; theirs {theirs_words}; now {merged.case['state']}"
        body.append(line + "".join(f" ({n})" for n in merged.notes))
        trailers.append(("Case", case_id))
        outcome.merged.append(case_id)
    if conflicts:
        first = conflicts[0]
        more = (
            f" (and {len(conflicts) - 1} more case(s): "
            + ", ".join(str(c.where) for c in conflicts[1:])
            + ")"
            if len(conflicts) > 1
            else ""
        )
        raise MergeConflict(first.what + more, where=first.where, fix=first.fix)
    subject = f"Merge concurrent changes from {remote}/{name}"
    if results:
        subject += f" ({len(results)} case{'s' if len(results) > 1 else ''} changed on both sides)"
    gitwrite.merge_commit(
        ws,
        theirs,
        results,
        subject,
        body,
        [*trailers, ("Actor", actor)],
        gitwrite.author(ws.policy, actor),
        stuck_fix=f"merge by hand: git merge {remote}/{name}, fix the file, commit; then sync again",
    )


def _check_keep(keep: frozenset[str], both: set[str]) -> None:
    unknown = sorted(keep - both)
    if unknown:
        raise UsageError(
            f"{unknown[0]} was not changed on both sides; nothing to keep",
            fix="run 'complaintctl sync' without --keep-ours/--keep-theirs",
        )


def _show(ws: Workspace, rev: str, rel: str) -> str | None:
    result = git(ws.root, "show", f"{rev}:{rel}", check=False)
    return result.stdout if result.returncode == 0 else None


def _left_out(ws: Workspace, rel: str, texts: list[str | None], side: str) -> str:
    """The other side's events that the kept version does not have."""
    policy = ws.policy
    kept, other = (texts[1], texts[2]) if side == "ours" else (texts[2], texts[1])
    if other is None or kept is None:
        return "nothing"
    have = plain(workspace.parse_case(kept, rel, policy, roundtrip=False)["events"])
    theirs = plain(workspace.parse_case(other, rel, policy, roundtrip=False)["events"])
    events = [e for e in theirs if e not in have]
    return "; ".join(describe(e) for e in events) or "nothing"
