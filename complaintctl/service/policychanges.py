"""Audited changes to the workspace itself: the team, policy.yaml, templates/.

Each is one commit with trailers (Action, Actor, and Member for the team),
by someone holding one of the policy's ``policy_roles`` under the policy in
force (HEAD's), taken in person (never entered for someone else with --as).
``verify`` replays them (team/verify.py), so a policy changed around the
tool is named there.
"""

from __future__ import annotations

from collections.abc import Sequence

from complaintctl.core.policy import Member, Policy
from complaintctl.errors import RuleError, UsageError, WorkspaceError
from complaintctl.service import changes
from complaintctl.store import gitwrite
from complaintctl.store.policyfile import load_text, replace_team
from complaintctl.store.workspace import Workspace

Team = list[tuple[str, str, tuple[str, ...]]]


def _team(policy: Policy) -> Team:
    return [(m.id, m.name, m.roles) for m in policy.team]


def _may_change(policy: Policy, actor: str, what: str) -> None:
    if not policy.may_change_policy(actor):
        holders = [m.id for m in policy.team if set(m.roles) & set(policy.policy_roles)]
        raise RuleError(
            f"{actor} may not change {what}: that takes one of the roles {', '.join(policy.policy_roles)}",
            where="policy.yaml",
            fix=f"ask one of: {', '.join(holders) or 'nobody (the policy names no holder)'}",
        )


def _roles(policy: Policy, roles: Sequence[str]) -> tuple[str, ...]:
    found = tuple(dict.fromkeys(r.strip() for r in roles if r.strip()))
    if not found:
        raise UsageError("no --role given", fix=f"give one or more of: {', '.join(policy.roles)}")
    unknown = [r for r in found if r not in policy.roles]
    if unknown:
        raise UsageError(f"unknown role '{unknown[0]}'", fix=f"use one of: {', '.join(policy.roles)}")
    return found


def _keeps_a_policy_holder(policy: Policy, team: Team) -> None:
    if team and not any(set(roles) & set(policy.policy_roles) for _, _, roles in team):
        raise RuleError(
            "after this change nobody could change the policy or the team",
            where="policy.yaml",
            fix=f"keep someone with one of the roles {', '.join(policy.policy_roles)}",
        )


# The policy's lists a case file's values are checked against (records.validate_case).
_CASE_VALUES: tuple[str, ...] = ("states", "severities", "tier_names", "channels", "categories")
_CASE_VALUES += ("currencies", "offer_kinds", "resolutions")


def _keeps_cases_readable(ws: Workspace, old: Policy, new: Policy) -> None:
    """A value taken out of the policy while recorded cases hold it (a
    retired category or channel) left those cases unreadable to every
    command: refused, naming the first of them."""
    gone = sorted(
        {str(v) for name in _CASE_VALUES for v in getattr(old, name) if v not in getattr(new, name)}
    )
    if not gone:
        return
    from complaintctl.errors import CaseFileError
    from complaintctl.store import workspace

    words = [arg for value in gone for arg in ("-e", value)]
    found = gitwrite.git(ws.root, "grep", "-l", "-z", "-F", "-w", *words, "HEAD", "--", "cases", check=False)
    broken = []
    for name in filter(None, found.stdout.split("\0")):
        rel = name.removeprefix("HEAD:")
        text = gitwrite.git(ws.root, "show", f"HEAD:{rel}").stdout
        try:
            workspace.parse_case(text, rel, new, roundtrip=False)
        except CaseFileError as exc:  # its what and where: the fix here is this command's
            broken.append(f"{exc.where}: {exc.what}" if exc.where else exc.what)
    if broken:
        raise RuleError(
            f"{len(broken)} recorded case(s) would no longer load under the edited policy; "
            f"the first: {broken[0]}",
            where="policy.yaml",
            fix="keep what recorded cases hold (" + ", ".join(gone) + "), or correct those cases first",
        )


def _commit_team(
    ctx: changes.Context, team: Team, action: str, member: str, subject: str, reason: str
) -> str:
    ws = ctx.ws
    text = (ws.root / "policy.yaml").read_text(encoding="utf-8")
    new_text = replace_team(text, team)
    load_text(new_text, "policy.yaml")  # the result must be a valid policy
    with gitwrite.transaction(ws, ["policy.yaml"]):
        from complaintctl.store.workspace import write_atomic

        write_atomic(ws.root / "policy.yaml", new_text)
        gitwrite.commit(
            ws,
            ["policy.yaml"],
            subject,
            [reason],
            {"Action": action, "Member": member, "Actor": ctx.actor},
            gitwrite.author(ws.policy, ctx.actor),
            ctx.when,
            committer=gitwrite.author(ws.policy, ctx.operator) if ctx.operator else None,
        )
    return subject


def _begin(root: str | None, actor: str | None, what: str) -> changes.Context:
    ctx = changes.context(root, actor, None)
    changes.require_in_person(ctx, what)
    return ctx


def _locked_policy(ctx: changes.Context, what: str) -> tuple[changes.Context, Policy]:
    ctx = ctx.timed()
    gitwrite.preflight(ctx.ws, [], audited=True)
    policy = ctx.ws.policy
    _may_change(policy, ctx.actor, what)
    return ctx, policy


def _require_reason(reason: str) -> str:
    if not reason.strip():
        raise UsageError("--reason is empty", fix="say why (it goes into the commit)")
    return reason.strip()


