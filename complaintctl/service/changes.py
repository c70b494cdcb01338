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
from decimal import Decimal
from pathlib import Path
from typing import Any

from complaintctl.core import events, times
from complaintctl.core.lifecycle import Change
from complaintctl.core.policy import Policy
from complaintctl.core.records import customer_keys, validate_case
from complaintctl.errors import RuleError, UsageError, WorkspaceError
from complaintctl.store import gitwrite, workspace
from complaintctl.store.workspace import Workspace


@dataclass(frozen=True)
class Context:
    """Who acts, who types, when, and where: resolved once per command.

    ``operator`` is the person at the keyboard (COMPLAINTCTL_USER, else git
    user.email); ``actor`` is who the event is recorded for (``--as``, else
    the operator). ``at`` is None until the workspace lock is held, when a
    command without --at takes the time (so commands queued on the lock are
    recorded in the order they got it).
    """

    ws: Workspace
    actor: str
    at: datetime | None
    now: datetime
    operator: str | None = None
    at_given: bool = True

    def timed(self) -> Context:
        """The context with 'now' read now (call it with the lock held)."""
        now = times.now(self.ws.policy.timezone)
        return dataclasses.replace(self, now=now, at=self.at if self.at is not None else now)

    @property
    def when(self) -> datetime:
        assert self.at is not None, "timed() first"
        return self.at

    @property
    def entered_for_someone_else(self) -> bool:
        return self.operator is not None and self.operator.casefold() != self.actor.casefold()


def operator_of(ws: Workspace) -> str | None:
    """The person at the keyboard: COMPLAINTCTL_USER, else git user.email."""
    return operator_at(ws.root)


def operator_at(where: Path) -> str | None:
    """operator_of, for a folder (an existing one) that need not be a workspace yet: 'init'."""
    return os.environ.get("COMPLAINTCTL_USER", "").strip() or gitwrite.git_user_email(where)


def context(root: str | None, actor: str | None, at: str | None) -> Context:
    ws = workspace.find_workspace(root)
    policy = ws.policy
    when = times.parse_at(at, policy.timezone) if at else None
    operator = operator_of(ws)
    who = actor or operator
    if not who:
        raise UsageError(
            "who is acting? no --as, no COMPLAINTCTL_USER and no git user.email",
            fix="pass --as you@example.com or set COMPLAINTCTL_USER",
        )
    check_actor_id(who.strip(), "--as" if actor else "COMPLAINTCTL_USER")
    return Context(
        ws, who.strip(), when, times.now(policy.timezone), operator and operator.strip(), at is not None
    )


def check_actor_id(who: str, what: str) -> None:
    """An id goes into commit trailers: one line of printable text."""
    if not who or not who.isprintable():
        raise UsageError(
            f"{what} must be one line of printable text", fix="give an e-mail like you@example.com"
        )


def require_in_person(ctx: Context, what: str, policy: Policy | None = None) -> None:
    """Refuse ``what`` entered with --as for someone else (an empty team lets anyone act)."""
    if (policy or ctx.ws.policy).team and ctx.entered_for_someone_else:
        raise RuleError(
            f"{what} is taken by {ctx.actor} in person, not entered for them (you are {ctx.operator})",
            fix=f"ask {ctx.actor} to run it in their own shell (COMPLAINTCTL_USER or git user.email)",
        )


def _check_operator(ctx: Context, action: str) -> None:
    """Actions the policy lists as self_only are never entered for someone else."""
    if action in ctx.ws.policy.self_only:
        require_in_person(ctx, action)


def _check_entered(ctx: Context, case: Any, event: events.Event, change: Change | None = None) -> None:
    """What is entered for someone else (--as) must be the operator's to
    enter too: staff named in the complaint touch it in no one's name, and
    what needs authority (an offer that needs no approval, a cause only some
    roles may set) needs the operator's own, or is taken in person."""
    operator = ctx.operator
    policy = ctx.ws.policy
    if not ctx.entered_for_someone_else or not operator or not policy.team:
        return
    from complaintctl.core import lifecycle, offers

    if case is not None:
        lifecycle.check_recusal(case, operator)
    if isinstance(event, events.Open):
        lifecycle.check_not_subject(event.subject_staff, operator, "record it", events.OPEN_RECUSED_FIX)
    cause = getattr(event, "cause", None)
    if isinstance(event, events.Correct) and event.field == "cause":
        cause = event.value.strip()
    if cause:
        events.check_cause(policy, case["id"] if case else None, cause, operator, case and case.get("cause"))
    if isinstance(event, events.Correct):
        events.check_correct(policy, case["id"], event.field, operator)
    if isinstance(event, events.Propose) and change is not None:
        offer = next(v for path, v in change.updates if path[:1] == ("offers",) and isinstance(v, dict))
        value, currency = Decimal(offer["amount"]), offer["currency"]
        own = offers.limit_of(policy, operator, currency)
        if offer["status"] == "open" and not offers.covers(own, value):
            raise RuleError(
                f"an offer of {currency} {value} is above your own approval limit (you are {operator})",
                where=case["id"],
                fix=f"{ctx.actor} proposes it in person, or propose it as yourself and it waits for approval",
            )


