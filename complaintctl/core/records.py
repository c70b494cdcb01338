"""Case records as plain data: ids, paths, times, money, and the file schema.

No I/O here. A case is a mapping as parsed from its YAML file; ``validate_case``
checks it against the schema and the policy and raises ``validate.Invalid``
with the key path of the first problem.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from complaintctl.core import validate as v
from complaintctl.core.policy import COMMANDS, Policy
from complaintctl.core.times import parse_time
from complaintctl.errors import NotFoundError, UsageError

SCHEMA = 1

# Crockford base32: no I, L, O, U, so an id read out on the phone is unambiguous.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_RE = re.compile(r"^C-(\d{4})(\d{2})(\d{2})-([0-9A-HJKMNP-TV-Z]{6})$")
_AMOUNT_RE = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
_PHONE_RE = re.compile(r"^\+?[0-9(][0-9 ()-]{3,22}[0-9]$")
_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]+$")

CASE_KEYS_REQUIRED = (
    "schema",
    "id",
    "state",
    "severity",
    "urgent",
    "tier",
    "owner",
    "channel",
    "category",
    "opened_at",
    "opened_by",
    "customer",
    "summary",
    "events",
)
CASE_KEYS_OPTIONAL = (
    "demand",
    "matter",
    "cause",
    "flags",
    "related",
    "subject_staff",
    "repeat_of",
    "cap",
    "reopen_reason",
    "offers",
    "resolution",
    "executed",
    "closed_at",
    "satisfaction",
    "measures",
)
CUSTOMER_KEYS = ("name", "phone", "email", "address", "account")
EVENT_KEYS = (
    "at",
    "by",
    "action",
    "from",
    "to",
    "kind",
    "channel",
    "text",
    "offer",
    "resolution",
    "executed",
    "satisfaction",
    "unreachable",
    "tier_from",
    "tier_to",
    "assignee",
    "reason",
    "signed_by",
    "severity",
    "severity_from",
    "set",
    "evidence",
    "letter",
    "draft",
    "signoff",
    "field",
    "value",
    "was",
    "retracts",
    "owner_from",
    "measure",
    "responsible",
    "due_at",
    "told",
)
MEASURE_KEYS = ("no", "offer", "text", "by", "due", "status")
OFFER_KEYS = ("no", "amount", "currency", "kind", "terms", "status", "at", "by")
OFFER_OPTIONAL = ("bottom_line", "charged", "due", "arithmetic", "approved_by", "not_overcharge")
OFFER_STATUSES = ("pending-approval", "open", "accepted", "refused", "withdrawn", "superseded")
# (Made once: validate_case checks every event of every case of a cold build.)
_EVENT_REQUIRED = EVENT_KEYS[:3]
_EVENT_OPTIONAL = EVENT_KEYS[3:]
_CUSTOMER_OPTIONAL = CUSTOMER_KEYS[1:]
_ACTIONS = ("open", "severity", *COMMANDS)  # the lifecycle's commands, 'open' and the rules' rise


# cases/YYYY/MM/<id>.yaml, the folder being the id's year and month.
CASE_PATH_RE = re.compile(r"^cases/(\d{4})/(\d{2})/(C-\1\2\d{2}-[0-9A-HJKMNP-TV-Z]{6})\.yaml$")


def is_case_path(rel: str) -> bool:
    """A path (from the workspace root) where a case file belongs."""
    return CASE_PATH_RE.match(rel) is not None


def _folded(text: Any) -> str:
    """As typed on any keyboard: full-width forms (an input method's ＡＣ１２)
    as their plain letters and digits, and upper and lower case alike."""
    import unicodedata

    return unicodedata.normalize("NFKC", str(text)).strip().casefold()


def customer_keys(customer: Mapping[str, Any]) -> set[str]:
    """What identifies a customer across cases: phone digits, e-mail, and
    account (its letters and digits: 'AC-778 899' is 'ac778899')."""
    keys = set()
    if customer.get("phone"):
        keys.add("phone:" + "".join(c for c in _folded(customer["phone"]) if c.isdigit())[-11:])
    if customer.get("email"):
        keys.add("email:" + _folded(customer["email"]))
    if customer.get("account"):
        keys.add("account:" + "".join(c for c in _folded(customer["account"]) if c.isalnum()))
    return keys


def matter_key(tag: str) -> str:
    """A matter tag as cases are grouped by it: 'Lift-B2 ' and 'lift-b2' are one matter."""
    return " ".join(_folded(tag).split())


def customer_identity(keys: Iterable[str], name: str) -> frozenset[str]:
    """Who a customer is when counting people: their keys, else the name as given."""
    return frozenset(keys) or frozenset({"name:" + name})


def new_id(opened: datetime) -> str:
    import secrets  # only 'open' makes ids (its import pulls in hmac and random)

    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    return f"C-{opened:%Y%m%d}-{suffix}"


def normalise_id(text: str) -> str:
    """Accept 'c-20261122-7k3qx2' as typed; refuse anything that is not an id."""
    candidate = text.strip().upper()
    if not ID_RE.match(candidate):
        raise NotFoundError(
            f"'{text}' is not a case id",
            fix="ids look like C-20261122-7K3QX2; run 'complaintctl list' to find one",
        )
    return candidate


def case_relpath(case_id: str) -> str:
    """cases/YYYY/MM/<id>.yaml: sharded so a commit rewrites small trees."""
    m = ID_RE.match(case_id)
    assert m, case_id
    return f"cases/{m.group(1)}/{m.group(2)}/{case_id}.yaml"


def money(amount: str, currency: str, policy: Policy) -> Decimal:
    """Exact amount in the currency's own decimal places; never a float."""
    if currency not in policy.currencies:
        raise UsageError(
            f"unknown currency '{currency}'",
            fix=f"use one of: {', '.join(policy.currencies)} (policy.yaml: currencies)",
        )
    places = policy.currencies[currency]
    text = amount.strip()
    if text.startswith("-") and _AMOUNT_RE.fullmatch(text[1:]):
        raise UsageError(f"amount '{amount}' must be zero or more", fix="write it like 240.00")
    if not _AMOUNT_RE.fullmatch(text):
        if not any(c.isdigit() for c in text):
            raise UsageError(f"amount '{amount}' is not a number", fix="write it like 240.00")
        # '2,40' is 2.40 in much of Europe and 240 in China: guess neither.
        why = (
            "use '.' for the decimals and no thousands separators"
            if all(c.isdigit() or c in ".,_ '" for c in text)
            else "write digits 0-9 and at most one '.'"
        )
        raise UsageError(f"amount '{amount}' is not a plain number", fix=f"{why}, like 1200.50")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"amount '{amount}' is not a number", fix="write it like 240.00") from None
    if not value.is_finite():
        raise UsageError(f"amount '{amount}' is not a number", fix="write it like 240.00")
    if value < 0:
        raise UsageError(f"amount '{amount}' must be zero or more", fix="write it like 240.00")
    if value >= Decimal(10) ** 15:
        raise UsageError(f"amount '{amount}' is too large", fix="check the amount")
    quantum = Decimal(1).scaleb(-places)
    if value != value.quantize(quantum):
        raise UsageError(
            f"amount '{amount}' has more than {places} decimal places for {currency}",
            fix=f"round it to {places} places",
        )
    return value.quantize(quantum)


