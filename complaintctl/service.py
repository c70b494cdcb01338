"""One function per command: load -> workflow -> save -> commit.

The CLI calls exactly one of these and prints what it returns. Everything a
changing command does to disk and git happens inside one lock and one
transaction, so it either completes with one commit or leaves no trace.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from . import audit, clock, store, workflow
from .errors import NotFoundError, RuleError, UsageError, WorkspaceError
from .model import normalise_id, validate_case
from .policy import Policy
from .store import Workspace
from .workflow import Change

Builder = Callable[[Policy, Any, str, datetime, datetime], Change]


@dataclass(frozen=True)
class Context:
    """Who acts, when, and where: resolved once per command."""

    ws: Workspace
    actor: str
    at: datetime
    now: datetime


def context(root: str | None, actor: str | None, at: str | None) -> Context:
    ws = store.find_workspace(root)
    policy = ws.policy
    now = clock.now(policy.timezone)
    when = clock.parse_at(at, policy.timezone) if at else now
    who = actor or os.environ.get("COMPLAINTCTL_USER") or audit.git_user_email(ws.root)
    if not who:
        raise UsageError(
            "who is acting? no --as, no COMPLAINTCTL_USER and no git user.email",
            fix="pass --as you@example.com or set COMPLAINTCTL_USER",
        )
    return Context(ws, who.strip(), when, now)


def author_of(policy: Policy, actor: str) -> audit.Author:
    member = policy.member(actor)
    return audit.Author(name=member.name if member else actor, email=actor)


def trailers(change: Change) -> dict[str, str]:
    return {
        "Case": change.case_id,
        "Action": change.action,
        "From": change.from_state or "-",
        "To": change.to_state,
        "Actor": change.actor,
    }


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
    with audit.transaction(ctx.ws, paths):
        for path, content in extra.items():
            store.write_atomic_bytes(ctx.ws.root / path, content)
        store.write_atomic(ctx.ws.root / rel, text)
        audit.commit(
            ctx.ws,
            paths,
            change.subject,
            body,
            trailers(change),
            author_of(ctx.ws.policy, ctx.actor),
            change.at,
        )


def _check_written(ctx: Context, rel: str, data: Any) -> None:
    # Belt and braces: what we are about to write must pass our own schema.
    from . import validate

    try:
        validate_case(data, ctx.ws.policy, expected_id=Path(rel).stem)
    except validate.Invalid as exc:  # pragma: no cover - a bug, not a user error
        raise RuleError(f"internal check failed: {exc.what}", where=rel) from None


def _peers(ws: Workspace, category: str, matter: str | None) -> list[Any]:
    """Cases on the same category and matter (through the index)."""
    if not matter:
        return []
    from . import caseindex, monitor

    rows = caseindex.read_rows(ws).rows
    return list(monitor.peers_by_matter(rows).get((category, matter), []))


def _record_rise(ctx: Context, doc: Any) -> list[str]:
    """Write down, as an event, a rise of severity the rules made meanwhile."""
    from . import severity

    policy = ctx.ws.policy
    peers = _peers(ctx.ws, doc["category"], doc.get("matter"))
    level, rises = severity.effective(policy, severity.facts(doc), ctx.at, peers)
    before = doc["severity"]
    if level == before:
        return []
    reasons = [
        r.reason + f" (since {r.since.isoformat(timespec='minutes')})" for r in rises if r.severity == level
    ]
    workflow.apply(doc, workflow.record_rise(doc, ctx.actor, ctx.at, level, reasons))
    return [f"severity rose from {before} to {level}: {reasons[0]}"]


def change_case(ctx: Context, case_id: str, build: Builder) -> Change:
    """Run ``build`` on one existing case and commit the result."""
    case_id = normalise_id(case_id)
    rel, _ = ctx.ws.case_path(case_id)
    with audit.workspace_lock(ctx.ws):
        audit.preflight(ctx.ws, [rel])
        rel, _text, doc = store.load_case(ctx.ws, case_id, roundtrip=True)
        notices = _record_rise(ctx, doc)
        change = build(ctx.ws.policy, doc, ctx.actor, ctx.at, ctx.now)
        workflow.apply(doc, change)
        if notices:
            change = dataclasses.replace(change, notices=(*notices, *change.notices))
        _check_written(ctx, rel, doc)
        _commit(ctx, rel, store.dump_case(doc), change, [n[0].upper() + n[1:] + "." for n in notices])
    return change


def agree_case(
    ctx: Context,
    case_id: str,
    offer: int | None,
    signed_by: str | None,
    channel: str | None,
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
    with audit.workspace_lock(ctx.ws):
        rel, _text, doc = store.load_case(ctx.ws, case_id, roundtrip=True)
        notices = _record_rise(ctx, doc)
        change = workflow.agree(ctx.ws.policy, doc, ctx.actor, ctx.at, ctx.now, offer, signed_by, channel)
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
        workflow.apply(doc, change)
        letter = _agreement(ctx.ws, doc, "html").encode("utf-8")
        letter_path = f"{folder}/agreement-offer-{number}.html"
        files[letter_path] = letter
        change.event["letter"] = {"file": letter_path, "sha256": hashlib.sha256(letter).hexdigest()}
        audit.preflight(ctx.ws, [rel, *files])
        if notices:
            change = dataclasses.replace(change, notices=(*notices, *change.notices))
        _check_written(ctx, rel, doc)
        body = [n[0].upper() + n[1:] + "." for n in notices]
        _commit(ctx, rel, store.dump_case(doc), change, body, files)
    return change


def _safe_name(name: str) -> str:
    """A file name that is safe in any checkout: letters, digits, . _ - only."""
    import re

    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"
    return cleaned[-80:]


def open_case(ctx: Context, new: workflow.NewCase) -> Change:
    from . import caseindex
    from .model import new_id

    policy = ctx.ws.policy
    with audit.workspace_lock(ctx.ws):
        audit.preflight(ctx.ws, [])
        keys = workflow.customer_keys({"phone": new.phone, "email": new.email, "account": new.account})
        rows = caseindex.read_rows(ctx.ws).rows if keys or new.matter else []
        earlier = sorted((r for r in rows if keys & set(r["customer_keys"])), key=lambda r: r["opened_at"])
        peers = []
        if new.matter:
            from . import monitor

            group = monitor.peers_by_matter(rows).get((new.category, new.matter), [])
            peers = [p for p in group if not p.customer & keys]
        for _ in range(5):
            case_id = new_id(ctx.at)
            rel, path = ctx.ws.case_path(case_id)
            if not path.exists():
                break
        else:  # pragma: no cover - 32**6 ids a day
            raise WorkspaceError("could not find a free case id", fix="run the command again")
        case, change = workflow.open_case(policy, new, case_id, ctx.actor, ctx.at, ctx.now, earlier, peers)
        _check_written(ctx, rel, case)
        _commit(ctx, rel, store.dump_case(case), change)
    return change


# ---------------------------------------------------------------- reading


def show(root: str | None, case_id: str) -> tuple[Workspace, dict[str, Any]]:
    ws = store.find_workspace(root)
    _rel, _text, data = store.load_case(ws, case_id)
    return ws, data


def list_rows(root: str | None, status: Sequence[str] = ()) -> tuple[list[dict[str, Any]], list[str]]:
    from . import caseindex

    ws = store.find_workspace(root)
    for state in status:
        if state not in ws.policy.states:
            raise UsageError(
                f"unknown status '{state}'",
                fix=f"use one of: {', '.join(ws.policy.states)}",
            )
    from . import monitor, standing

    result = caseindex.read_rows(ws)
    now = clock.now(ws.policy.timezone)
    now_us = standing.micros(now)
    _attach_early(ws, list(zip(result.paths, result.rows, strict=True)), now)
    peers = monitor.peers_by_matter(result.rows)
    rows = []
    for row in result.rows:
        if status and row["state"] not in status:
            continue
        # An open case's severity is on its timeline (cheaper than the rules).
        st = None if row.get("settled") else standing.at(row, now_us)
        if st is not None:
            level = st.level
        else:
            group = peers.get((row["category"], row["matter"]), []) if row.get("matter") else []
            level = monitor.level(ws.policy, row, now, group)
        rows.append({**row, "severity": level})
    return rows, [p.message for p in result.problems]


def check(root: str | None) -> list[str]:
    """Every problem in policy.yaml and the case files, as 'FILE:LINE: ...'."""
    from . import caseindex
    from .errors import ComplaintError

    ws = store.find_workspace(root)
    try:
        policy = ws.policy
        from . import calendar

        calendar.check_country(policy)
    except ComplaintError as exc:
        return [str(exc)]
    problems: list[str] = []
    seen: dict[str, str] = {}
    for rel in store.case_files(ws):
        path = ws.root / rel
        if path.is_symlink():
            problems.append(f"{rel}: is a symbolic link; replace it with a plain file")
            continue
        if not caseindex.CASE_PATH_RE.match(rel):
            problems.append(
                f"{rel}: not a case file name (cases/YYYY/MM/C-YYYYMMDD-XXXXXX.yaml); move or remove it"
            )
            continue
        try:
            data = store.parse_case(path.read_text(encoding="utf-8"), rel, policy, roundtrip=False)
        except ComplaintError as exc:
            problems.append(str(exc))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{rel}: cannot read: {exc}")
            continue
        problems += _evidence_problems(ws, rel, data)
        if data["id"] in seen:
            problems.append(
                f"{rel}: duplicate case id {data['id']} (also {seen[data['id']]}); remove one copy"
            )
        seen[data["id"]] = rel
    return problems


def _evidence_problems(ws: Workspace, rel: str, case: Any) -> list[str]:
    """Every evidence file and letter a case names must be there, unchanged."""
    import hashlib

    problems = []
    for event in case["events"]:
        for item in [*(event.get("evidence") or ()), *([event["letter"]] if event.get("letter") else [])]:
            name = str(item.get("file", ""))
            path = ws.root / name
            if not name.startswith("evidence/") or ".." in Path(name).parts or not path.is_file():
                problems.append(f"{rel}: evidence file {name} is missing; restore it from git history")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != item.get("sha256"):
                problems.append(
                    f"{rel}: evidence file {name} was changed after it was recorded; restore it from git"
                )
    return problems


def history(root: str | None, case_id: str) -> list[dict[str, str]]:
    from . import history as hist

    ws = store.find_workspace(root)
    case_id = normalise_id(case_id)
    rel, path = ws.case_path(case_id)
    if not path.exists():
        raise NotFoundError(f"no case {case_id}", where=rel, fix="run 'complaintctl list' to see the cases")
    return hist.case_log(ws.root, rel)


# ---------------------------------------------------------------- init


def defaults_dir() -> Path:
    return Path(__file__).resolve().parent / "defaults"


def init_workspace(target: Path) -> Path:
    """A fresh workspace: git repo, default policy and templates, empty cases/."""
    target = target.expanduser().resolve()
    if (target / "policy.yaml").exists():
        raise WorkspaceError(f"{target} is already a workspace (it has policy.yaml)", fix="use it as it is")
    if target.exists() and any(p.name != ".git" for p in target.iterdir()):
        raise WorkspaceError(f"{target} is not empty", fix="choose a new or empty folder")
    source = defaults_dir()
    target.mkdir(parents=True, exist_ok=True)
    had_git = (target / ".git").exists()
    try:
        shutil.copyfile(source / "policy.yaml", target / "policy.yaml")
        shutil.copytree(source / "templates", target / "templates")
        (target / "cases").mkdir()
        (target / "cases" / ".gitkeep").write_text("")
        (target / ".gitignore").write_text("# complaintctl: rendered letters and reports\n/out/\n")
        from . import sync

        sync.add_attributes(target)
        if not (target / ".git").exists():
            audit.git(target, "init", "--quiet")
        sync.configure(target)
        audit.git(
            target, "add", "--", "policy.yaml", "templates", "cases/.gitkeep", ".gitignore", ".gitattributes"
        )
        audit.git(
            target,
            "commit",
            "--quiet",
            "--message=Start complaint workspace\n\nComplaintctl-Action: init\n",
        )
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


# ---------------------------------------------------------------- team


def setup(root: str | None, actor: str | None) -> list[str]:
    """What a fresh clone needs: git settings, and the merge attribute if missing."""
    from . import sync

    ws = store.find_workspace(root)
    done = [f"git config {key}" for key in sync.configure(ws.root)]
    if sync.attributes_missing(ws.root):
        ctx = context(root, actor, None)
        with audit.workspace_lock(ws):
            audit.preflight(ws, [".gitattributes"])
            with audit.transaction(ws, [".gitattributes"]):
                sync.add_attributes(ws.root)
                audit.commit(
                    ws,
                    [".gitattributes"],
                    "Merge case files event by event (.gitattributes)",
                    [],
                    {"Action": "setup", "Actor": ctx.actor},
                    author_of(ws.policy, ctx.actor),
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
    from . import sync

    ctx = context(root, actor, None)
    return sync.sync(
        ctx.ws,
        ctx.actor,
        remote,
        frozenset(normalise_id(k) for k in keep_ours),
        frozenset(normalise_id(k) for k in keep_theirs),
    )


def verify(root: str | None, since: str | None, signatures: bool) -> list[str]:
    """Every commit in the history of cases/ that breaks the record, one line each."""
    from . import verify as verifier

    ws = store.find_workspace(root)
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
    from . import mergefile

    # git runs the driver at the top of the repository being merged; the
    # policy is our side's (HEAD's), as for sync, whatever the merge does to it.
    from .policy import load_text

    ws = store.find_workspace(str(Path.cwd()))
    policy_text = audit.git(ws.root, "show", "HEAD:policy.yaml").stdout
    policy = load_text(policy_text, "policy.yaml (HEAD)")
    texts = []
    for path in (base, ours, theirs):
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise WorkspaceError(f"cannot read {path} ({exc.strerror})", where=rel) from None
        except UnicodeDecodeError:
            raise WorkspaceError(f"cannot read {path} (not UTF-8 text)", where=rel) from None
    from .gitread import file_history

    text, merged = mergefile.merge_texts(
        policy, rel, texts[0] or None, texts[1], texts[2], lambda: file_history(ws.root, "HEAD", rel)
    )
    store.write_atomic(ours, text)
    added = len(merged.ours) + len(merged.theirs)
    return f"{rel}: merged {added} concurrent event(s); now {merged.case['state']}"


# ---------------------------------------------------------------- render


def render(
    root: str | None, case_id: str, what: str, fmt: str, show_pii: bool = False, lang: str = "en"
) -> str | bytes:
    """A letter or summary as text (html, md) or bytes (pdf)."""
    from . import render as rnd
    from .privacy import mask_customer

    if what not in ("agreement", "reply", "summary"):
        raise UsageError(f"cannot render '{what}'", fix="render agreement, reply or summary")
    if fmt not in rnd.FORMATS:
        raise UsageError(f"unknown format '{fmt}'", fix=f"use one of: {', '.join(rnd.FORMATS)}")
    if lang not in rnd.LANGS:
        raise UsageError(f"unknown language '{lang}'", fix=f"use one of: {', '.join(rnd.LANGS)}")
    ws, case = show(root, case_id)
    source = "html" if fmt == "pdf" else fmt
    name = f"{what}.{source}.j2" if lang == "en" else f"{what}.{lang}.{source}.j2"
    if what == "agreement":
        text = _agreement(ws, case, source, name)
    elif what == "reply":
        text = rnd.render(_templates(ws), name, _reply_context(ws, case))
    else:
        context: dict[str, Any] = {"case": case, "organisation": ws.policy.organisation}
        context["customer"] = case["customer"] if show_pii else mask_customer(dict(case["customer"]))
        text = rnd.render(_templates(ws), name, context)
    return rnd.to_pdf(text, name) if fmt == "pdf" else text


def _reply_context(ws: Workspace, case: Any) -> dict[str, Any]:
    number, missing = workflow.signoffs_missing(ws.policy, case)
    if number == 0:
        raise RuleError(
            "there is no draft reply", where=case["id"], fix="write one with 'complaintctl draft'"
        )
    drafted = [e for e in case["events"] if e["action"] == "draft"][-1]
    signed = [e for e in case["events"] if e["action"] == "signoff" and e.get("draft") == number]
    member = ws.policy.member(drafted["by"])
    return {
        "case": case,
        "organisation": ws.policy.organisation,
        "customer": case["customer"],
        "draft": drafted,
        "signoffs": signed,
        "missing": missing,
        "author": member.name if member else drafted["by"],
    }


def _templates(ws: Workspace) -> list[Path]:
    return [ws.root / "templates", defaults_dir() / "templates"]


def _agreement(ws: Workspace, case: Any, fmt: str, name: str | None = None) -> str:
    """The settlement agreement for the case's accepted offer."""
    from . import render as rnd

    accepted = [o for o in case.get("offers", ()) if o["status"] == "accepted"]
    if not accepted:
        raise RuleError(
            "no accepted offer to put in an agreement",
            where=case["id"],
            fix="record the customer's acceptance with 'complaintctl agree' first",
        )
    offer = accepted[-1]
    agreed = [e for e in case["events"] if e["action"] == "agree" and e.get("offer") == offer["no"]]
    member = ws.policy.member(case["owner"])
    context = {
        "case": case,
        "organisation": ws.policy.organisation,
        "customer": case["customer"],
        "offer": offer,
        "accepted_at": agreed[-1]["at"] if agreed else offer["at"],
        "handler": member.name if member else case["owner"],
    }
    return rnd.render(_templates(ws), name or f"agreement.{fmt}.j2", context)


