"""Whether a replica's items follow its info type's standard layout (データ標準レイアウト).

Used by the intermediate server before it keeps a replica, and by ``ipnsim validate replica``
offline, so both find exactly the same problems.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from network.protocol.layouts import InfoType, ValueType

_INTEGER = re.compile(r"-?[0-9]+")
_CODE = re.compile(r"[0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class LayoutProblem:
    """One way a replica departs from the layout: RPL006 (layout version) or RPL004 (item)."""

    code: str
    item: str
    problem: str


def value_fits(value_type: ValueType, value: str) -> bool:
    """Whether a value is written as its item's type requires."""
    if value_type is ValueType.INTEGER:
        return _INTEGER.fullmatch(value) is not None
    if value_type is ValueType.CODE:
        return _CODE.fullmatch(value) is not None
    if value_type is ValueType.DATE:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    return True


def layout_problems(
    info_type: InfoType,
    layout_version: int,
    items: Iterable[tuple[str, str | None, str | None]],
) -> list[LayoutProblem]:
    """Every problem of a replica's ``(code, value, reason_of_null)`` items, in this order: the
    layout version, item codes the layout does not define, then the layout's items in layout
    order that are missing or have a value of the wrong type."""
    problems: list[LayoutProblem] = []
    if layout_version != info_type.layout_version:
        problems.append(
            LayoutProblem(
                "RPL006",
                "layout_version",
                f"version {layout_version} given; the current layout version is "
                f"{info_type.layout_version}",
            )
        )
    given = {code: value for code, value, _reason in items}
    known = {item.code for item in info_type.items}
    problems.extend(
        LayoutProblem("RPL004", code, "not an item of this info type")
        for code in given
        if code not in known
    )
    for expected in info_type.items:
        if expected.code not in given:
            problems.append(
                LayoutProblem("RPL004", expected.code, "missing; give a value or reason_of_null")
            )
            continue
        value = given[expected.code]
        if value is not None and not value_fits(expected.value_type, value):
            problems.append(
                LayoutProblem("RPL004", expected.code, f"not a valid {expected.value_type.value}")
            )
    return problems