def _trailers(ctx: Context, change: Change) -> dict[str, str]:
    found = change.trailers()
    if ctx.entered_for_someone_else and ctx.operator:
        found["Entered-By"] = ctx.operator
    return found


def _commit(
    ctx: Context,
    rel: str,
    text: str,
    change: Change,
    body: Sequence[str] = (),
    extra: Mapping[str, bytes] | None = None,
) -> None:
    """Write the case (and any extra files) and commit them all, or nothing."""
    limit = ctx.ws.policy.case_file_max_bytes
    if len(text) > limit:  # every reader refuses such a file: the case would be lost to the tool
        raise RuleError(
            f"the case would be {len(text):,} characters, over the case-file limit of {limit:,}",
            where=rel,
            fix="shorten the text (attach a long document as evidence to 'agree', or keep it outside "
            "and note where), or raise case_file_max_bytes in policy.yaml",
        )
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
            _trailers(ctx, change),
            gitwrite.author(ctx.ws.policy, ctx.actor),
            change.at,
            committer=gitwrite.author(ctx.ws.policy, ctx.operator) if ctx.operator else None,
        )


def _check_written(ctx: Context, rel: str, data: Any) -> None:
    # Belt and braces: what we are about to write must pass our own schema.
    from complaintctl.core import validate

    try:
        validate_case(data, ctx.ws.policy, expected_id=Path(rel).stem)
    except validate.Invalid as exc:  # pragma: no cover - a bug, not a user error
        raise RuleError(f"internal check failed: {exc.what}", where=rel) from None


def _record_rise(ctx: Context, edit: workspace.CaseEdit) -> list[str]:
    """Write down, as an event, a rise of severity the rules made meanwhile."""
    from complaintctl.core import severity

    policy = ctx.ws.policy
    doc = edit.data
    peers = []
    if doc.get("matter"):  # the index is read only for a case on a matter
        from complaintctl.service import reads

        peers = reads.matter_peers(ctx.ws, doc["category"], doc["matter"])
    level, rises = severity.effective(policy, severity.facts(doc), ctx.when, peers)
    before = doc["severity"]
    if level == before:
        return []
    reasons = [
        r.reason + f" (since {r.since.isoformat(timespec='minutes')})" for r in rises if r.severity == level
    ]
    rise = events.Rise(level, tuple(reasons))
    edit.apply(rise.decide(policy, doc, ctx.actor, ctx.when, ctx.now))
    return [f"severity rose from {before} to {level}: {reasons[0]}"]


def _check_clock(ctx: Context, doc: Any) -> None:
    """Without --at the time is 'now': a clock behind the case's last event
    (another machine's, after a sync) is named as such, not as an --at."""
    if ctx.at_given or not doc["events"]:
        return
    last = times.parse_time(doc["events"][-1]["at"])
    if ctx.when < last:
        raise WorkspaceError(
            f"this computer's clock ({times.format_time(ctx.when)}) is behind the case's last event "
            f"({times.format_time(last)})",
            where=doc["id"],
            fix="set the clock right, or give the time it happened with --at",
        )