@dataclass(frozen=True)
class ReportRequest:
    since: str | None = None
    until: str | None = None
    as_of: str | None = None
    category: str | None = None
    owner: str | None = None
    severity: str | None = None


def report(root: str | None, req: ReportRequest) -> tuple[Any, list[str], Workspace]:
    from . import report as rep

    ws = store.find_workspace(root)
    policy = ws.policy
    tz = policy.timezone
    if req.category is not None and req.category not in policy.categories:
        raise UsageError(
            f"unknown category '{req.category}'", fix=f"use one of: {', '.join(policy.categories)}"
        )
    if req.severity is not None and req.severity not in policy.severities:
        raise UsageError(
            f"unknown severity '{req.severity}'", fix=f"use one of: {', '.join(policy.severities)}"
        )
    scope = rep.Scope(
        since=clock.parse_at(req.since, tz, what="--since") if req.since else None,
        until=clock.parse_at(req.until, tz, what="--until") if req.until else None,
        category=req.category,
        owner=req.owner,
        severity=req.severity,
    )
    orders = {
        "status": list(policy.states),
        "severity": list(reversed(policy.severities)),
        "category": list(policy.categories),
        "channel": list(policy.channels),
        "tier": [t.name for t in policy.tiers],
    }
    when = _as_of(ws, req.as_of)
    tally, items, problems = _report_parts(ws, scope, when)
    return rep.build(_standings(ws, items, when), scope, when, orders, tally=tally), problems, ws