def require_text(value: str, option: str, fix: str) -> None:
    """Refuse an empty (or blank) text option, in one message form."""
    if not value.strip():
        raise UsageError(f"{option} is empty", fix=fix)


def refuse_blank(value: str | None, option: str) -> None:
    """An optional text given blank is refused: as a filter it picked
    everything, as a field it said nothing."""
    if value is not None:
        require_text(value, option, f"leave {option} out or give it a value")


def check_text(value: str, what: str) -> str:
    """Text is stored as given, except control characters: YAML cannot keep
    some of them (U+0085 comes back as a space) and none belongs in a record."""
    for char in value:
        if char not in "\t\n\r" and unicodedata.category(char) == "Cc":
            raise UsageError(
                f"{what} contains the control character U+{ord(char):04X}",
                fix="remove it (tabs and line breaks are fine)",
            )
    return value


def check_phone(phone: str) -> str:
    if not _PHONE_RE.match(phone) or sum(c.isdigit() for c in phone) < 5:
        raise UsageError(
            f"phone '{phone}' does not look like a phone number",
            fix="use digits, spaces, dashes, brackets and an optional leading +",
        )
    return phone


def check_email(email: str) -> str:
    if not _EMAIL_RE.match(email):
        raise UsageError(
            f"e-mail '{email}' does not look like an address", fix="write it like name@example.com"
        )
    return email