def change_case(ctx: Context, case_id: str, event: events.Event) -> Change:
    """Decide ``event`` on one existing case and commit the result."""
    case_id = workspace.resolve_id(ctx.ws, case_id)
    rel, _ = ctx.ws.case_path(case_id)
    _check_operator(ctx, event.action)
    with gitwrite.workspace_lock(ctx.ws):
        ctx = ctx.timed()
        gitwrite.preflight(ctx.ws, [rel], audited=True)
        edit = workspace.load_for_change(ctx.ws, case_id)
        rel, doc = edit.rel, edit.data
        _check_clock(ctx, doc)
        notices = _record_rise(ctx, edit)
        change = event.decide(ctx.ws.policy, doc, ctx.actor, ctx.when, ctx.now)
        _check_entered(ctx, doc, event, change)
        if isinstance(event, events.Correct) and event.field in _MATTER_FIELDS:
            _check_corrected_matter(ctx, doc, change)
        edit.apply(change)
        if notices:
            change = dataclasses.replace(change, notices=(*notices, *change.notices))
        _check_written(ctx, rel, doc)
        body = [n[0].upper() + n[1:] + "." for n in notices]
        _commit(ctx, rel, edit.text(), change, body)
    return change


def agree_case(
    ctx: Context,
    case_id: str,
    event: events.Agree,
    evidence: Sequence[Path] = (),
    lang: str | None = None,
) -> Change:
    """The customer's acceptance, with its evidence and the agreement letter
    (in ``lang``, default the policy's letter_language), all in one commit:
    each file's SHA-256 is recorded in the case."""
    import hashlib

    case_id = workspace.resolve_id(ctx.ws, case_id)
    rel, _ = ctx.ws.case_path(case_id)
    limit = ctx.ws.policy.evidence_max_bytes
    blobs: list[tuple[str, bytes]] = []
    for path in evidence:  # all checked before anything is written
        blobs.append((_extension(path.name), _read_evidence(path, limit)))
    _check_operator(ctx, event.action)
    with gitwrite.workspace_lock(ctx.ws):
        ctx = ctx.timed()
        edit = workspace.load_for_change(ctx.ws, case_id)
        rel, doc = edit.rel, edit.data
        _check_clock(ctx, doc)
        notices = _record_rise(ctx, edit)
        event = event.replace(evidence=len(blobs))
        change = event.decide(ctx.ws.policy, doc, ctx.actor, ctx.when, ctx.now)
        _check_entered(ctx, doc, event, change)
        number = change.event["offer"]
        folder = f"evidence/{case_id}"
        files: dict[str, bytes] = {}
        records = []
        for index, (name, content) in enumerate(blobs, start=1):
            target = f"{folder}/offer-{number}-{index}{name}"
            files[target] = content
            records.append(
                {"file": target, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
            )
        if records:
            change.event["evidence"] = records
        edit.apply(change)
        from complaintctl.service import letters

        lang = lang or ctx.ws.policy.letter_language
        letter = letters.agreement(ctx.ws, doc, "html", lang).encode("utf-8")
        letter_path = f"{folder}/agreement-offer-{number}.html"
        files[letter_path] = letter
        change.event["letter"] = {
            "file": letter_path,
            "sha256": hashlib.sha256(letter).hexdigest(),
            "lang": lang,
        }
        gitwrite.preflight(ctx.ws, [rel, *files], audited=True)
        if notices:
            change = dataclasses.replace(change, notices=(*notices, *change.notices))
        _check_written(ctx, rel, doc)
        body = [n[0].upper() + n[1:] + "." for n in notices]
        _commit(ctx, rel, edit.text(), change, body, files)
    return change


def _read_evidence(path: Path, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit``: never a link, a device, a
    FIFO (which would hang) or a /proc file (which says size 0)."""
    import stat

    fix = "give the path of a scan, e-mail or recording (a plain file)"
    try:
        info = path.lstat()
    except OSError:
        raise UsageError(f"evidence file {path} does not exist", fix=fix) from None
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"evidence file {path} is a symbolic link", fix=fix)
    if not stat.S_ISREG(info.st_mode) or str(path.resolve()).startswith(("/proc/", "/sys/", "/dev/")):
        raise UsageError(f"evidence file {path} is not a plain file", fix=fix)
    try:
        with path.open("rb") as handle:
            content = handle.read(limit + 1)  # count what is read, not what stat says
    except OSError as exc:
        raise UsageError(f"cannot read evidence file {path}: {exc.strerror}", fix=fix) from None
    if len(content) > limit:
        raise UsageError(
            f"evidence file {path} is over the limit of {limit:,} bytes",
            fix="attach a smaller copy, or raise evidence_max_bytes in policy.yaml",
        )
    return content


def _extension(name: str) -> str:
    """Only the kind of file goes into the repository's paths ('.pdf'), never
    the name, which often holds the customer's name or phone."""
    import re

    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


# What makes a case the same customer's complaint on the same matter as another.
_MATTER_FIELDS = frozenset({"phone", "email", "account", "category", "matter"})


def _earlier(ctx: Context, keys: set[str], new: events.Open, own: str | None = None) -> tuple[list[Any], Any]:
    """The customer's earlier cases (index rows, oldest first, not ``own``)
    and the lookup they came from: as 'open' checks them."""
    from complaintctl.store import caseindex

    found = caseindex.lookup(ctx.ws, keys, (new.category, new.matter)) if keys or new.matter else None
    people = found.people if found else []
    # The same customer: by phone, e-mail or account (a name alone could be a namesake's).
    mine = (r for r in people if keys & set(r["customer_keys"]) and r["id"] != own)
    return sorted(mine, key=lambda r: r["opened_at"]), found


def _check_corrected_matter(ctx: Context, before: Any, change: Change) -> None:
    """A correction of the customer's phone, e-mail or account, or of the
    category or matter, is held to what 'open' holds a new case to: it made
    a case about a matter already settled, or one under a refused bottom
    line, and the money was paid again."""
    import copy

    from complaintctl.core import lifecycle

    after = copy.deepcopy(dict(before))
    lifecycle.apply(after, change)
    if after.get("reopen_reason"):
        return  # let through at 'open' with a reason: it stays so

    def bound(case: Any) -> tuple[tuple[str, str] | None, list[dict[str, Any]]]:
        new = events.Open.from_case(case)
        earlier, _ = _earlier(ctx, customer_keys(case["customer"]), new, case["id"])
        same = [c for c in earlier if events.same_matter_as(ctx.ws.policy, new, c, ctx.when)]
        caps = [] if case.get("cap") else _carried_caps(ctx, new, earlier)
        return events.settled_in(ctx.ws.policy, same), caps

    settled, caps = bound(after)
    if (settled or caps) and (settled, caps) == bound(before):
        return  # as it was before this correction (the other case settled later): nothing new
    if settled or caps:
        old = settled[0] if settled else caps[0]["case"]
        what = (
            f"a matter that {settled[1]}" if settled else f"a matter whose bottom line was refused in {old}"
        )
        raise RuleError(
            f"corrected so, the case would be about {what}; 'open' refuses or caps such a case",
            where=after["id"],
            fix=f"see 'complaintctl show {old}'; record the new fact in a note instead",
        )


def _carried_caps(ctx: Context, new: events.Open, earlier: Sequence[Any]) -> list[dict[str, Any]]:
    """The bottom lines of the customer's earlier cases on the same matter
    (only those few files are read: the index does not hold offers)."""
    from complaintctl.core import offers

    caps = []
    for row in earlier:
        if events.same_matter_as(ctx.ws.policy, new, row, ctx.when):
            _rel, _text, case = workspace.load_case(ctx.ws, row["id"])
            cap = offers.cap_of(case, ctx.ws.policy.rules.bottom_line_withdrawn_caps)
            if cap is not None:
                caps.append(cap)
    return caps


def open_case(ctx: Context, new: events.Open) -> Change:
    from complaintctl.core.records import new_id

    policy = ctx.ws.policy
    _check_operator(ctx, "open")
    with gitwrite.workspace_lock(ctx.ws):
        ctx = ctx.timed()
        gitwrite.preflight(ctx.ws, [], audited=True)
        keys = customer_keys({"phone": new.phone, "email": new.email, "account": new.account})
        # The customer's own keys and the matter's peers, looked up in the
        # queue database: a lookup at 100k cases reads no other case.
        earlier, found = _earlier(ctx, keys, new)
        peers = []
        if new.matter and found:
            from complaintctl.core import casestatus

            group = casestatus.peers_by_matter(found.peers).get((new.category, new.matter), [])
            peers = [p for p in group if not p.customer & keys]
        for _ in range(5):
            case_id = new_id(ctx.when)
            rel, path = ctx.ws.case_path(case_id)
            if not path.exists():
                break
        else:  # pragma: no cover - 32**6 ids a day
            raise WorkspaceError("could not find a free case id", fix="run the command again")
        caps = _carried_caps(ctx, new, earlier)
        _check_entered(ctx, None, new)
        case, change = new.decide_open(policy, case_id, ctx.actor, ctx.when, ctx.now, earlier, peers, caps)
        _check_written(ctx, rel, case)
        _commit(ctx, rel, workspace.dump_case(case), change)
    return change