def _report_parts(ws: Workspace, scope: Any, when: datetime) -> tuple[Any, list[Any], list[str]]:
    """A report's tally with each month's stored sums added where they are
    exact for it, and the cases still to add one by one (path, row)."""
    from . import caseindex, reportsums, standing
    from . import report as rep

    snap = caseindex.snapshot(ws)
    tally = rep.Tally(scope, when)
    # Sums made now hold only cases already final now (and by when).
    cutoff = standing.micros(min(when, clock.now(ws.policy.timezone)))
    parts: dict[str, tuple[list[Any], list[str]]] = {}
    unsummed = []
    for month in snap.months():
        sums = caseindex.load_sums(ws, snap, month)
        if sums is None or not reportsums.usable(sums, scope, when):
            unsummed.append((month, sums is None))
            continue
        # Folding may widen the sums' range of receipt: only when the period is everything.
        if scope.since is None and scope.until is None and reportsums.fold(sums, cutoff):
            caseindex.save_sums(ws, snap, month, sums)
        reportsums.add(tally, sums)
        parts[month] = (sums["live"], sums["problems"])
    loaded = caseindex.month_rows(ws, snap, [month for month, _ in unsummed])
    for month, missing in unsummed:
        items, problems = loaded.items[month], [p.message for p in loaded.problems[month]]
        if missing and snap.tree(month) and loaded.trees[month] == snap.tree(month):
            caseindex.save_sums(ws, snap, month, reportsums.summarise(items, cutoff, problems))
        parts[month] = (items, problems)
    items, problems = [], []
    for month in sorted(parts):
        items += parts[month][0]
        problems += parts[month][1]
    return tally, items, problems


