"""The typer layer: parse arguments, call one service function, print.

No YAML, git or Jinja here. Every ComplaintError is caught once, in
``Group.invoke``: its message goes to stderr on one line and the exit code
is 1 (2 for a usage error). No traceback, and never local variables.

Annotations here are not postponed (no ``from __future__ import
annotations``): typer reads every parameter of every command at each start,
and evaluating ~900 string annotations made --help 15% slower (measured).
"""

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from complaintctl.cli import start
from complaintctl.errors import ComplaintError
from complaintctl.service.choices import (
    DocFormat,
    Document,
    Lang,
    LogFormat,
    OverdueFormat,
    ReportFormat,
    RowsFormat,
    ShowFormat,
)

# typer's argument errors (a click ClickException, vendored in typer >= 0.28).
_ClickException: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _one_line(text: str) -> str:
    # A value the user typed may hold a newline; an error stays one line.
    return " ".join(text.splitlines())


def _say_error(message: str) -> None:
    """One line on stderr; 'complaintctl:' in red when stderr is a terminal."""
    from complaintctl.cli.colour import BOLD, RED, paint, wanted

    typer.echo(f"{paint('complaintctl:', f'{BOLD};{RED}', wanted(sys.stderr))} {message}", err=True)


class Group(TyperGroup):
    """The one error boundary: every expected failure is one line on stderr."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ComplaintError as exc:
            _say_error(_one_line(str(exc)))
            raise typer.Exit(exc.exit_code) from None
        except _ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # 'complaintctl team': its help, exit 0
                typer.echo(exc.ctx.get_help())
                raise typer.Exit(0) from None
            where = getattr(getattr(exc, "ctx", None), "command_path", None) or "complaintctl"
            message = _one_line(exc.format_message()).rstrip(".")
            _say_error(f"{message}; see '{where} --help'")
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=Group,
    name="complaintctl",
    help="Handle customer complaints as YAML case files in git, under the rules of policy.yaml.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(start.version_line(), nl=False)
        raise typer.Exit()


def _chdir(value: str | None) -> None:
    if value is not None:
        from complaintctl.errors import UsageError

        try:
            os.chdir(Path(value).expanduser())
        except OSError as exc:
            raise UsageError(f"-C {value}: {exc.strerror}", fix="give a folder that exists") from None


@app.callback()
def _top(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    folder: Annotated[
        str | None,
        typer.Option(
            "-C",
            metavar="DIR",
            help="Run as if started in DIR (as git -C does): complaintctl -C ~/complaints list.",
        ),
    ] = None,
) -> None:
    """Handle customer complaints as YAML case files in git, under the rules of policy.yaml."""
    _chdir(folder)


def _case_ids(incomplete: str) -> list[str]:
    """Shell completion of a case id."""
    from complaintctl.service import reads

    return reads.case_ids(incomplete)


def _choice(enum: Any) -> Any:
    """An option of fixed values: parsed by the Enum, refused in one line."""
    return {"parser": enum.parse, "metavar": enum.what().upper()}


def _format_option(enum: Any, help: str) -> Any:
    """The one --format option: its values are the Enum's, refused in one line."""
    return typer.Option("--format", help=help, **_choice(enum))


def _format(fmt: Any, as_json: bool) -> Any:
    """--json is short for --format json; the two cannot disagree."""
    if not as_json:
        return fmt
    json_form = type(fmt).parse("json")
    if fmt is not json_form and fmt is not _DEFAULT_FORMAT.get(type(fmt)):
        from complaintctl.errors import UsageError

        raise UsageError(f"--json and --format {fmt.value} ask for two formats", fix="give one of them")
    return json_form


# The screen form each command prints when no --format is given.
_DEFAULT_FORMAT: dict[Any, Any] = {
    RowsFormat: RowsFormat.TABLE,
    ShowFormat: ShowFormat.TEXT,
    LogFormat: LogFormat.TABLE,
    OverdueFormat: OverdueFormat.TEXT,
    ReportFormat: ReportFormat.TABLE,
}
JsonFlag = Annotated[bool, typer.Option("--json", help="Short for --format json.")]


def _rows_limit(value: int) -> int:
    """--limit: a number of rows, or 0 for all (a negative one was taken as all)."""
    if value < 0:
        from complaintctl.errors import UsageError

        raise UsageError(f"--limit {value} is below 0", fix="give a number of rows, or 0 for all of them")
    return value


RowsFormatOption = Annotated[
    RowsFormat, _format_option(RowsFormat, "table, json, csv, markdown or html (docs/json.md).")
]  # list, customer


def _colour() -> bool:
    from complaintctl.cli.colour import wanted

    return wanted(sys.stdout)


# ---------------------------------------------------------------- shared options

Root = Annotated[
    str | None,
    typer.Option(
        "--root",
        help="Workspace folder (default: COMPLAINTCTL_ROOT, else the nearest ancestor with policy.yaml).",
    ),
]
At = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="When it really happened (ISO 8601; default now; no offset = policy time zone).",
    ),
]
As = Annotated[
    str | None,
    typer.Option("--as", help="Who acts (default: COMPLAINTCTL_USER, else git user.email)."),
]
CaseId = Annotated[
    str,
    typer.Argument(
        help="Case id, or a unique start of it or of its last six characters "
        "(C-20261122-7K3QX2, C-20261122-7K, 7K3Q; any case).",
        show_default=False,
        autocompletion=_case_ids,
    ),
]


def _changed(change: Any) -> None:
    for notice in change.notices:
        typer.echo(f"complaintctl: note: {notice}", err=True)
    arrow = (
        f"{change.from_state} -> {change.to_state}"
        if change.from_state != change.to_state
        else change.to_state
    )
    typer.echo(f"{change.case_id}: {change.subject} [{arrow}]")


def _run(root: str | None, actor: str | None, at: str | None, case_id: str, event: Any) -> None:
    """Hand one typed event on one case to the service, and print the change."""
    from complaintctl.service import changes

    ctx = changes.context(root, actor, at)
    _changed(changes.change_case(ctx, case_id, event))


# ---------------------------------------------------------------- workspace


