"""Pure: masking of customer personal data for anything that leaves the team."""

from __future__ import annotations

import re

# In free text: an e-mail address; a phone, card or ID number (7 digits or
# more, in groups split by spaces or dashes; an ID may end in X). A date
# (2026-11-20) is no one's number.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"(?<![0-9A-Za-z.])\+?[0-9](?:[ -]?[0-9]){6,}[Xx]?(?![0-9A-Za-z])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def mask_name(name: str) -> str:
    """'张三' -> '张*', 'Li Wei' -> 'L* W**'."""
    parts = name.split()
    if len(parts) > 1:
        return " ".join(p[0] + "*" * (len(p) - 1) for p in parts)
    return name[:1] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str) -> str:
    """'13812341234' -> '138****1234': keep 3 first and 4 last digits."""
    digits = [i for i, c in enumerate(phone) if c.isdigit()]
    keep = set(digits[-2:]) if len(digits) <= 7 else set(digits[:3] + digits[-4:])
    return "".join(c if (i in keep or not c.isdigit()) else "*" for i, c in enumerate(phone))


def mask_email(email: str) -> str:
    """'wang.li@example.com' -> 'w******@example.com'."""
    local, _, domain = email.partition("@")
    return local[:1] + "*" * max(len(local) - 1, 1) + "@" + domain


def mask_text(text: str) -> str:
    """Addresses and account numbers: keep the first 3 characters."""
    return text[:3] + "*" * max(len(text) - 3, 3)


def mask_customer(customer: dict[str, str]) -> dict[str, str]:
    out = dict(customer)
    if "name" in out:
        out["name"] = mask_name(out["name"])
    if out.get("phone"):
        out["phone"] = mask_phone(out["phone"])
    if out.get("email"):
        out["email"] = mask_email(out["email"])
    for key in ("address", "account"):
        if out.get(key):
            out[key] = mask_text(out[key])
    return out


def mask_free_text(text: str, name: str | None = None) -> str:
    """A summary, demand or note as it may leave the team: the customer's
    name, and any e-mail address and phone, card or ID number in it, masked
    ('客户张三丰电话13812341234' -> '客户张**电话138****1234')."""
    if name and len(name.strip()) >= 2:
        text = text.replace(name.strip(), mask_name(name.strip()))
    text = _EMAIL.sub(lambda m: mask_email(m[0]), text)
    return _NUMBER.sub(lambda m: m[0] if _DATE.match(m[0]) else mask_phone(m[0]), text)