def _standings(ws: Workspace, items: Sequence[Any], when: datetime) -> list[Any]:
    """How each case stands as of when: looked up on its timeline, or
    evaluated (cases on a --matter, or when is before their last event)."""
    from . import caseindex, monitor, standing

    items = [(rel, row) for rel, row in items if datetime.fromisoformat(row["opened_at"]) <= when]
    when_us = standing.micros(when)
    out = []
    slow = []
    for rel, row in items:
        st = standing.at(row, when_us, rel)
        if st is None:
            slow.append((rel, row))
        else:
            out.append(st)
    if slow:
        _attach_early(ws, slow, when)
        peers = monitor.peers_by_matter(row for _, row in items)
        cal = caseindex.calendar(ws)
        out += [standing.of(monitor.status(ws.policy, row, when, cal, peers), rel) for rel, row in slow]
    return out


def _attach_early(ws: Workspace, items: Sequence[Any], when: datetime) -> None:
    """Settled rows carry no raw facts; those settled after when need them."""
    from . import caseindex

    early = [
        (rel, row)
        for rel, row in items
        if "clock_facts" not in row and datetime.fromisoformat(row["settled"]["at"]) > when
    ]
    caseindex.attach_facts(ws, early)


# ---------------------------------------------------------------- clocks


def _as_of(ws: Workspace, text: str | None) -> datetime:
    now = clock.now(ws.policy.timezone)
    return clock.parse_at(text, ws.policy.timezone, what="--as-of") if text else now


