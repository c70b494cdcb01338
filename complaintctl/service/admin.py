"""The workspace itself: init, setup, check, sync, verify, and git's merge driver."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from complaintctl.core.records import normalise_id
from complaintctl.errors import UsageError, WorkspaceError
from complaintctl.service import changes
from complaintctl.store import gitwrite, workspace


def init_workspace(
    target: Path, policy_file: Path | None = None, name: str | None = None, email: str | None = None
) -> Path:
    """A fresh workspace: git repo, policy and templates, empty cases/.

    With the default policy the team is the person running it (``email``,
    ``name``, else git's identity), holding every role, so that 'open' works
    next; ``policy_file`` starts from a policy as it is (its team included).
    """
    target = target.expanduser().resolve()
    if (target / "policy.yaml").exists():
        raise WorkspaceError(f"{target} is already a workspace (it has policy.yaml)", fix="use it as it is")
    if target.exists() and any(p.name != ".git" for p in target.iterdir()):
        raise WorkspaceError(f"{target} is not empty", fix="choose a new or empty folder")
    source = workspace.defaults_dir()
    policy_text = _initial_policy(source, target, policy_file, name, email)
    target.mkdir(parents=True, exist_ok=True)
    had_git = (target / ".git").exists()
    try:
        (target / "policy.yaml").write_text(policy_text, encoding="utf-8")
        shutil.copytree(source / "templates", target / "templates")
        (target / "cases").mkdir()
        (target / "cases" / ".gitkeep").write_text("")
        (target / ".gitignore").write_text("# complaintctl: rendered letters and reports\n/out/\n")
        from complaintctl.team import sync

        sync.add_attributes(target)
        if not (target / ".git").exists():
            gitwrite.init_repo(target)
        sync.configure(target)
        paths = ["policy.yaml", "templates", "cases/.gitkeep", ".gitignore", ".gitattributes"]
        ws = workspace.find_workspace(str(target))
        starter = changes.operator_at(target)
        trailers = {"Action": "init", **({"Actor": starter} if starter else {})}
        gitwrite.commit(ws, paths, "Start complaint workspace", [], trailers, None, None)
    except BaseException:
        for name in (
            "policy.yaml",
            "templates",
            "cases",
            ".gitignore",
            ".gitattributes",
            *(() if had_git else (".git",)),
        ):
            p = target / name
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink()
        raise
    return target


def check(root: str | None) -> list[str]:
    """Every problem in policy.yaml and the case files, as 'FILE:LINE: ...'."""
    from complaintctl.errors import ComplaintError

    ws = workspace.find_workspace(root)
    try:
        policy = ws.policy
        from complaintctl.store import calendar

        calendar.check_country(policy, ws.git_dir() / "complaintctl")
    except ComplaintError as exc:
        return [str(exc)]
    from complaintctl.service import casecheck

    return casecheck.problems(ws)


EMPTY_TEAM = (
    "policy.yaml: the team is empty, so anyone may act as anyone, no approval limit applies, "
    "and no sign-off can be given (nobody holds a role); "
    "add people with 'complaintctl team add EMAIL --name NAME --role ROLE'"
)


def warnings(root: str | None) -> list[str]:
    """What is allowed but rarely meant (check prints it and still passes)."""
    from complaintctl.errors import ComplaintError
    from complaintctl.team import sync

    try:
        ws = workspace.find_workspace(root)
        policy = ws.policy
    except ComplaintError:
        return []  # check names it as a problem
    found = [] if policy.team else [EMPTY_TEAM]
    driver = sync.driver_problem(ws.root)
    return found + ([driver] if driver else [])


def repair(root: str | None) -> list[str]:
    """Put the workspace back to its last commit after a crash: what was done, a line each."""
    from complaintctl.store import faults

    ws = workspace.find_workspace(root)
    with gitwrite.workspace_lock(ws):
        return faults.repair(ws, faults.find(ws))


def check_output(root: str | None, output: Path) -> None:
    """-o never writes into .git/ or over a file the workspace tracks (the
    case files, policy.yaml, templates, evidence): a render is not a change."""
    try:
        ws = workspace.find_workspace(root)
    except WorkspaceError:
        return  # not in a workspace: nothing of ours to overwrite
    target = output.expanduser().resolve()
    if not target.is_relative_to(ws.root):
        return
    rel = target.relative_to(ws.root)
    if rel.parts[:1] == (".git",) or target.is_relative_to(ws.git_dir()):
        raise UsageError(
            f"-o {output} is inside .git/", fix="write the file outside the repository's .git folder"
        )
    tracked = gitwrite.git(ws.root, "ls-files", "--", str(rel)).stdout.strip()
    if tracked:
        raise UsageError(
            f"-o {output} would overwrite {tracked.splitlines()[0]}, which the workspace records",
            fix="write it elsewhere, e.g. -o out/FILE (out/ is ignored by git)",
        )


def _initial_policy(
    source: Path, target: Path, policy_file: Path | None, name: str | None, email: str | None
) -> str:
    from complaintctl.store.policyfile import load_text, replace_team

    if policy_file is not None:
        try:
            text = policy_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"cannot read {policy_file}: {exc}", fix="give a policy.yaml to start from"
            ) from None
        load_text(text, str(policy_file))
        return text
    text = (source / "policy.yaml").read_text(encoding="utf-8")
    probe = next(p for p in (target, *target.parents) if p.is_dir())  # where git's settings are read
    # By default the person at the keyboard, as every other command finds them.
    given = bool(email)
    email = (email or changes.operator_at(probe) or "").strip()
    if not email:
        raise UsageError(
            "who keeps this workspace? no --email, no COMPLAINTCTL_USER and no git user.email",
            fix="give --email you@example.com --name 'Your Name', "
            "or set git config --global user.email you@example.com",
        )
    changes.check_actor_id(email, "--email" if given else "COMPLAINTCTL_USER (or git user.email)")
    # git's name only for git's own e-mail: not someone else's name for this id.
    git_name = _git_config(probe, "user.name") if email == _git_config(probe, "user.email") else None
    name = (name or git_name or email).strip()
    roles = load_text(text, "policy.yaml").roles
    text = replace_team(text, [(email, name, roles)])
    load_text(text, "policy.yaml")
    return text


def _git_config(where: Path, key: str) -> str | None:
    if not where.exists():
        return None
    found = gitwrite.git(where, "config", "--get", key, check=False).stdout.strip()
    return found or None


def setup(root: str | None, actor: str | None) -> list[str]:
    """What a fresh clone needs: git settings, and the merge attribute if missing."""
    from complaintctl.team import sync

    ws = workspace.find_workspace(root)
    done = [f"git config {key}" for key in sync.configure(ws.root)]
    if sync.attributes_missing(ws.root):
        ctx = changes.context(root, actor, None)
        with gitwrite.workspace_lock(ws):
            gitwrite.preflight(ws, [".gitattributes"])
            with gitwrite.transaction(ws, [".gitattributes"]):
                sync.add_attributes(ws.root)
                gitwrite.commit(
                    ws,
                    [".gitattributes"],
                    "Merge case files event by event (.gitattributes)",
                    [],
                    {"Action": "setup", "Actor": ctx.actor},
                    gitwrite.author(ws.policy, ctx.actor),
                    ctx.now,
                )
        done.append(f".gitattributes: {sync.ATTRIBUTES_LINE} (committed)")
    return done


def sync_workspace(
    root: str | None,
    actor: str | None,
    remote: str | None,
    keep_ours: Sequence[str] = (),
    keep_theirs: Sequence[str] = (),
) -> Any:
    from complaintctl.team import sync

    ctx = changes.context(root, actor, None)
    return sync.sync(
        ctx.ws,
        ctx.actor,
        remote,
        frozenset(normalise_id(k) for k in keep_ours),
        frozenset(normalise_id(k) for k in keep_theirs),
    )


def verify(root: str | None, since: str | None, signatures: bool) -> list[str]:
    """Every commit in the history of cases/ that breaks the record, one line each."""
    from complaintctl.team import verify as verifier

    ws = workspace.find_workspace(root)
    found = verifier.verify(ws, since)
    if signatures:
        name = ws.policy.allowed_signers
        if not name:
            raise UsageError(
                "--signatures needs the policy's allowed_signers file",
                fix="add 'allowed_signers: PATH' to policy.yaml (see the comment there)",
            )
        found += verifier.signatures(ws, (ws.root / name).resolve(), since)
    return [f.line() for f in found]


def merge_driver(base: Path, ours: Path, theirs: Path, rel: str) -> str:
    """git's merge driver: write the merged case over ``ours``; raise on conflict."""
    # git runs the driver at the top of the repository being merged; the
    # policy is our side's (HEAD's), as for sync, whatever the merge does to it.
    from complaintctl.store.policyfile import load_text
    from complaintctl.team import mergefile
    from complaintctl.team.replay import MergeConflict

    ws = workspace.find_workspace(str(Path.cwd()))
    policy_text = gitwrite.git(ws.root, "show", "HEAD:policy.yaml").stdout
    policy = load_text(policy_text, "policy.yaml (HEAD)")
    texts = []
    for path in (base, ours, theirs):
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise WorkspaceError(f"cannot read {path} ({exc.strerror})", where=rel) from None
        except UnicodeDecodeError:
            raise WorkspaceError(f"cannot read {path} (not UTF-8 text)", where=rel) from None
    from complaintctl.store.gitread import file_history

    try:
        text, merged = mergefile.merge_texts(
            policy, rel, texts[0] or None, texts[1], texts[2], lambda: file_history(ws.root, "HEAD", rel)
        )
    except MergeConflict as exc:
        raise MergeConflict(
            exc.what,
            where=exc.where,
            fix="the file is left as it was; run 'git merge --abort', then 'complaintctl sync' to resolve",
        ) from None
    workspace.write_atomic(ours, text)
    added = len(merged.ours) + len(merged.theirs)
    return f"{rel}: merged {added} concurrent event(s); now {merged.case['state']}"
