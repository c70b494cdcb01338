"""Pure: masking of customer personal data for anything that leaves the team."""

from __future__ import annotations


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
