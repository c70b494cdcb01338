"""One transaction per changing command: lock, load, decide, write, commit.

The CLI hands each changing command here as a typed event. Everything it
does to disk and git happens inside one lock and one transaction, so it
either completes with one commit or leaves no trace.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from complaintctl.core import events, lifecycle, times
from complaintctl.core.lifecycle import Change
from complaintctl.core.records import customer_keys, normalise_id, validate_case
from complaintctl.errors import RuleError, UsageError, WorkspaceError
from complaintctl.service import letters, reads
from complaintctl.store import gitwrite, workspace
from complaintctl.store.workspace import Workspace


@dataclass(frozen=True)
class Context:
    """Who acts, when, and where: resolved once per command."""

    ws: Workspace
    actor: str
    at: datetime
    now: datetime


def context(root: str | None, actor: str | None, at: str | None) -> Context:
    ws = workspace.find_workspace(root)
    policy = ws.policy
    now = times.now(policy.timezone)
    when = times.parse_at(at, policy.timezone) if at else now
    who = actor or os.environ.get("COMPLAINTCTL_USER") or gitwrite.git_user_email(ws.root)
    if not who:
        raise UsageError(
            "who is acting? no --as, no COMPLAINTCTL_USER and no git user.email",
            fix="pass --as you@example.com or set COMPLAINTCTL_USER",
        )
    return Context(ws, who.strip(), when, now)


def _commit(
    ctx: Context,
    rel: str,
    text: str,
    change: Change,
    body: Sequence[str] = (),
    extra: Mapping[str, bytes] | None = None,
) -> None:
    """Write the case (and any extra files) and commit them all, or nothing."""
    extra = extra or {}
    paths = [rel, *extra]
    with gitwrite.transaction(ctx.ws, paths):
        for path, content in extra.items():
            workspace.write_atomic_bytes(ctx.ws.root / path, content)
        workspace.write_atomic(ctx.ws.root / rel, text)
        gitwrite.commit(
            ctx.ws,
            paths,
            change.subject,
            body,
            change.trailers(),
            gitwrite.author(ctx.ws.policy, ctx.actor),
            change.at,
        )


def _check_written(ctx: Context, rel: str, data: Any) -> None:
    # Belt and braces: what we are about to write must pass our own schema.
    from complaintctl.core import validate

    try:
        validate_case(data, ctx.ws.policy, expected_id=Path(rel).stem)
    except validate.Invalid as exc:  # pragma: no cover - a bug, not a user error
        raise RuleError(f"internal check failed: {exc.what}", where=rel) from None


def _record_rise(ctx: Context, doc: Any) -> list[str]:
    """Write down, as an event, a rise of severity the rules made meanwhile."""
    from complaintctl.core import severity

    policy = ctx.ws.policy
    peers = reads.matter_peers(ctx.ws, doc["category"], doc.get("matter"))
    level, rises = severity.effective(policy, severity.facts(doc), ctx.at, peers)
    before = doc["severity"]
    if level == before:
        return []
    reasons = [
        r.reason + f" (since {r.since.isoformat(timespec='minutes')})" for r in rises if r.severity == level
    ]
    rise = events.Rise(level, tuple(reasons))
    lifecycle.apply(doc, rise.decide(policy, doc, ctx.actor, ctx.at, ctx.now))
    return [f"severity rose from {before} to {level}: {reasons[0]}"]


def change_case(ctx: Context, case_id: str, event: events.Event) -> Change:
    """Decide ``event`` on one existing case and commit the result."""
    case_id = normalise_id(case_id)
    rel, _ = ctx.ws.case_path(case_id)
    with gitwrite.workspace_lock(ctx.ws):
        gitwrite.preflight(ctx.ws, [rel])
        rel, _text, doc = workspace.load_case(ctx.ws, case_id, roundtrip=True)
        notices = _record_rise(ctx, doc)
        change = event.decide(ctx.ws.policy, doc, ctx.actor, ctx.at, ctx.now)
        lifecycle.apply(doc, change)
        if notices:
            change = dataclasses.replace(change, notices=(*notices, *change.notices))
        _check_written(ctx, rel, doc)
        _commit(ctx, rel, workspace.dump_case(doc), change, [n[0].upper() + n[1:] + "." for n in notices])
    return change


def agree_case(
    ctx: Context,
    case_id: str,
    event: events.Agree,
    evidence: Sequence[Path] = (),
) -> Change:
    """The customer's acceptance, with its evidence and the agreement letter,
    all in one commit: each file's SHA-256 is recorded in the case."""
    import hashlib

    case_id = normalise_id(case_id)
    rel, _ = ctx.ws.case_path(case_id)
    limit = ctx.ws.policy.evidence_max_bytes
    blobs: list[tuple[str, bytes]] = []
    for path in evidence:  # all checked before anything is written
        if not path.is_file():
            raise UsageError(
                f"evidence file {path} does not exist", fix="give the path of a scan, e-mail or recording"
            )
        size = path.stat().st_size
        if size > limit:
            raise UsageError(
                f"evidence file {path} is {size:,} bytes, over the limit of {limit:,}",
                fix="attach a smaller copy, or raise evidence_max_bytes in policy.yaml",
            )
        blobs.append((_safe_name(path.name), path.read_bytes()))
    with gitwrite.workspace_lock(ctx.ws):
        rel, _text, doc = workspace.load_case(ctx.ws, case_id, roundtrip=True)
        notices = _record_rise(ctx, doc)
        change = event.decide(ctx.ws.policy, doc, ctx.actor, ctx.at, ctx.now)
        number = change.event["offer"]
        folder = f"evidence/{case_id}"
        files: dict[str, bytes] = {}
        records = []
        for index, (name, content) in enumerate(blobs, start=1):
            target = f"{folder}/offer-{number}-{index}-{name}"
            files[target] = content
            records.append(
                {"file": target, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
            )
        if records:
            change.event["evidence"] = records
        lifecycle.apply(doc, change)
        letter = letters.agreement(ctx.ws, doc, "html").encode("utf-8")
        letter_path = f"{folder}/agreement-offer-{number}.html"
        files[letter_path] = letter
        change.event["letter"] = {"file": letter_path, "sha256": hashlib.sha256(letter).hexdigest()}
        gitwrite.preflight(ctx.ws, [rel, *files])
        if notices:
            change = dataclasses.replace(change, notices=(*notices, *change.notices))
        _check_written(ctx, rel, doc)
        body = [n[0].upper() + n[1:] + "." for n in notices]
        _commit(ctx, rel, workspace.dump_case(doc), change, body, files)
    return change


def _safe_name(name: str) -> str:
    """A file name that is safe in any checkout: letters, digits, . _ - only."""
    import re

    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"
    return cleaned[-80:]


def open_case(ctx: Context, new: events.Open) -> Change:
    from complaintctl.core.records import new_id
    from complaintctl.store import caseindex

    policy = ctx.ws.policy
    with gitwrite.workspace_lock(ctx.ws):
        gitwrite.preflight(ctx.ws, [])
        keys = customer_keys({"phone": new.phone, "email": new.email, "account": new.account})
        rows = caseindex.read_rows(ctx.ws).rows if keys or new.matter else []
        earlier = sorted((r for r in rows if keys & set(r["customer_keys"])), key=lambda r: r["opened_at"])
        peers = []
        if new.matter:
            from complaintctl.core import casestatus

            group = casestatus.peers_by_matter(rows).get((new.category, new.matter), [])
            peers = [p for p in group if not p.customer & keys]
        for _ in range(5):
            case_id = new_id(ctx.at)
            rel, path = ctx.ws.case_path(case_id)
            if not path.exists():
                break
        else:  # pragma: no cover - 32**6 ids a day
            raise WorkspaceError("could not find a free case id", fix="run the command again")
        case, change = new.decide_open(policy, case_id, ctx.actor, ctx.at, ctx.now, earlier, peers)
        _check_written(ctx, rel, case)
        _commit(ctx, rel, workspace.dump_case(case), change)
    return change
