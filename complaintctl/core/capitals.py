"""Amounts in Chinese capital numerals (大写), as financial documents write
them beside the figures: 561.00 -> 伍佰陆拾壹元整, 100010000.05 ->
壹亿零壹万元零伍分. Pure; checked against a table of hard cases (zeros, 角/分,
整, the 万 and 亿 sections) in tests/test_capitals.py."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

DIGITS = "零壹贰叁肆伍陆柒捌玖"
PLACES = ("", "拾", "佰", "仟")
SECTIONS = ("", "万", "亿", "万亿")


def _group(number: int) -> str:
    """0 < number < 10000 in capitals, zeros inside collapsed to one 零."""
    out = ""
    zero = False
    for place in range(3, -1, -1):
        digit = number // 10**place % 10
        if digit == 0:
            zero = bool(out)  # a zero between digits is said once
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[digit] + PLACES[place]
    return out


def _whole(number: int) -> str:
    if number == 0:
        return ""
    groups = []
    while number:
        groups.append(number % 10000)
        number //= 10000
    if len(groups) > len(SECTIONS):
        raise ValueError("amount too large for capitals")
    out = ""
    zeros = False  # zero digits since the last one said: the next group starts with 零
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zeros = bool(out)
            continue
        if out and (zeros or group < 1000):
            out += "零"
        out += _group(group) + SECTIONS[index]
        zeros = group % 10 == 0  # 壹佰万零贰仟: the 十万 and 万 places were zero
    return out


def capitals(amount: Decimal) -> str:
    """The amount (yuan, two decimals) in capitals, ending 整 when there are no 分."""
    if amount < 0:
        raise ValueError("negative amount")
    cents = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    out = _whole(yuan)
    if out:
        out += "元"
    if jiao:
        out += DIGITS[jiao] + "角"
    elif fen and out:
        out += "零"  # 伍佰元零伍分
    if fen:
        out += DIGITS[fen] + "分"
    if not out:
        return "零元整"
    return out if fen else out + "整"
