"""Reading a learner's answer and checking it against the engine's value."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class AnswerError(ValueError):
    """An answer that is not a number (or not a choice); the message says what was expected."""


def parse_number(text: str) -> float:
    """'0.42', '-3', '1e-3', '3/7', '-1/2' -> a finite float; NaN, inf and x/0 are refused."""
    raw = text.strip()
    if raw.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise AnswerError(f"expected a finite number, got {raw!r}")
    parts = [p.strip() for p in raw.split("/")]
    if len(parts) > 2 or not all(NUMBER.match(p) for p in parts):
        raise AnswerError(f"expected a number such as 0.42 or a fraction such as 3/7, "
                          f"got {raw!r}")
    if len(parts) == 2:
        numerator, denominator = float(parts[0]), float(parts[1])
        if denominator == 0:
            raise AnswerError(f"expected a fraction with a non-zero denominator, got {raw!r}")
        value = numerator / denominator
    else:
        value = float(parts[0])
    if not math.isfinite(value):
        raise AnswerError(f"expected a finite number, got {raw!r}")
    return value


def parse_choice(text: str, n_choices: int) -> int:
    """'b', 'B', 'b)' or '2' -> 1 (0-based index)."""
    raw = text.strip().lower().rstrip(").")
    last = chr(ord("a") + n_choices - 1)
    if len(raw) == 1 and "a" <= raw <= last:
        return ord(raw) - ord("a")
    if raw.isdigit() and 1 <= int(raw) <= n_choices:
        return int(raw) - 1
    raise AnswerError(f"expected a choice from a to {last} (or 1 to {n_choices}), "
                      f"got {text.strip()!r}")


def decimals_for(tolerance: float) -> int:
    """Enough decimals to show a value checked to ``tolerance``: 0.005 -> 4."""
    return max(2, min(10, math.ceil(-math.log10(tolerance)) + 1))


def format_value(value: float, tolerance: float) -> str:
    if float(value).is_integer() and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.{decimals_for(tolerance)}f}"


@dataclass
class Verdict:
    correct: bool
    given: float
    expected: float
    tolerance: float


def check_number(text: str, expected: float, tolerance: float) -> Verdict:
    """Right when |given - expected| <= tolerance (raises AnswerError for a non-number)."""
    given = parse_number(text)
    return Verdict(abs(given - expected) <= tolerance * (1 + 1e-9), given, expected, tolerance)