def team_add(
    root: str | None, actor: str | None, member_id: str, name: str, roles: Sequence[str], reason: str
) -> str:
    """Add a member; returns the commit's subject."""
    reason = _require_reason(reason)
    member_id, name = member_id.strip(), name.strip()
    changes.check_actor_id(member_id, "the member's id")
    if not name or not name.isprintable():
        raise UsageError("--name must be one line of text", fix="give the member's name")
    ctx = _begin(root, actor, "a team change")
    with gitwrite.workspace_lock(ctx.ws):
        ctx, policy = _locked_policy(ctx, "the team")
        found = _roles(policy, roles)
        if policy.member(member_id) is not None:
            raise RuleError(
                f"{member_id} is on the team already",
                where="policy.yaml",
                fix=f"change their roles with 'complaintctl team roles {member_id} --role ...'",
            )
        if not policy.team and member_id.casefold() != ctx.actor.casefold():
            raise RuleError(
                "the team is empty (anyone may act); add yourself first, holding one of the roles "
                f"{', '.join(policy.policy_roles)}, so that someone may change the team after",
                where="policy.yaml",
                fix=f"complaintctl team add {ctx.actor} --name 'Your Name' --role {policy.policy_roles[0]}",
            )
        team = [*_team(policy), (member_id, name, found)]
        _keeps_a_policy_holder(policy, team)
        subject = f"Team: add {member_id} ({', '.join(found)})"
        return _commit_team(ctx, team, "team-add", member_id, subject, reason)


def team_remove(root: str | None, actor: str | None, member_id: str, reason: str) -> str:
    reason = _require_reason(reason)
    ctx = _begin(root, actor, "a team change")
    with gitwrite.workspace_lock(ctx.ws):
        ctx, policy = _locked_policy(ctx, "the team")
        member = _member(policy, member_id)
        team = [m for m in _team(policy) if m[0] != member.id]
        _keeps_a_policy_holder(policy, team)
        subject = f"Team: remove {member.id}"
        return _commit_team(ctx, team, "team-remove", member.id, subject, reason)


def team_roles(root: str | None, actor: str | None, member_id: str, roles: Sequence[str], reason: str) -> str:
    reason = _require_reason(reason)
    ctx = _begin(root, actor, "a team change")
    with gitwrite.workspace_lock(ctx.ws):
        ctx, policy = _locked_policy(ctx, "the team")
        member = _member(policy, member_id)
        found = _roles(policy, roles)
        if found == member.roles:
            raise RuleError(
                f"{member.id} holds exactly those roles", where="policy.yaml", fix="nothing to do"
            )
        team = [(i, n, found if i == member.id else r) for i, n, r in _team(policy)]
        _keeps_a_policy_holder(policy, team)
        subject = f"Team: {member.id} now holds {', '.join(found)}"
        return _commit_team(ctx, team, "team-roles", member.id, subject, reason)


def _member(policy: Policy, member_id: str) -> Member:
    member = policy.member(member_id.strip())
    if member is None:
        raise RuleError(
            f"'{member_id}' is not on the team",
            where="policy.yaml",
            fix=f"team: {', '.join(m.id for m in policy.team) or 'nobody'}",
        )
    return member


def _pending(ws: Workspace) -> list[str]:
    """policy.yaml and templates/ files changed since HEAD (new ones included)."""
    out = gitwrite.git(
        ws.root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *gitwrite.AUDITED
    ).stdout
    return sorted({entry[3:] for entry in out.split("\0") if entry})


def policy_commit(root: str | None, actor: str | None, reason: str) -> tuple[str, list[str]]:
    """Record hand edits of policy.yaml and templates/ as one audited commit:
    valid, and made by someone the policy in force (HEAD's) lets change it."""
    reason = _require_reason(reason)
    ctx = changes.context(root, actor, None)  # loads the edited policy.yaml: refused with file:line
    ws = ctx.ws
    with gitwrite.workspace_lock(ws):
        ctx = ctx.timed()
        gitwrite.preflight(ws, [])
        paths = _pending(ws)
        if not paths:
            raise UsageError(
                "policy.yaml and templates/ have no changes to record", fix="edit them first, then run this"
            )
        for rel in paths:
            if (ws.root / rel).is_symlink():
                raise WorkspaceError(
                    "is a symbolic link; templates are plain files", where=rel, fix="replace it with a copy"
                )
        head_text = gitwrite.git(ws.root, "show", "HEAD:policy.yaml").stdout
        in_force = load_text(head_text, "policy.yaml (HEAD)")
        _may_change(in_force, ctx.actor, "the policy")
        changes.require_in_person(ctx, "a policy change", in_force)
        new_policy = ws.policy  # the edited file, checked with file:line
        _keeps_a_policy_holder(new_policy, _team(new_policy))
        _keeps_cases_readable(ws, in_force, new_policy)
        files = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        subject = f"Policy: change {files}"
        with gitwrite.transaction(ws, paths):
            gitwrite.commit(
                ws,
                paths,
                subject,
                [reason],
                {"Action": "policy", "Actor": ctx.actor},
                gitwrite.author(in_force, ctx.actor),
                ctx.when,
                committer=gitwrite.author(in_force, ctx.operator) if ctx.operator else None,
            )
    return subject, paths
