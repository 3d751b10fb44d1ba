"""Worked arithmetic that adds up as printed: the decimals at which the numbers of a line,
rounded as shown, give the result shown (``1×0.1511 + 1×(-0.0259) = 0.13``, not
``1×0.15 + 1×(-0.026) = 0.13``)."""

from __future__ import annotations

from tutor.limits import MAX_PRECISION

from .document import format_number


def adding_up(precision: int, shown_result: str, combine, integral: bool = False) -> int:
    """The fewest decimals d (from ``precision`` up to MAX_PRECISION) at which the numbers of a
    worked line, shown with d decimals, give the ``shown_result`` when ``combine(d)`` does the
    line's arithmetic on the shown numbers (float(text) of each): so that '1×0.15 +
    1×(-0.026) = 0.13' becomes '1×0.154 + 1×(-0.026) = 0.13', a sum that adds up as printed."""
    for decimals in range(precision, max(precision, MAX_PRECISION) + 1):
        try:
            got = combine(decimals)
        except (ValueError, OverflowError):
            return precision
        if format_number(got, precision, integral) == shown_result:
            return decimals
    return max(precision, MAX_PRECISION)


def shown_value(value, decimals: int, integral: bool = False) -> float:
    """The number as a line shows it with ``decimals`` decimals."""
    return float(format_number(value, decimals, integral))