@app.command(epilog="Example: complaintctl init ~/complaints")
def init(
    folder: Annotated[Path, typer.Argument(help="New or empty folder for the workspace.")],
    email: Annotated[
        str | None,
        typer.Option(help="Your id on the team (default: COMPLAINTCTL_USER, else git user.email)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Your name (default: git user.name, for git's own e-mail).")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="Start from this policy.yaml (its team as it is) instead of the default."
        ),
    ] = None,
) -> None:
    """Make a new workspace: git repo, policy.yaml with you on the team, templates, empty cases/."""
    from complaintctl.service import admin

    path = admin.init_workspace(folder, policy, name, email)
    typer.echo(
        f"Workspace ready in {path}, with you on the team. Next: 'complaintctl team add' your "
        "colleagues, then 'complaintctl open --help'."
    )


@app.command(
    "open",
    epilog="Example: complaintctl open --customer '张三' --phone 13812341234 --channel phone "
    "--category billing --summary 'Charged twice for October' --demand 'Refund the extra charge'",
)
def open_(
    customer: Annotated[str, typer.Option(help="Customer's name, as given.")],
    channel: Annotated[str, typer.Option(help="How it came in (policy: channels).")],
    category: Annotated[str, typer.Option(help="What it is about (policy: categories).")],
    summary: Annotated[str, typer.Option(help="What happened, in the customer's terms.")],
    phone: Annotated[str | None, typer.Option(help="Customer's phone.")] = None,
    email: Annotated[str | None, typer.Option(help="Customer's e-mail.")] = None,
    address: Annotated[str | None, typer.Option(help="Customer's address.")] = None,
    account: Annotated[str | None, typer.Option(help="Account, contract or order number.")] = None,
    demand: Annotated[str | None, typer.Option(help="What the customer wants (诉求).")] = None,
    urgent: Annotated[
        bool, typer.Option("--urgent", help="Urgent: someone must be in contact fast.")
    ] = False,
    severity: Annotated[
        str | None, typer.Option(help="Severity (policy: severities; default general).")
    ] = None,
    subject_staff: Annotated[
        list[str] | None,
        typer.Option("--subject-staff", help="Staff the complaint is about (recused). Repeatable."),
    ] = None,
    owner: Annotated[
        str | None, typer.Option(help="Who owns it (default: the actor, first-contact rule).")
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(help="Why a matter closed for good is accepted again (if policy allows)."),
    ] = None,
    matter: Annotated[
        str | None, typer.Option(help="Short tag shared by complaints about one matter (finds hot spots).")
    ] = None,
    cause: Annotated[str | None, typer.Option(help="internal (our fault), external, or unknown.")] = None,
    risk: Annotated[bool, typer.Option("--risk", help="Could lead to a lawsuit or media exposure.")] = False,
    lawsuit: Annotated[bool, typer.Option("--lawsuit", help="A lawsuit has been filed.")] = False,
    media: Annotated[bool, typer.Option("--media", help="Exposed in the media.")] = False,
    outside: Annotated[
        bool, typer.Option("--outside", help="Needs outside expertise or another company's help.")
    ] = False,
    collective: Annotated[
        int | None, typer.Option(help="A collective complaint by this many people.")
    ] = None,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Record a new complaint and print its case id."""
    from complaintctl.core import events
    from complaintctl.service import changes

    ctx = changes.context(root, actor, at)
    new = events.Open(
        customer=customer,
        channel=channel,
        category=category,
        summary=summary,
        phone=phone,
        email=email,
        address=address,
        account=account,
        demand=demand,
        urgent=urgent,
        severity=severity,
        subject_staff=tuple(subject_staff or ()),
        owner=owner,
        reason=reason,
        matter=matter,
        cause=cause,
        risk=risk,
        lawsuit=lawsuit,
        media=media,
        collective=collective,
        outside=outside,
    )
    change = changes.open_case(ctx, new)
    for notice in change.notices:
        typer.echo(f"complaintctl: note: {notice}", err=True)
    typer.echo(change.case_id)


@app.command(
    epilog="Example: complaintctl note C-20261122-7K3QX2 'Called back, apologised, checking the bill' "
    "--kind reply --channel phone"
)
def note(
    case_id: CaseId,
    text: Annotated[
        str | None,
        typer.Argument(help="What happened or was said; '-' reads it from stdin; none opens $EDITOR."),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            help="internal, reply (to the customer), contact-failed, investigation, notice, "
            "lesson (a lesson learned, for the report)."
        ),
    ] = "internal",
    channel: Annotated[str | None, typer.Option(help="Channel used (required for contact-failed).")] = None,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Add a note: an internal remark, a reply to the customer, a failed contact attempt."""
    from complaintctl.core import events

    _run(
        root,
        actor,
        at,
        case_id,
        events.Note(_typed_text(text, "the note"), kind, channel),
    )


def _typed_text(value: str | None, what: str) -> str:
    """Text as given, from stdin ('-'), or written in $EDITOR on a terminal."""
    from complaintctl.errors import UsageError

    if value == "-":
        return sys.stdin.read()
    if value is not None:
        return value
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not sys.stdin.isatty() or not editor:
        raise UsageError(f"no text for {what}", fix="give it as an argument, '-' for stdin, or set $EDITOR")
    import shlex
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "complaintctl-text.md"
        path.write_text(f"\n# Write {what} above. Lines starting with '#' are left out.\n", encoding="utf-8")
        if subprocess.run([*shlex.split(editor), str(path)], check=False).returncode != 0:
            raise UsageError(f"the editor ({editor}) failed; nothing was recorded", fix="check $EDITOR")
        written = path.read_text(encoding="utf-8")
    text = "\n".join(ln for ln in written.splitlines() if not ln.startswith("#")).strip()
    if not text:
        raise UsageError(f"{what} is empty; nothing was recorded", fix="write some text in the editor")
    return text


@app.command(
    epilog="Example: complaintctl propose C-20261122-7K3QX2 --amount 240.00 --currency CNY --kind refund "
    "--terms 'Refund to the original card within 7 days'.  A billing error: complaintctl propose "
    "C-20261122-7K3QX2 --overcharge --charged 180.00 --due 120.00 --terms 'Credited to the account by 30 Nov'"
)
def propose(
    case_id: CaseId,
    terms: Annotated[str, typer.Option(help="What the company will do, and by when.")],
    amount: Annotated[str | None, typer.Option(help="Exact amount, e.g. 240.00.")] = None,
    currency: Annotated[
        str | None, typer.Option(help="Currency code (default: the first in policy.yaml's currencies).")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help="refund, credit, replacement, repair, goodwill, other (default: refund; "
            "credit to the account for an overcharge).",
            show_default=False,
        ),
    ] = None,
    bottom_line: Annotated[
        bool, typer.Option("--bottom-line", help="The final offer: if refused, no later offer may exceed it.")
    ] = False,
    overcharge: Annotated[
        bool, typer.Option("--overcharge", help="A billing error: refund 2 x (charged - due).")
    ] = False,
    charged: Annotated[str | None, typer.Option(help="With --overcharge: what was charged.")] = None,
    due: Annotated[
        str | None, typer.Option(metavar="AMOUNT", help="With --overcharge: what was due.")
    ] = None,
    not_overcharge: Annotated[
        str | None,
        typer.Option(
            "--not-overcharge",
            metavar="WHY",
            help="Money on a category of rules.overcharge_categories that is not a double refund: why.",
        ),
    ] = None,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Make an offer; above your approval limit it waits for 'approve'. It supersedes earlier offers."""
    from complaintctl.core import events
    from complaintctl.errors import UsageError

    if overcharge and (charged is None or due is None):
        raise UsageError("--overcharge needs --charged and --due", fix="e.g. --charged 180.00 --due 120.00")
    if not overcharge and (charged is not None or due is not None):
        raise UsageError("--charged and --due go with --overcharge", fix="add --overcharge")
    _run(
        root,
        actor,
        at,
        case_id,
        events.Propose(
            amount,
            currency,
            kind or ("credit" if overcharge else "refund"),  # docs/domain.md: prefer account credit
            terms,
            bottom_line,
            charged,
            due,
            not_overcharge,
        ),
    )


@app.command(epilog="Example: complaintctl approve C-20261122-7K3QX2 2")
def approve(
    case_id: CaseId,
    offer: Annotated[int, typer.Argument(help="The offer's number (see 'show').")],
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Approve an offer above its proposer's limit (your limit must cover it; not your own offer)."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Approve(offer))


@app.command(epilog="Example: complaintctl withdraw C-20261122-7K3QX2 2 --reason 'Wrong amount'")
def withdraw(
    case_id: CaseId,
    offer: Annotated[int, typer.Argument(help="The offer's number (see 'show').")],
    reason: Annotated[str, typer.Option(help="Why it is taken back.")],
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Take back an offer that is open or waiting for approval."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Withdraw(offer, reason))


@app.command(epilog="Example: complaintctl refuse C-20261122-7K3QX2 2 --reason 'Wants a full refund'")
def refuse(
    case_id: CaseId,
    offer: Annotated[int, typer.Argument(help="The offer's number (see 'show').")],
    reason: Annotated[str | None, typer.Option(help="What the customer said.")] = None,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Record that the customer refused an offer (a refused bottom line caps later offers)."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Refuse(offer, reason))


@app.command(
    epilog="Example: complaintctl agree C-20261122-7K3QX2 1 --evidence signed-letter.pdf "
    "--signed-by '张三' --channel in-person"
)
def agree(
    case_id: CaseId,
    offer: Annotated[int | None, typer.Argument(help="Offer number (default: the open offer).")] = None,
    evidence: Annotated[
        list[Path] | None,
        typer.Option(help="Scan of the signed letter, e-mail, recording: copied into evidence/. Repeatable."),
    ] = None,
    signed_by: Annotated[str | None, typer.Option(help="Who signed or consented for the customer.")] = None,
    channel: Annotated[str | None, typer.Option(help="How consent was given.")] = None,
    lang: Annotated[
        Lang | None,
        typer.Option(
            "--lang", help="The agreement's language (default: policy letter_language).", **_choice(Lang)
        ),
    ] = None,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Record that the customer accepted the open offer, with the evidence and the agreement letter."""
    from complaintctl.core import events
    from complaintctl.service import changes

    ctx = changes.context(root, actor, at)
    event = events.Agree(offer, signed_by, channel)
    _changed(changes.agree_case(ctx, case_id, event, evidence or (), lang.value if lang else None))


@app.command(
    epilog="Example: complaintctl escalate C-20261122-7K3QX2 --reason 'Threatens to go to the media' "
    "--to carol@example.com"
)
def escalate(
    case_id: CaseId,
    reason: Annotated[str, typer.Option(help="Why it goes up.")],
    to: Annotated[
        str | None, typer.Option("--to", help="Hand it to this person (must hold the new tier).")
    ] = None,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Raise the case one tier (urgent and major cases go straight to the policy's direct_tier)."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Escalate(reason, to))


@app.command(
    epilog="Example: complaintctl draft C-20261122-7K3QX2 --text 'Dear Mr Zhang, we checked your bill ...'"
)
def draft(
    case_id: CaseId,
    text: Annotated[str | None, typer.Option(help="The reply's text; '-' reads it from stdin.")] = None,
    file: Annotated[
        Path | None, typer.Option(help="Read the reply's text from this file ('-': stdin).")
    ] = None,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Write a written reply (letter, e-mail) to be signed off before it is sent."""
    from complaintctl.core import events
    from complaintctl.errors import UsageError

    if text is not None and file is not None:
        raise UsageError("give the reply as --text or --file", fix="one of the two")
    if file is not None and str(file) == "-":
        text, file = "-", None
    if text is None and file is None:
        text = _typed_text(None, "the reply")
    elif text == "-":
        text = _typed_text("-", "the reply")
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {file}: {exc}", fix="give a UTF-8 text file") from None
    body = text or ""
    _run(root, actor, at, case_id, events.Draft(body))


@app.command(epilog="Example: complaintctl signoff C-20261122-7K3QX2 --as erin@example.com")
def signoff(case_id: CaseId, at: At = None, actor: As = None, root: Root = None) -> None:
    """Give the next sign-off the latest draft reply needs (legal review, then supervisor approval)."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Signoff())


@app.command(epilog="Example: complaintctl send C-20261122-7K3QX2 --channel letter")
def send(
    case_id: CaseId,
    channel: Annotated[str, typer.Option(help="How it went out: letter, email, ...")],
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Record that the signed-off reply went to the customer (refused until fully signed off)."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Send(channel))


@app.command(
    epilog="Example: complaintctl wait C-20261122-7K3QX2 --reason 'Customer to send the meter photo'"
)
def wait(
    case_id: CaseId,
    reason: Annotated[str, typer.Option(help="What the customer has to do.")],
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Wait on the customer: the resolution and keep-informed clocks stop."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Wait(reason))


@app.command(epilog="Example: complaintctl resume C-20261122-7K3QX2 'Photo received'")
def resume(
    case_id: CaseId,
    text: Annotated[str | None, typer.Argument(help="What came back.")] = None,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Stop waiting on the customer; the clocks run again."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Resume(text))


@app.command(
    epilog="Example: complaintctl flag C-20261122-7K3QX2 --media --reason 'Posted on Weibo, 2k shares'"
)
def flag(
    case_id: CaseId,
    reason: Annotated[str, typer.Option(help="What happened.")],
    risk: Annotated[bool, typer.Option("--risk", help="Could lead to a lawsuit or media exposure.")] = False,
    lawsuit: Annotated[bool, typer.Option("--lawsuit", help="A lawsuit has been filed.")] = False,
    media: Annotated[bool, typer.Option("--media", help="Exposed in the media.")] = False,
    outside: Annotated[
        bool, typer.Option("--outside", help="Needs outside expertise or another company's help.")
    ] = False,
    collective: Annotated[
        int | None, typer.Option(help="A collective complaint by this many people.")
    ] = None,
    cause: Annotated[str | None, typer.Option(help="internal (our fault), external, or unknown.")] = None,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Record facts that raise severity: lawsuit, media, risk, outside help, collective, cause."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Flag(reason, risk, lawsuit, media, collective, cause, outside))


@app.command(epilog="Example: complaintctl lower C-20261122-7K3QX2 --to general --reason 'Supplier at fault'")
def lower(
    case_id: CaseId,
    to: Annotated[str, typer.Option("--to", help="The new, lower severity.")],
    reason: Annotated[str, typer.Option(help="Why it is less serious than the rules say.")],
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Lower severity explicitly (it never falls by itself)."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Lower(to, reason))


@app.command(
    epilog="Example: complaintctl close C-20261122-7K3QX2 --resolution agreed --executed "
    "'Refund paid on 24 Nov'"
)
def close(
    case_id: CaseId,
    resolution: Annotated[str, typer.Option(help="How it ended (policy: resolutions).")],
    text: Annotated[str | None, typer.Argument(help="A closing remark.")] = None,
    executed: Annotated[bool, typer.Option("--executed", help="The agreement has been carried out.")] = False,
    told: Annotated[
        str | None,
        typer.Option(
            "--told",
            metavar="CHANNEL",
            help="A double refund was paid: the channel the customer was told by.",
        ),
    ] = None,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Close the case with a resolution; a follow-up is then due."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Close(resolution, text, executed, told))


@app.command(
    epilog="Example: complaintctl followup C-20261122-7K3QX2 --satisfaction 4 'Happy with the refund'"
)
def followup(
    case_id: CaseId,
    text: Annotated[str | None, typer.Argument(help="What the customer said.")] = None,
    satisfaction: Annotated[int | None, typer.Option(help="Satisfaction 1 (worst) to 5 (best).")] = None,
    unreachable: Annotated[
        bool, typer.Option("--unreachable", help="The customer could not be reached.")
    ] = False,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Record the follow-up call after closing (follow up first, archive after)."""
    from complaintctl.core import events

    _run(
        root,
        actor,
        at,
        case_id,
        events.Followup(satisfaction, unreachable, text),
    )


@app.command(epilog="Example: complaintctl archive C-20261122-7K3QX2")
def archive(case_id: CaseId, at: At = None, actor: As = None, root: Root = None) -> None:
    """File a followed-up case; refused until the follow-up is recorded."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Archive())


@app.command(epilog="Example: complaintctl reopen C-20261122-7K3QX2 --reason 'The refund never arrived'")
def reopen(
    case_id: CaseId,
    reason: Annotated[str, typer.Option(help="Why it is reopened.")],
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Reopen a closed case (refused after an executed settlement or a ruling)."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Reopen(reason))


@app.command(
    epilog="Example: complaintctl assign C-20261122-7K3QX2 --to bob@example.com --reason 'Alice on leave'"
)
def assign(
    case_id: CaseId,
    to: Annotated[str, typer.Option("--to", help="The colleague who takes the case on (same tier).")],
    reason: Annotated[str, typer.Option(help="Why it is handed on.")],
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Hand the case to a colleague on its tier: the owner (or a higher tier) records the hand-over."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Assign(to, reason))


@app.command(
    epilog="Example: complaintctl plan C-20261122-7K3QX2 'Refund CNY 561 to the original account' "
    "--by finance --due 7d"
)
def plan(
    case_id: CaseId,
    text: Annotated[str, typer.Argument(help="What will be done to carry out the agreement.")],
    by: Annotated[str, typer.Option("--by", help="Who does it: a person or a department.")],
    due: Annotated[str, typer.Option(help="By when: a span (7d, 48h) or a date and time.")],
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Plan one measure that carries out the accepted offer (落实); 'execute' records it done."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Plan(text, by, due))


@app.command(epilog="Example: complaintctl execute C-20261122-7K3QX2 1 --text 'Refund paid, ref 88231'")
def execute(
    case_id: CaseId,
    measure: Annotated[int, typer.Argument(help="The measure's number, as 'show' lists it.")],
    text: Annotated[str | None, typer.Option(help="What was done (a payment reference, say).")] = None,
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Record that a planned measure is done; when all are, the case can be closed as agreed."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Execute(measure, text))


@app.command(
    epilog="Example: complaintctl correct C-20261122-7K3QX2 phone 13812341235 --reason 'Typo: last digit'"
)
def correct(
    case_id: CaseId,
    field: Annotated[
        str,
        typer.Argument(
            help="name, phone, email, address, account, category, matter, demand, summary, cause, "
            "urgent (yes/no) or subject-staff (adds one).",
            metavar="FIELD",
        ),
    ],
    value: Annotated[str, typer.Argument(help="The right value.", metavar="VALUE")],
    reason: Annotated[str, typer.Option(help="What was wrong.")],
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Correct a recorded fact; the earlier value stays in the record."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Correct(field, value, reason))


@app.command(epilog="Example: complaintctl retract C-20261122-7K3QX2 4 --reason 'Noted on the wrong case'")
def retract(
    case_id: CaseId,
    event: Annotated[int, typer.Argument(help="The event's number, as 'show' lists it.", metavar="EVENT")],
    reason: Annotated[str, typer.Option(help="Why it was a mistake.")],
    at: At = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Take back a note recorded by mistake: it stays in the record, marked, and no clock counts it."""
    from complaintctl.core import events

    _run(root, actor, at, case_id, events.Retract(event, reason))


# ---------------------------------------------------------------- the team and the policy

team_app = typer.Typer(
    cls=Group,
    help="Change the team in policy.yaml as one audited commit (needs a policy role, in person).",
    epilog="Example: complaintctl team add bob@example.com --name 'Bob Li' --role agent --reason 'Joined'",
    no_args_is_help=True,
    rich_markup_mode=None,
)
policy_app = typer.Typer(
    cls=Group,
    help="Record hand edits of policy.yaml and templates/ as one audited commit.",
    epilog="Example: complaintctl policy commit --reason 'First reply within 24 h from December'",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(team_app, name="team")
app.add_typer(policy_app, name="policy")

Roles = Annotated[
    list[str],
    typer.Option("--role", help="A role from policy.yaml's roles. Repeatable.", show_default=False),
]
Reason = Annotated[str, typer.Option(help="Why (it goes into the commit).")]


@team_app.command(
    "add",
    epilog="Example: complaintctl team add bob@example.com --name 'Bob Li' --role agent --reason 'Joined'",
)
def team_add(
    member: Annotated[str, typer.Argument(help="The new member's id (their e-mail).", metavar="ID")],
    name: Annotated[str, typer.Option(help="Their name, as letters show it.")],
    role: Roles,
    reason: Reason,
    actor: As = None,
    root: Root = None,
) -> None:
    """Add a member to the team."""
    from complaintctl.service import policychanges

    typer.echo(policychanges.team_add(root, actor, member, name, role, reason))


@team_app.command(
    "remove", epilog="Example: complaintctl team remove bob@example.com --reason 'Left the company'"
)
def team_remove(
    member: Annotated[str, typer.Argument(help="The member's id.", metavar="ID")],
    reason: Reason,
    actor: As = None,
    root: Root = None,
) -> None:
    """Remove a member from the team (their cases keep them as owner until handed on)."""
    from complaintctl.service import policychanges

    typer.echo(policychanges.team_remove(root, actor, member, reason))


@team_app.command(
    "roles",
    epilog="Example: complaintctl team roles bob@example.com --role agent --role supervisor "
    "--reason 'Promoted'",
)
def team_roles(
    member: Annotated[str, typer.Argument(help="The member's id.", metavar="ID")],
    role: Roles,
    reason: Reason,
    actor: As = None,
    root: Root = None,
) -> None:
    """Set the roles a member holds."""
    from complaintctl.service import policychanges

    typer.echo(policychanges.team_roles(root, actor, member, role, reason))


@policy_app.command(
    "commit",
    epilog="Example: complaintctl policy commit --reason 'First reply within 24 h from December'",
)
def policy_commit(reason: Reason, actor: As = None, root: Root = None) -> None:
    """Check the edited policy.yaml and templates/ and record them as one commit."""
    from complaintctl.service import policychanges

    subject, _paths = policychanges.policy_commit(root, actor, reason)
    typer.echo(subject)


# ---------------------------------------------------------------- reading


@app.command(epilog="Example: complaintctl show C-20261122-7K3QX2")
def show(
    case_id: CaseId,
    fmt: Annotated[
        ShowFormat,
        _format_option(ShowFormat, "text, or json: the record and where it stands (docs/json.md)."),
    ] = ShowFormat.TEXT,
    as_json: JsonFlag = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Clocks and severity as of this time.")] = None,
    root: Root = None,
) -> None:
    """Show one case: who, what, state, severity, clocks, offers and every event."""
    from complaintctl.cli.text import show_json, show_text
    from complaintctl.service import reads

    fmt = _format(fmt, as_json)
    case, status = reads.case_status(root, case_id, as_of)
    typer.echo(show_json(case, status) if fmt is ShowFormat.JSON else show_text(case, status, _colour()))


def _say_skipped(problems: list[str], uncommitted: list[str]) -> None:
    """Unreadable files (the figures are incomplete) and files not on record."""
    from complaintctl.service import reads

    for problem in problems:
        typer.echo(f"complaintctl: skipped {problem}", err=True)
    note = reads.uncommitted_note(uncommitted)
    if note:
        typer.echo(f"complaintctl: {note}", err=True)


@app.command(
    "list",
    epilog="Example: complaintctl list --mine --overdue  (or: list --all --category billing "
    "--since 2026-11-01; list --search 'double charge')",
)
def list_(
    status: Annotated[
        list[str] | None, typer.Option(help="Only cases in this state (any state). Repeatable.")
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every case, closed ones too (default: open).")
    ] = False,
    mine: Annotated[bool, typer.Option("--mine", help="Only cases you own.")] = False,
    owner: Annotated[str | None, typer.Option(help="Only cases this person owns.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    severity: Annotated[str | None, typer.Option(help="Only this (effective) severity.")] = None,
    matter: Annotated[str | None, typer.Option(help="Only cases on this matter tag.")] = None,
    since: Annotated[str | None, typer.Option(help="Received at or after this time.")] = None,
    until: Annotated[str | None, typer.Option(help="Received before this time.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only cases past a time limit.")] = False,
    stalled: Annotated[bool, typer.Option("--stalled", help="Only stalled cases.")] = False,
    search: Annotated[
        str | None, typer.Option(help="Words that must all be in the summary, demand or matter.")
    ] = None,
    limit: Annotated[int, typer.Option(callback=_rows_limit, help="At most this many rows (0: all).")] = 50,
    wide: Annotated[bool, typer.Option("--wide", help="Do not cut summaries.")] = False,
    fmt: RowsFormatOption = RowsFormat.TABLE,
    as_json: JsonFlag = False,
    show_pii: Annotated[bool, typer.Option("--show-pii", help="Show customer names unmasked.")] = False,
    root: Root = None,
) -> None:
    """The queue: open cases, oldest received first (customer names masked); '!' marks an urgent case."""
    from complaintctl.service import reads

    if mine and owner:
        from complaintctl.errors import UsageError

        raise UsageError("--mine and --owner both name an owner", fix="give one of them")
    query = reads.ListQuery(
        status=tuple(status or ()),
        every=every,
        owner=reads.me(root) if mine else owner,
        category=category,
        severity=severity,
        matter=matter,
        since=since,
        until=until,
        overdue=overdue,
        stalled=stalled,
        search=search,
    )
    _print_rows(*reads.query_rows(root, query, limit), wide, _format(fmt, as_json), show_pii)


@app.command(epilog="Example: complaintctl customer 13812341234  (or an e-mail, or an account number)")
def customer(
    key: Annotated[str, typer.Argument(help="The customer's phone, e-mail or account number.")],
    limit: Annotated[int, typer.Option(callback=_rows_limit, help="At most this many rows (0: all).")] = 50,
    fmt: RowsFormatOption = RowsFormat.TABLE,
    as_json: JsonFlag = False,
    show_pii: Annotated[bool, typer.Option("--show-pii", help="Show customer names unmasked.")] = False,
    root: Root = None,
) -> None:
    """Every case of one customer, open or closed (found by phone, e-mail or account)."""
    from complaintctl.service import reads

    query = reads.ListQuery(customer=key)
    _print_rows(*reads.query_rows(root, query, limit), False, _format(fmt, as_json), show_pii)


def _print_rows(
    shown: Any,  # a sequence: the queue decodes only the rows shown
    total: int,
    problems: list[str],
    uncommitted: list[str],
    wide: bool,
    fmt: RowsFormat,
    show_pii: bool,
) -> None:
    from complaintctl.cli.text import batched, list_table, rows_output
    from complaintctl.service import reads

    _say_skipped(problems, uncommitted)
    if fmt is RowsFormat.TABLE:
        _echo_pieces(batched(list_table(shown, show_pii, wide, _colour())))
    else:
        _echo_pieces(rows_output(lambda: reads.each_public_row(shown, show_pii), fmt.value))
    if len(shown) < total:
        typer.echo(f"complaintctl: showing {len(shown)} of {total}; use --limit 0 for all", err=True)
    if problems:
        raise typer.Exit(1)


@app.command(epilog="Example: complaintctl log C-20261122-7K3QX2")
def log(
    case_id: CaseId,
    fmt: Annotated[LogFormat, _format_option(LogFormat, "table or json (docs/json.md).")] = LogFormat.TABLE,
    as_json: JsonFlag = False,
    root: Root = None,
) -> None:
    """The case's history as recorded in git: one line per commit."""
    from complaintctl.cli.text import log_json, log_table
    from complaintctl.service import reads

    case_id, entries = reads.history(root, case_id)
    typer.echo(log_json(case_id, entries) if _format(fmt, as_json) is LogFormat.JSON else log_table(entries))


@app.command(epilog="Example: complaintctl check && echo clean")
def check(root: Root = None) -> None:
    """Validate policy.yaml and every case file; silent and exit 0 when clean."""
    from complaintctl.service import admin

    problems = admin.check(root)
    for problem in problems:
        typer.echo(problem)
    for warning in admin.warnings(root):
        typer.echo(f"complaintctl: warning: {warning}", err=True)
    if problems:
        raise typer.Exit(1)


@app.command(epilog="Example: complaintctl repair  (after a crash; 'complaintctl check' lists what it fixes)")
def repair(root: Root = None) -> None:
    """Put cases/ and evidence/ back to the last commit after a crash, and remove stale git locks."""
    from complaintctl.service import admin

    done = admin.repair(root)
    typer.echo("\n".join(done) if done else "Nothing to repair: cases/ and evidence/ are as last committed.")


# ---------------------------------------------------------------- team


@app.command(
    epilog="Example: complaintctl setup  (in a fresh clone: git clone URL complaints && cd complaints)"
)
def setup(actor: As = None, root: Root = None) -> None:
    """Prepare a fresh clone for team work: git's merge driver for case files, 'git pull' merges."""
    from complaintctl.service import admin

    done = admin.setup(root, actor)
    for line in done:
        typer.echo(f"set {line}")
    if not done:
        typer.echo("Already set up: git's merge driver for case files, and 'git pull' merges.")


@app.command(
    epilog="Example: complaintctl sync  (after a conflict: complaintctl sync --keep-theirs C-20261122-7K3QX2)"
)
def sync(
    remote: Annotated[
        str | None, typer.Option(help="Remote to sync with (default: the branch's upstream, else origin).")
    ] = None,
    keep_ours: Annotated[
        list[str] | None,
        typer.Option(
            "--keep-ours", help="For a case whose two sides cannot both stand: keep ours. Repeatable."
        ),
    ] = None,
    keep_theirs: Annotated[
        list[str] | None,
        typer.Option("--keep-theirs", help="As --keep-ours, keeping the remote's version."),
    ] = None,
    actor: As = None,
    root: Root = None,
) -> None:
    """Fetch, merge concurrent changes case by case (events of both sides kept, in time order), push."""
    from complaintctl.service import admin

    out = admin.sync_workspace(root, actor, remote, keep_ours or (), keep_theirs or ())
    where = f"{out.remote}/{out.branch}"
    if not out.incoming and not out.pushed:
        typer.echo(f"Up to date with {where}.")
        return
    if out.incoming:
        typer.echo(f"In:  {out.incoming} commit(s) from {where}; cases: {_ids(out.cases_in)}")
    for case_id in out.merged:
        typer.echo(f"Merged concurrent changes on {case_id}")
    for kept in out.kept:
        case_id, side = kept.split()
        typer.echo(f"Kept {side} on {case_id}; the other side's events are listed in the merge commit")
    if out.pushed:
        typer.echo(f"Out: {out.outgoing} commit(s) to {where}; cases: {_ids(out.cases_out)}")
    if out.retries:
        typer.echo(f"(the push was retried {out.retries} time(s): others pushed first)")


def _ids(ids: list[str]) -> str:
    if not ids:
        return "none"
    return ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


@app.command(
    epilog="Example: complaintctl verify && echo 'history is sound'   "
    "(CI: complaintctl verify --since origin/main~100)"
)
def verify(
    since: Annotated[
        str | None, typer.Option(help="Check only commits after this one (default: the whole history).")
    ] = None,
    signatures: Annotated[
        bool,
        typer.Option(
            "--signatures", help="Also require a good signature from a key in the policy's allowed_signers."
        ),
    ] = False,
    root: Root = None,
) -> None:
    """Replay the history of cases/ and list every commit that breaks the record; silent when sound."""
    from complaintctl.service import admin

    findings = admin.verify(root, since, signatures)
    for line in findings:
        typer.echo(line)
    if findings:
        typer.echo(
            f"complaintctl: {len(findings)} problem(s) in the history of cases/ and the policy", err=True
        )
        raise typer.Exit(1)


@app.command(
    "merge-driver",
    hidden=True,
    epilog="Example: complaintctl merge-driver %O %A %B %P  (git calls it; see 'complaintctl setup')",
)
def merge_driver(
    base: Annotated[Path, typer.Argument(help="The common version (git's %O).")],
    ours: Annotated[Path, typer.Argument(help="Our version, overwritten with the result (%A).")],
    theirs: Annotated[Path, typer.Argument(help="Their version (%B).")],
    path: Annotated[str, typer.Argument(help="The case file's path in the repository (%P).")],
) -> None:
    """git's merge driver for case files: merge both sides' events, never write conflict markers."""
    from complaintctl.service import admin

    typer.echo(admin.merge_driver(base, ours, theirs, path), err=True)


# ---------------------------------------------------------------- reports and letters


def _write(output: Path, content: str | bytes, root: str | None) -> None:
    from complaintctl.errors import UsageError
    from complaintctl.service import admin

    if output.is_dir():  # '-o out/' or '-o ""' (the folder it is run in): not a file to write
        raise UsageError(f"-o {output} is a folder", fix="give a file name, e.g. -o out/FILE")
    admin.check_output(root, output)
    try:
        if isinstance(content, bytes):
            output.write_bytes(content)
        else:
            output.write_text(content, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}", fix="choose another -o path") from None
    typer.echo(f"Wrote {output}")


@app.command(
    epilog="Example: complaintctl report --since 2026-11-01 --until 2026-12-01 --format html -o november.html"
)
def report(
    since: Annotated[str | None, typer.Option(help="Period start (received/resolved on or after).")] = None,
    until: Annotated[str | None, typer.Option(help="Period end (before).")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Figures as of this time (default now).")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only cases this person owns.")] = None,
    severity: Annotated[str | None, typer.Option(help="Only this (effective) severity.")] = None,
    fmt: Annotated[
        ReportFormat,
        _format_option(
            ReportFormat,
            "table, markdown, csv, json, html (with charts) or xlsx (an Excel workbook; needs -o).",
        ),
    ] = ReportFormat.TABLE,
    as_json: JsonFlag = False,
    lang: Annotated[
        Lang, typer.Option("--lang", help="en or zh: titles, labels and months.", **_choice(Lang))
    ] = Lang.EN,
    bom: Annotated[
        bool | None,
        typer.Option(
            "--bom/--no-bom",
            help="With csv: start with a UTF-8 byte order mark, for Excel (default: on with -o FILE.csv).",
            show_default=False,
        ),
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="With csv: which table (default summary).")
    ] = None,
    cases: Annotated[
        bool, typer.Option("--cases", help="One line per case received in the scope, instead of figures.")
    ] = False,
    limit: Annotated[
        int, typer.Option(callback=_rows_limit, help="With --cases: at most this many rows (0: all).")
    ] = 50,
    show_pii: Annotated[bool, typer.Option("--show-pii", help="With --cases: show customer names.")] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")] = None,
    root: Root = None,
) -> None:
    """Figures a manager presents: volumes, times, limits, satisfaction, hot spots, trend."""
    from complaintctl.service import reporting

    fmt = _format(fmt, as_json)
    if fmt is ReportFormat.XLSX and (output is None or cases):
        from complaintctl.errors import UsageError

        raise UsageError("an Excel workbook is a file of figures", fix="give -o FILE.xlsx, without --cases")
    request = reporting.ReportRequest(since, until, as_of, category, owner, severity)
    text: str | bytes
    if cases:
        from complaintctl.cli.text import case_lines
        from complaintctl.service import reads

        rows, total, problems, uncommitted = reporting.case_rows(root, request, limit)
        pieces = case_lines(rows, total, show_pii, fmt.value, reads.each_public_row)
        if output is None:  # printed a piece at a time: 100k rows of JSON are not held as text
            _say_skipped(problems, uncommitted)
            _echo_pieces(pieces)
            _incomplete(problems)
            return
        text = "".join(pieces)
    else:
        with_bom = bom if bom is not None else (output is not None and output.suffix.lower() == ".csv")
        text, problems, uncommitted = reporting.report_text(root, request, fmt, table, lang.value, with_bom)
        if fmt in (ReportFormat.TABLE, ReportFormat.MARKDOWN) and isinstance(text, str):
            from complaintctl.cli.text import visible

            text = visible(text)  # lessons and matter tags are free text: a control code is shown
    _say_skipped(problems, uncommitted)
    if isinstance(text, bytes):
        assert output is not None
        _write(output, text, root)
    elif output is None:
        typer.echo(text)
    else:
        _write(output, text + ("" if text.endswith("\n") else "\n"), root)
    _incomplete(problems)


def _incomplete(problems: list[str]) -> None:
    """One rule with list and overdue: the figures are incomplete, exit 1."""
    if problems:
        typer.echo(
            f"complaintctl: {len(problems)} case file(s) left out; the figures are incomplete", err=True
        )
        raise typer.Exit(1)


def _echo_pieces(pieces: Iterable[str]) -> None:
    """Text made in pieces, printed as it comes, with one newline at the end."""
    for piece in pieces:
        typer.echo(piece, nl=False)
    typer.echo("")


@app.command(epilog="Example: complaintctl overdue --format github --warn")
def overdue(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Check as of this time (default now).")] = None,
    fmt: Annotated[
        OverdueFormat,
        _format_option(OverdueFormat, "text, json or github (Actions annotations)."),
    ] = OverdueFormat.TEXT,
    as_json: JsonFlag = False,
    warn: Annotated[bool, typer.Option("--warn", help="Also list clocks near their limit.")] = False,
    root: Root = None,
) -> None:
    """List open cases past a time limit (exit 1 if any); reads only, writes nothing."""
    from complaintctl.cli.text import overdue_output
    from complaintctl.service import reads

    items, problems, when, uncommitted = reads.overdue(root, as_of, warn)
    _say_skipped(problems, uncommitted)
    _echo_pieces(overdue_output(items, _format(fmt, as_json).value, when, problems, _colour()))
    if problems:  # one rule with list and report: name the files, say it, exit 1
        typer.echo(f"complaintctl: {len(problems)} case file(s) left out; the list is incomplete", err=True)
    if any(item["status"] == "breached" for item in items) or problems:
        raise typer.Exit(1)


@app.command(
    epilog="Example: complaintctl render C-20261122-7K3QX2 agreement --lang zh --format pdf -o agreement.pdf"
)
def render(
    case_id: CaseId,
    what: Annotated[
        Document,
        typer.Argument(help="agreement, reply (the latest draft) or summary.", **_choice(Document)),
    ],
    fmt: Annotated[DocFormat, _format_option(DocFormat, "html, markdown (md) or pdf.")] = DocFormat.HTML,
    lang: Annotated[Lang, typer.Option("--lang", help="en or zh.", **_choice(Lang))] = Lang.EN,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write to this file (default: stdout; pdf needs it)."),
    ] = None,
    show_pii: Annotated[
        bool, typer.Option("--show-pii", help="Summary: show customer data unmasked.")
    ] = False,
    root: Root = None,
) -> None:
    """Render a settlement agreement, a written reply or a case summary (HTML, Markdown or PDF)."""
    from complaintctl.errors import UsageError
    from complaintctl.service import letters

    if fmt is DocFormat.PDF and output is None:
        raise UsageError("a PDF is not for the terminal", fix="give -o FILE.pdf")
    result = letters.render(root, case_id, what, fmt, show_pii, lang)
    if output is None:
        sys.stdout.write(result if isinstance(result, str) else result.decode())
        return
    _write(output, result, root)


@app.command(
    epilog="Example: complaintctl completion bash > ~/.local/share/bash-completion/completions/complaintctl"
)
def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")],
) -> None:
    """Print the shell's completion script (commands, options and case ids)."""
    from typer._click.shell_completion import get_completion_class  # typer's own copy of click

    from complaintctl.errors import UsageError

    _completion_classes()
    found = get_completion_class(shell) if shell in ("bash", "zsh", "fish") else None
    if found is None:
        raise UsageError(f"no completion for the shell '{shell}'", fix="use bash, zsh or fish")
    typer.echo(found(typer.main.get_command(app), {}, "complaintctl", COMPLETE_VAR).source())


COMPLETE_VAR = start.COMPLETE_VAR


def _completion_classes() -> None:
    # Typer's own completion classes (they answer its 'complete_bash' calls);
    # registered only when completing, so other commands do not pay for them.
    from typer._completion_classes import completion_init

    completion_init()


def _command_name(args: list[str]) -> str | None:
    """The subcommand a command line runs (after the top-level options), if any."""
    words = iter(args)
    for word in words:
        if word == "-C":
            next(words, None)  # its folder
        elif word.startswith("-C") and len(word) > 2:
            continue
        elif word.startswith("-"):
            return None  # --help, --version, or a mistake: the full group answers
        else:
            return word
    return None


def _only(name: str | None) -> None:
    """Build only the command that runs: typer turns every registered
    function into a click command on each start (~1 ms a command, read from
    its signature); the rest are left out when the command line names one."""
    if name is None:
        return
    chosen = [
        info
        for info in app.registered_commands
        if (info.name or info.callback.__name__.lower().replace("_", "-")) == name  # type: ignore[union-attr]
    ]
    if chosen:  # an unknown name keeps them all, for click's "No such command"
        app.registered_commands = chosen


# What each option's value is, in --help ("--owner WHO", not "--owner <str>").
_METAVARS = {
    "root": "DIR",
    "at": "TIME",
    "as_of": "TIME",
    "since": "TIME",
    "until": "TIME",
    "actor": "WHO",
    "owner": "WHO",
    "to": "WHO",
    "by": "WHO",
    "signed_by": "WHO",
    "member": "WHO",
    "status": "STATE",
    "limit": "N",
    "output": "FILE",
    "evidence": "FILE",
    "file": "FILE",
    "search": "WORDS",
    "matter": "TAG",
    "severity": "LEVEL",
    "currency": "CODE",
    "due": "WHEN",
    "collective": "N",
    "satisfaction": "1-5",
    "charged": "AMOUNT",
    "due_amount": "AMOUNT",
    "reason": "TEXT",
    "summary": "TEXT",
    "demand": "TEXT",
    "terms": "TEXT",
    "customer": "NAME",
    "subject_staff": "WHO",
    "keep_ours": "CASE_ID",
    "keep_theirs": "CASE_ID",
    "policy": "FILE",
}


# Set by the start (cli/start.py) while it keeps a copy of what typer
# prints: called when the function of a command is about to run, after
# which the output is no longer the command line's alone.
on_command: Callable[[], None] | None = None
# False once an option of the command built reads the environment, prompts,
# or looks at the file system while it is parsed: then even help or a usage
# error may depend on more than the command line, and the start keeps none.
replayable = True
# Every command and option name of the commands built: the start keeps a
# command line only when each of its words is one of them (never a value).
names: set[str] = {"-h", "--help"}
# The top-level command names, in typer's order: what click's "No such
# command" and typer's "Did you mean" are made from (the start keeps them).
commands: list[str] = []


def _prepare(command: Any, top: bool = True) -> Any:
    """Name every value in --help (typer shows '<str>' for them all), and
    call ``on_command`` before any command's own function (the top-level
    callback, which only does -C, excepted)."""
    global replayable
    for name, sub in getattr(command, "commands", {}).items():
        names.add(name)
        if top:
            commands.append(name)
        _prepare(sub, top=False)
    for param in command.params:
        if param.param_type_name == "option":
            names.update(param.opts, param.secondary_opts)
        if param.metavar is None and not getattr(param, "is_flag", False):
            if param.param_type_name == "argument":
                param.metavar = param.name.upper()
            else:
                param.metavar = _METAVARS.get(param.name, param.name.upper())
        kind = param.type
        if (
            param.envvar
            or getattr(param, "prompt", None)
            or callable(param.default)
            or getattr(kind, "exists", False)
            or getattr(kind, "resolve_path", False)
            or type(kind).__name__ == "File"
        ):
            replayable = False
    if not top and command.callback is not None:
        command.callback = _announced(command.callback)
    return command


def _announced(callback: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        if on_command is not None:
            on_command()
        return callback(*args, **kwargs)

    return run


def main() -> None:
    if os.environ.get(COMPLETE_VAR):
        _completion_classes()
        app(prog_name="complaintctl")
        return
    if len(sys.argv) == 1:
        sys.argv.append("--help")  # 'complaintctl' alone: the help, exit 0
    _only(_command_name(sys.argv[1:]))
    try:
        # Not standalone: a bad top-level option ('complaintctl --bogus') is
        # said in one line here, as the Group says a subcommand's.
        command = _prepare(typer.main.get_command(app))  # what app() does, and the metavars
        code = command.main(prog_name="complaintctl", standalone_mode=False)
    except _ClickException as exc:
        _say_error(f"{_one_line(exc.format_message()).rstrip('.')}; see 'complaintctl --help'")
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, EOFError):
        sys.stderr.write(
            "complaintctl: interrupted; 'complaintctl check' says whether anything was left half-done\n"
        )
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
