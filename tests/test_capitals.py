"""Chinese capital numerals for amounts: a table of the hard cases."""

from __future__ import annotations

from decimal import Decimal

import pytest

from complaintctl.core.capitals import capitals


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0", "零元整"),
        ("0.05", "伍分"),
        ("0.50", "伍角整"),
        ("1", "壹元整"),
        ("10", "壹拾元整"),
        ("15", "壹拾伍元整"),
        ("100", "壹佰元整"),
        ("101", "壹佰零壹元整"),
        ("110", "壹佰壹拾元整"),
        ("561", "伍佰陆拾壹元整"),
        ("561.50", "伍佰陆拾壹元伍角整"),
        ("561.05", "伍佰陆拾壹元零伍分"),
        ("561.55", "伍佰陆拾壹元伍角伍分"),
        ("1000", "壹仟元整"),
        ("1001", "壹仟零壹元整"),
        ("1010", "壹仟零壹拾元整"),
        ("10000", "壹万元整"),
        ("10001", "壹万零壹元整"),
        ("10100", "壹万零壹佰元整"),
        ("11000", "壹万壹仟元整"),
        ("100000", "壹拾万元整"),
        ("1000000", "壹佰万元整"),
        ("1002000", "壹佰万零贰仟元整"),
        ("12345678.90", "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角整"),
        ("100000000", "壹亿元整"),
        ("100010000", "壹亿零壹万元整"),
        ("100000001", "壹亿零壹元整"),
        ("110000000.01", "壹亿壹仟万元零壹分"),
        ("240", "贰佰肆拾元整"),
    ],
)
def test_amounts_in_capitals(amount: str, words: str) -> None:
    assert capitals(Decimal(amount)) == words