def _calendar(ws: Workspace) -> Any:
    from . import calendar, monitor

    if not monitor.needs_calendar(ws.policy):
        return None
    return calendar.build(ws.policy, ws.git_dir() / "complaintctl")


def case_status(root: str | None, case_id: str, as_of: str | None = None) -> tuple[dict[str, Any], Any]:
    """One case and where it stands (severity, clocks, stall) as of a moment."""
    from . import monitor, projection

    ws, case = show(root, case_id)
    policy = ws.policy
    row = projection.row(case, policy.time_limits.pause_states)
    peers = {}
    if case.get("matter"):
        peers = {(case["category"], case["matter"]): _peers(ws, case["category"], case["matter"])}
    return case, monitor.status(policy, row, _as_of(ws, as_of), _calendar(ws), peers)


def statuses(root: str | None, as_of: str | None = None) -> tuple[Workspace, list[Any], list[str], datetime]:
    from . import caseindex, monitor

    ws = store.find_workspace(root)
    result = caseindex.read_rows(ws)
    when = _as_of(ws, as_of)
    items = [
        (rel, row)
        for rel, row in zip(result.paths, result.rows, strict=True)
        if datetime.fromisoformat(row["opened_at"]) <= when
    ]
    _attach_early(ws, items, when)
    return (
        ws,
        monitor.statuses(ws.policy, [row for _, row in items], when, _calendar(ws)),
        [p.message for p in result.problems],
        when,
    )
