"""Replay the history of cases/ and list every commit that breaks the record.

A commit that changes a case must carry complaintctl's trailers, change only
the case it names, and leave a file that is exactly the earlier version plus
the event(s) the trailers describe, each re-run through the rules of the
policy that was in force then (``replay.check_version``). A merge must leave
each case changed on both sides as ``mergefile`` merges it (or, with a
``Keep`` trailer, as the side kept). Nothing here writes.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from complaintctl.core.policy import POLICY_ACTIONS, Policy
from complaintctl.errors import ComplaintError, UsageError, WorkspaceError
from complaintctl.store import gitread, workspace
from complaintctl.store.gitwrite import git
from complaintctl.store.policyfile import load_text as load_policy_text
from complaintctl.store.workspace import Workspace
from complaintctl.team import mergefile, replay
from complaintctl.team.replay import MergeConflict

CASES = "cases/"
RECENT_CASES = 4096  # parsed case versions kept for the next commit that changes them


@dataclass(frozen=True)
class Finding:
    commit: str
    case: str
    what: str

    def line(self) -> str:
        return f"{self.commit[:10]} {self.case}: {self.what}"


def _is_case(path: str) -> bool:
    return path.startswith(CASES) and path.endswith(".yaml")


def _is_policy(path: str) -> bool:
    return path == "policy.yaml" or path.startswith("templates/")


class Verifier:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.blobs = gitread.Blobs(ws.root)
        self._policies: dict[str, Policy | ComplaintError] = {}
        # policy.yaml's blob id at each commit seen, followed along the walk
        # (oldest first) so that git is asked only where the walk starts.
        self._policy_blob: dict[str, str] = {}
        # The last version parsed of the files changed lately (see ``case``).
        self._last: OrderedDict[str, tuple[str, Policy, Any]] = OrderedDict()

    def follow(self, commit: gitread.Commit) -> None:
        changed = next((c for c in commit.changes if c.path == "policy.yaml"), None)
        if changed is not None and len(commit.parents) <= 1:
            self._policy_blob[commit.id] = changed.new or ""
        elif commit.parents and commit.parents[0] in self._policy_blob and len(commit.parents) == 1:
            self._policy_blob[commit.id] = self._policy_blob[commit.parents[0]]

    def _blob_of(self, rev: str) -> str:
        if rev not in self._policy_blob:
            found = git(self.ws.root, "rev-parse", "-q", "--verify", f"{rev}:policy.yaml", check=False)
            self._policy_blob[rev] = found.stdout.strip()
        return self._policy_blob[rev]

    def policy_at(self, rev: str) -> Policy:
        key = self._blob_of(rev)
        if key not in self._policies:
            text = self.blobs.text(key) if key else None
            try:
                if text is None:
                    raise WorkspaceError("no policy.yaml in that commit")
                self._policies[key] = load_policy_text(text, f"policy.yaml@{rev[:10]}")
            except ComplaintError as exc:
                self._policies[key] = exc
        found = self._policies[key]
        if isinstance(found, ComplaintError):
            raise found
        return found

    def case(self, blob: str, rel: str, policy: Policy) -> Any:
        # Each version is the 'after' of one commit and the 'before' of the
        # next that changes the file: parse it once (the last per file).
        # Only the files changed lately: a history of 100k cases would
        # otherwise hold a parsed copy of every case (a case's changes come
        # close together, and a miss costs one parse).
        cached = self._last.get(rel)
        if cached is not None and cached[0] == blob and cached[1] is policy:
            self._last.move_to_end(rel)
            return cached[2]
        doc = self._parse(blob, rel, policy)
        self._last[rel] = (blob, policy, doc)
        self._last.move_to_end(rel)
        if len(self._last) > RECENT_CASES:
            self._last.popitem(last=False)
        return doc

    def _parse(self, blob: str, rel: str, policy: Policy) -> Any:
        text = self.blobs.text(blob)
        if text is None:
            raise WorkspaceError(f"object {blob} is missing")
        return workspace.parse_case(text, rel, policy, roundtrip=False)

    # ------------------------------------------------------------ commits

    def check(self, commit: gitread.Commit) -> Iterator[Finding]:
        if len(commit.parents) > 1:
            yield from self.check_merge(commit)
            yield from self.check_merged_policy(commit)
            return
        if any(_is_policy(c.path) for c in commit.changes):
            yield from self.check_policy(commit)
            return
        touched = [c for c in commit.changes if _is_case(c.path)]
        if not touched:
            return
        trailers = commit.trailers()
        cid = commit.id
        ids = sorted({Path(c.path).stem for c in touched})
        if "Action" not in trailers or "Case" not in trailers:
            for case_id in ids:
                yield Finding(cid, case_id, "changed outside complaintctl (no Complaintctl trailers)")
            return
        named = trailers["Case"][0]
        if ids != [named]:
            others = ", ".join(i for i in ids if i != named) or "none"
            yield Finding(cid, named, f"the commit says it changes {named} but changes {others}")
            return
        change = touched[0]
        if change.new is None:
            yield Finding(cid, named, "case file deleted")
            return
        try:
            policy = self.policy_at(commit.parents[0]) if commit.parents else self.policy_at(cid)
            after = self.case(change.new, change.path, policy)
            if change.old is None:
                problems = list(_opening(policy, after, trailers))
                added = after["events"]
            else:
                before = self.case(change.old, change.path, policy)
                problems = list(_step(policy, before, after, trailers, commit.subject))
                added = after["events"][len(before["events"]) :]
            problems += _dated_later(added, commit.committed_at)
        except ComplaintError as exc:
            policy = None
            problems = [exc.what if exc.where and exc.where.startswith(change.path) else str(exc)]
        actors = trailers.get("Actor", [])
        if actors and commit.author_email.casefold() != actors[0].casefold():
            problems.append(f"author {commit.author_email} is not the actor {actors[0]}")
        if actors:
            problems += _entered_by(actors[0], commit.committer_email, trailers.get("Entered-By", []))
        action = trailers.get("Action", [""])[0]
        if (
            policy is not None
            and policy.team
            and actors
            and action in policy.self_only
            and commit.committer_email.casefold() != actors[0].casefold()
        ):
            problems.append(
                f"{action} is taken by {actors[0]} in person, but {commit.committer_email} committed it"
            )
        for problem in problems:
            yield Finding(cid, named, problem)

    def check_policy(self, commit: gitread.Commit) -> Iterator[Finding]:
        """policy.yaml and templates/ change only through the tool: 'init' at
        the start, then 'policy commit' and 'team ...', each by someone the
        policy in force before it lets change it; a team command changes the
        team alone."""
        cid = commit.id
        trailers = commit.trailers()
        action = trailers.get("Action", [""])[0]
        if not commit.parents:
            # The workspace's first commit sets its policy; cases come later, each by 'open'.
            for change in commit.changes:
                if _is_case(change.path):
                    yield Finding(cid, Path(change.path).stem, "a first commit (no parent) holds a case file")
            return
        # What the findings name: policy.yaml if it changed, else the templates that did.
        changed = sorted(c.path for c in commit.changes if _is_policy(c.path))
        named = "policy.yaml"
        if changed and "policy.yaml" not in changed:
            named = changed[0] + (f" (and {len(changed) - 1} more)" if len(changed) > 1 else "")
        if any(_is_case(c.path) for c in commit.changes):
            yield Finding(cid, named, "changes the policy and cases in one commit")
        if action not in POLICY_ACTIONS:
            yield Finding(
                cid,
                named,
                "changed outside complaintctl (no Complaintctl trailers; record policy changes with "
                "'complaintctl policy commit' or 'complaintctl team')",
            )
            return
        actor = trailers.get("Actor", [""])[0]
        try:
            before = self.policy_at(commit.parents[0])
        except ComplaintError as exc:
            yield Finding(cid, named, f"cannot check: {exc}")
            return
        if not before.may_change_policy(actor):
            yield Finding(cid, named, f"{actor or 'nobody'} may not change the policy (policy_roles)")
        if commit.author_email.casefold() != actor.casefold():
            yield Finding(cid, named, f"author {commit.author_email} is not the actor {actor}")
        if before.team and commit.committer_email.casefold() != actor.casefold():
            yield Finding(
                cid,
                named,
                f"a policy change is made by {actor} in person, but {commit.committer_email} committed it",
            )
        try:
            after = self.policy_at(cid)
        except ComplaintError as exc:
            yield Finding(cid, named, f"leaves a policy that does not load: {exc}")
            return
        if action.startswith("team-"):
            yield from _team_change(cid, action, trailers.get("Member", [""])[0], before, after, commit)

    def check_merge(self, commit: gitread.Commit) -> Iterator[Finding]:
        """Each case must be what the event merge gives (or the side a Keep
        trailer names): a merge that quietly takes one side is caught too."""
        root = self.ws.root
        first, second = commit.parents[0], commit.parents[1]
        keep = {}
        for value in commit.trailers().get("Keep", []):
            parts = value.split()
            if len(parts) == 2 and parts[1] in ("ours", "theirs"):
                keep[parts[0]] = parts[1]
        paths = {
            c.path
            for parent in (first, second)
            for c in gitread.diff(root, parent, commit.id, CASES)
            if _is_case(c.path)
        }
        if not paths:
            return
        base = git(root, "merge-base", first, second, check=False).stdout.strip()
        if not base:  # cases from another history would come in unchecked ('theirs' has no common version)
            yield Finding(commit.id, "-", "merges a history that shares no commit with this one")
            return
        try:
            policy = self.policy_at(first)  # the merging side's, as sync and the driver use
        except ComplaintError as exc:
            yield Finding(commit.id, "-", f"cannot check the merge: {exc}")
            return
        for rel in sorted(paths):
            case_id = Path(rel).stem
            result = self.blobs.text(f"{commit.id}:{rel}")
            ours, theirs = (self.blobs.text(f"{p}:{rel}") for p in (first, second))
            common = self.blobs.text(f"{base}:{rel}") if base else None
            if result is None:
                yield Finding(commit.id, case_id, "case file deleted in a merge")
                continue
            kept = keep.get(case_id)
            if kept and (ours in (common, theirs) or theirs == common):
                # sync keeps one side only of a case both sides changed: here one side's events were lost.
                yield Finding(commit.id, case_id, f"the merge keeps {kept} of a case only one side changed")
                continue
            try:
                expected = self._expected(policy, rel, keep.get(case_id), common, ours, theirs, base)
            except ComplaintError as exc:
                yield Finding(
                    commit.id, case_id, f"merged although the two sides cannot both stand: {exc.what}"
                )
                continue
            if expected != result and _plain(expected, rel, policy) != _plain(result, rel, policy):
                what = (
                    f"the merge says it kept {keep[case_id]} but the file differs"
                    if case_id in keep
                    else "the merge result is not the merge of both sides' events"
                )
                yield Finding(commit.id, case_id, what)

    def check_merged_policy(self, commit: gitread.Commit) -> Iterator[Finding]:
        """policy.yaml and templates/ after a merge are git's merge of both
        sides (what sync makes): anything else was changed by hand there."""
        root = self.ws.root
        first, second = commit.parents[0], commit.parents[1]
        # Most merges touch no policy: the same policy.yaml and templates/ on
        # all three commits, told by one git call instead of four diffs.
        revs = [f"{c}:{p}" for c in (commit.id, first, second) for p in ("policy.yaml", "templates")]
        ids = git(root, "rev-parse", *revs, check=False).stdout.split()
        if len(ids) == 6 and ids[0:2] == ids[2:4] == ids[4:6]:
            return
        changed = sorted(
            {
                c.path
                for parent in (first, second)
                for under in ("policy.yaml", "templates/")
                for c in gitread.diff(root, parent, commit.id, under)
            }
        )
        if not changed:
            return
        merged = git(root, "merge-tree", "--write-tree", "--no-messages", first, second, check=False)
        tree = merged.stdout.split()[0] if merged.returncode == 0 and merged.stdout.strip() else None
        for rel in changed:
            if tree is not None and self.blobs.text(f"{tree}:{rel}") == self.blobs.text(f"{commit.id}:{rel}"):
                continue
            yield Finding(
                commit.id,
                rel,
                "changed in a merge, outside complaintctl (not the merge of both sides); record policy "
                "changes with 'complaintctl policy commit' or 'complaintctl team'",
            )

    def _expected(
        self,
        policy: Policy,
        rel: str,
        kept: str | None,
        common: str | None,
        ours: str | None,
        theirs: str | None,
        base: str,
    ) -> str | None:
        if kept is not None:
            return ours if kept == "ours" else theirs
        if ours == theirs or theirs == common:
            return ours
        if ours == common:
            return theirs
        if ours is None or theirs is None:
            raise MergeConflict("deleted on one side and changed on the other", where=rel)

        def history() -> Iterator[str]:
            return gitread.file_history(self.ws.root, base, rel, self.blobs.text)

        merged, _ = mergefile.merge_texts(policy, rel, common, ours, theirs, history)
        return merged

    def close(self) -> None:
        self.blobs.close()


def _team_change(
    cid: str, action: str, member: str, before: Policy, after: Policy, commit: gitread.Commit
) -> Iterator[Finding]:
    """A team command changes the team alone, and only as its trailers say."""
    if any(c.path != "policy.yaml" for c in commit.changes):
        yield Finding(cid, "policy.yaml", f"{action} changes other files too")
    if dataclasses.replace(before, team=()) != dataclasses.replace(after, team=()):
        yield Finding(cid, "policy.yaml", f"{action} changes more of the policy than the team")
    old = {m.id.casefold(): m for m in before.team}
    new = {m.id.casefold(): m for m in after.team}
    key = member.casefold()
    ok = {
        "team-add": key in new and key not in old and set(old) == set(new) - {key},
        "team-remove": key in old and key not in new and set(new) == set(old) - {key},
        "team-roles": set(old) == set(new) and key in new and old[key].roles != new[key].roles,
    }.get(action, False)
    unchanged = all(old[k] == new[k] for k in set(old) & set(new) if k != key)
    if not ok or not unchanged:
        yield Finding(cid, "policy.yaml", f"the team change is not the {action} of {member} its trailers say")


def _plain(text: str | None, rel: str, policy: Policy) -> Any:
    if text is None:
        return None
    try:
        return replay.plain(workspace.parse_case(text, rel, policy, roundtrip=False))
    except ComplaintError:
        return text


def _opening(policy: Policy, case: Any, trailers: dict[str, list[str]]) -> Iterator[str]:
    try:
        replay.check_opening(policy, case)
    except replay.Mismatch as exc:
        yield exc.what
        return
    event = case["events"][0]
    expected = {"Action": "open", "From": "-", "To": policy.initial, "Actor": event["by"]}
    yield from _trailer_problems(trailers, expected)


def _step(
    policy: Policy, before: Any, after: Any, trailers: dict[str, list[str]], subject: str
) -> Iterator[str]:
    try:
        changes = replay.check_version(policy, before, after)
    except replay.Mismatch as exc:
        yield exc.what
        return
    if not changes:
        yield "changes the case file but adds no event"
        return
    *rises, last = changes
    if any(c.action != "severity" for c in rises):
        yield f"records {len(changes)} events; complaintctl records one (after any severity rise)"
    expected = {
        "Action": last.action,
        "From": last.from_state or "-",
        "To": last.to_state,
        "Actor": last.actor,
    }
    yield from _trailer_problems(trailers, expected)
    if subject != last.subject:
        # What the commit says must be what the file records (amounts, offers, states).
        yield f"the commit says '{subject}', the events give '{last.subject}'"


CLOCK_SLACK_S = 300  # the event's time is read before git commits it; a few seconds, minutes at most


def _dated_later(added: list[Any], committed_at: int) -> list[str]:
    """The tool never records an event after the moment it commits it: one
    dated later was written by hand (and would freeze the case: every later
    command is refused as before its last event)."""
    from complaintctl.core.times import parse_time

    for event in added:
        at = parse_time(str(event["at"]))
        if committed_at and at.timestamp() > committed_at + CLOCK_SLACK_S:
            made = datetime.fromtimestamp(committed_at, at.tzinfo).isoformat(timespec="minutes")
            return [f"an event is dated {event['at']}, after the commit that records it ({made})"]
    return []


def _entered_by(actor: str, committer: str, entered: list[str]) -> list[str]:
    """Who typed a change is its committer: the actor in person, or with
    --as the typist, named again in the Entered-By trailer."""
    if committer.casefold() == actor.casefold():
        return [f"Entered-By says {entered[0]}, but {actor} committed it in person"] if entered else []
    if not entered:
        return [f"committed by {committer} for {actor} with no Entered-By trailer naming them"]
    if entered[0].casefold() != committer.casefold():
        return [f"Entered-By says {entered[0]}, but {committer} committed it"]
    return []


def _trailer_problems(trailers: dict[str, list[str]], expected: dict[str, str]) -> Iterator[str]:
    for key, value in expected.items():
        found = trailers.get(key, [None])[0]
        if found != value:
            yield f"trailer {key} says {found or 'nothing'}, the events say {value}"


# ---------------------------------------------------------------- entry


def _exists(root: Path, rev: str) -> bool:
    return git(root, "rev-parse", "-q", "--verify", rev + "^{commit}", check=False).returncode == 0


def verify(ws: Workspace, since: str | None = None) -> list[Finding]:
    root = ws.root
    shallow = git(root, "rev-parse", "--is-shallow-repository").stdout.strip()
    if shallow == "true":
        raise WorkspaceError(
            "this is a shallow clone; verify needs the whole history to give a verdict",
            fix="fetch it with 'git fetch --unshallow' (in CI: actions/checkout with fetch-depth: 0)",
        )
    if git(root, "rev-parse", "-q", "--verify", "HEAD", check=False).returncode != 0:
        return []
    if since is not None and not _exists(root, since):
        raise UsageError(f"--since {since}: no such commit", fix="give a commit id, tag or branch")
    verifier = Verifier(ws)
    try:
        findings: list[Finding] = []
        for commit in gitread.commits(root, f"{since}..HEAD" if since else "HEAD"):
            findings.extend(verifier.check(commit))
            verifier.follow(commit)
        return findings
    finally:
        verifier.close()


def signatures(ws: Workspace, allowed: Path, since: str | None = None) -> list[Finding]:
    """Every commit that changes cases/, policy.yaml or templates/ must carry a
    good signature from an allowed key, and the key must be the typist's: its
    principal (SSH) or its user id's e-mail (GPG) is the Entered-By trailer,
    else the Actor trailer (verify checks that Entered-By names the committer)."""
    root = ws.root
    if not allowed.is_file():
        raise WorkspaceError(
            f"allowed signers file {allowed} does not exist",
            fix="create it, or fix allowed_signers in policy.yaml",
        )
    fingerprints = _gpg_fingerprints(allowed.read_text(encoding="utf-8"))
    spec = f"{since}..HEAD" if since else "HEAD"
    out = git(
        root,
        "-c",
        f"gpg.ssh.allowedSignersFile={allowed}",
        "log",
        "--format=%H%x1f%G?%x1f%GF%x1f%GP%x1f%GS%x1f%(trailers:key=Complaintctl-Actor,valueonly,separator=)"
        "%x1f%(trailers:key=Complaintctl-Entered-By,valueonly,separator=)%x1f%s",
        "--full-history",
        spec,
        "--",
        ":(glob)cases/**/*.yaml",
        "policy.yaml",
        "templates",
    ).stdout
    findings = []
    for line in out.splitlines():
        commit, status, key, primary, signer, actor, entered, subject = [*line.split("\x1f"), *[""] * 8][:8]
        case_id = next((w for w in subject.split() if w.startswith("C-")), "-").rstrip(":,")
        if subject.startswith(("Policy:", "Team:")):
            case_id = "policy.yaml"
        if key.startswith("SHA256:"):  # SSH: git checked the key against the file itself
            ok = status == "G"
        else:  # GPG: a listed fingerprint; the local keyring need not trust it
            ok = status in ("G", "U") and bool({key.upper(), primary.upper()} & fingerprints)
        if not ok:
            what = {
                "N": "not signed",
                "B": "bad signature",
                "E": "signature cannot be checked (key unknown here)",
                "X": "signature has expired",
                "Y": "signed by an expired key",
                "R": "signed by a revoked key",
            }.get(status, "signed by a key that is not in the allowed signers file")
            findings.append(Finding(commit, case_id, what))
            continue
        who = signer.rsplit("<", 1)[-1].rstrip(">").strip()  # GPG: 'Name <e-mail>'; SSH: the principal
        # Entered for someone else (--as): signed by who typed it, whom Entered-By names.
        typist = (entered or actor).strip()
        if typist and who.casefold() != typist.casefold():
            whose = f"entered by {typist}" if entered else f"recorded as {typist}'s"
            findings.append(Finding(commit, case_id, f"{whose} but signed with {who or 'an unnamed'} key"))
    return findings


def _gpg_fingerprints(text: str) -> set[str]:
    """Full GPG fingerprints listed in the file (lines of SSH keys have none)."""
    found = set()
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        for token in line.split():
            if len(token) == 40 and all(c in "0123456789abcdefABCDEF" for c in token):
                found.add(token.upper())
    return found