def _time(value: Any, path: v.Path) -> str:
    _when(value, path)
    return str(value)


def _when(value: Any, path: v.Path) -> datetime:
    try:
        return parse_time(v.string(value, path))
    except ValueError:
        v.fail(
            path,
            f"{v.dotted(path)} is not a time with an offset",
            "write 2026-11-22T09:30:00+08:00",
        )


def validate_case(data: Any, policy: Policy, expected_id: str | None = None) -> Mapping[str, Any]:
    case = v.mapping(data, ())
    v.keys(case, (), CASE_KEYS_REQUIRED, CASE_KEYS_OPTIONAL)
    schema = v.integer(case["schema"], ("schema",))
    if schema != SCHEMA:
        v.fail(
            ("schema",),
            f"case schema {schema} is not supported",
            f"this complaintctl reads {SCHEMA}",
        )
    case_id = v.string(case["id"], ("id",))
    if not ID_RE.match(case_id):
        v.fail(("id",), f"'{case_id}' is not a case id", "ids look like C-20261122-7K3QX2")
    if expected_id is not None and case_id != expected_id:
        v.fail(("id",), f"id '{case_id}' does not match the file name", f"set id: {expected_id}")
    v.choice(case["state"], ("state",), policy.states, "state")
    v.choice(case["severity"], ("severity",), policy.severities, "severity")
    v.boolean(case["urgent"], ("urgent",))
    v.choice(case["tier"], ("tier",), policy.tier_names, "tier")
    v.string(case["owner"], ("owner",))
    v.choice(case["channel"], ("channel",), policy.channels, "channel")
    v.choice(case["category"], ("category",), policy.categories, "category")
    _time(case["opened_at"], ("opened_at",))
    v.string(case["opened_by"], ("opened_by",))
    customer = v.mapping(case["customer"], ("customer",))
    v.keys(customer, ("customer",), ("name",), _CUSTOMER_OPTIONAL)
    v.string(customer["name"], ("customer", "name"))
    for key in _CUSTOMER_OPTIONAL:
        if key in customer:
            v.string(customer[key], ("customer", key))
    v.string(case["summary"], ("summary",))
    v.opt_string(case.get("matter"), ("matter",))
    if case.get("cause") is not None:
        v.choice(case["cause"], ("cause",), ("internal", "external", "unknown"), "cause")
    if case.get("flags") is not None:
        flags = v.mapping(case["flags"], ("flags",))
        v.keys(flags, ("flags",), (), ("risk", "lawsuit", "media", "outside", "collective"))
        for key in ("risk", "lawsuit", "media", "outside"):
            if key in flags:
                v.boolean(flags[key], ("flags", key))
        if "collective" in flags:
            v.integer(flags["collective"], ("flags", "collective"), low=2)
    if case.get("related") is not None:
        v.strings(case["related"], ("related",))
    v.opt_string(case.get("demand"), ("demand",))
    if "subject_staff" in case:
        v.strings(case["subject_staff"], ("subject_staff",))
    for key in ("repeat_of", "reopen_reason", "resolution"):
        v.opt_string(case.get(key), (key,))
    if case.get("resolution") is not None:
        v.choice(case["resolution"], ("resolution",), policy.resolutions, "resolution")
    if case.get("closed_at") is not None:
        _time(case["closed_at"], ("closed_at",))
    if case.get("executed") is not None:
        v.boolean(case["executed"], ("executed",))
    if case.get("satisfaction") is not None:
        v.integer(case["satisfaction"], ("satisfaction",), low=1, high=5)
    if "cap" in case:
        cap = v.mapping(case["cap"], ("cap",))
        v.keys(cap, ("cap",), ("amount", "currency", "case", "offer", "status"), ())
        for key in ("amount", "case"):
            v.string(cap[key], ("cap", key))
        v.choice(cap["currency"], ("cap", "currency"), policy.currencies, "currency")
        v.integer(cap["offer"], ("cap", "offer"), low=1)
        v.choice(cap["status"], ("cap", "status"), ("refused", "withdrawn"), "offer status")
    for i, raw in enumerate(v.seq(case.get("offers", []), ("offers",))):
        path: v.Path = ("offers", i)
        offer = v.mapping(raw, path)
        v.keys(offer, path, OFFER_KEYS, OFFER_OPTIONAL)
        if "bottom_line" in offer:
            v.boolean(offer["bottom_line"], (*path, "bottom_line"))
        for key in ("charged", "due", "arithmetic", "approved_by", "not_overcharge"):
            if key in offer:
                v.string(offer[key], (*path, key))
        v.integer(offer["no"], (*path, "no"), low=1)
        currency = v.choice(offer["currency"], (*path, "currency"), policy.currencies, "currency")
        try:
            money(v.string(offer["amount"], (*path, "amount")), currency, policy)
        except UsageError as exc:
            v.fail((*path, "amount"), exc.what, "write the amount as text, like '240.00'")
        v.choice(offer["kind"], (*path, "kind"), policy.offer_kinds, "offer kind")
        v.string(offer["terms"], (*path, "terms"))
        v.choice(offer["status"], (*path, "status"), OFFER_STATUSES, "offer status")
        _time(offer["at"], (*path, "at"))
        v.string(offer["by"], (*path, "by"))
    for i, raw in enumerate(v.seq(case.get("measures", []), ("measures",))):
        mpath: v.Path = ("measures", i)
        measure = v.mapping(raw, mpath)
        v.keys(measure, mpath, MEASURE_KEYS, ("done_at", "done_by"))
        v.integer(measure["no"], (*mpath, "no"), low=1)
        v.integer(measure["offer"], (*mpath, "offer"), low=1)
        for key in ("text", "by"):
            v.string(measure[key], (*mpath, key))
        _time(measure["due"], (*mpath, "due"))
        v.choice(measure["status"], (*mpath, "status"), ("open", "done"), "measure status")
        if "done_at" in measure:
            _time(measure["done_at"], (*mpath, "done_at"))
    events = v.seq(case["events"], ("events",))
    if not events:
        v.fail(("events",), "a case has at least its 'open' event", "restore the events list")
    previous: datetime | None = None
    for i, raw in enumerate(events):
        path = ("events", i)
        event = v.mapping(raw, path)
        v.keys(event, path, _EVENT_REQUIRED, _EVENT_OPTIONAL)
        at = _when(event["at"], (*path, "at"))
        if previous is not None and at < previous:
            v.fail((*path, "at"), "event is earlier than the one before it", "events are in time order")
        previous = at
        v.string(event["by"], (*path, "by"))
        # Commands of the lifecycle, plus 'open' and the rise the rules record.
        v.choice(event["action"], (*path, "action"), _ACTIONS, "action")
    return case


def has_escapes(text: str) -> bool:
    """Whether YAML text can hold a control character: the YAML reader
    refuses them raw (but U+0085), so only an escape (\\e, \\x1b) makes one."""
    return "\\" in text or "\x85" in text


def no_control_characters(data: Any, path: v.Path = ()) -> None:
    """A hand-edited case may not hold control characters (a terminal escape
    in a summary would run on every screen that shows it)."""
    if isinstance(data, str):
        for char in data:
            if char not in "\t\n\r" and unicodedata.category(char) == "Cc":
                v.fail(
                    path,
                    f"{v.dotted(path)} contains the control character U+{ord(char):04X}",
                    "restore the file as last recorded ('complaintctl repair', or git log -- FILE)",
                )
    elif isinstance(data, Mapping):
        for key, value in data.items():
            no_control_characters(value, (*path, str(key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            no_control_characters(value, (*path, i))
