"""Reading a learner's answer and checking it against the engine's value.

Numbers (:func:`parse_number`)
    ``0.42``, ``.5``, ``-3``, ``+2``, ``1e-3``; a minus sign typed as ``−`` (U+2212);
    a decimal comma (``0,42``); a percentage (``42%`` is 0.42); a fraction (``3/7``,
    ``-1/2``, ``1,5/3``). An answer is always ONE number (no lesson asks for a list), so a
    comma between digits is a decimal mark; ``1,000`` is refused as ambiguous (a thousands
    separator or a decimal comma?), and so is a number with both ``,`` and ``.``.

Tolerance (:func:`check_number`, :func:`accepted_within`)
    An answer is right when ``|given - expected| <= max(tolerance, unit, rel_tolerance *
    |expected|)`` where ``unit = 10**-shown_decimals`` when the lesson shows the numbers the
    question is about with ``shown_decimals`` decimals, else 0 (today's behaviour). One unit
    in the last shown place covers a learner who reads a shown value (the shown value is at
    most half a unit from the true one) or adds or subtracts two shown values (at most one
    unit): with two decimals, reading 0.42 for 0.4236 and 0.42 + 0.58 for 0.9953 are both
    right. Longer chains of arithmetic on rounded numbers need a larger ``tolerance`` or a
    ``rel_tolerance`` in the lesson.
    Pass ``shown_decimals`` only for questions answered from the display: a question that
    asks for more decimals than are shown (PE(1)[d4] = cos 0.01 = 0.99995 "to five
    decimals", shown as 1.00) must keep None, or the misprint 0.995 would be accepted.
    Whole numbers are shown exactly; pass None for them too.

Choices (:func:`check_choice`)
    ``b``, ``B``, ``b)`` or ``2``. A lesson may give ``feedback``, a note per wrong choice
    keyed by its letter (``{"a": "THE scores SAT 2, but it scores itself 2 as well: a
    tie."}``); a wrong choice then comes back with its note, shown to the learner to say
    what was wrong with it. :func:`feedback_problems` validates such a table (for the lesson
    loader / ``tutor lesson check``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from tutor.errors import quote

NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
DECIMAL_COMMA = re.compile(r"^([+-]?\d*),(\d+)$")        # 0,42  -,5  12,5 (never 1,2,3)
AMBIGUOUS_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2},\d{3}$")   # 1,000: thousands or decimals?
MINUS_SIGNS = ("\u2212", "\u2013")                        # − (minus sign), – (en dash)
MAX_SHOWN_DECIMALS = 10


class AnswerError(ValueError):
    """An answer that is not a number (or not a choice); the message says what was expected."""


def _plain_number(part: str, raw: str) -> float:
    """One number without '/' or '%': '0.42', '0,42', '-3', '1e-3'."""
    if "," in part:
        if "." in part:
            raise AnswerError(f"expected one decimal mark (0.42 or 0,42), got {quote(raw)}")
        if AMBIGUOUS_COMMA.match(part):
            whole, decimals = part.split(",")
            raise AnswerError(f"expected {whole}.{decimals} or {whole}{decimals} (the comma "
                              f"in {quote(raw)} could be either)")
        match = DECIMAL_COMMA.match(part)
        if not match:
            raise AnswerError(f"expected one number such as 0,42 (a comma is a decimal mark), "
                              f"got {quote(raw)}")
        part = f"{match.group(1)}.{match.group(2)}"
    if not NUMBER.match(part):
        raise AnswerError(f"expected a number such as 0.42 or a fraction such as 3/7, "
                          f"got {quote(raw)}")
    return float(part)


def parse_number(text: str) -> float:
    """'0.42', '0,42', '42%', '-3', '−3', '1e-3', '3/7', '-1/2' -> a finite float.

    Raises AnswerError (with the text given) for anything else, for NaN and infinities, for
    x/0, for an ambiguous comma ('1,000') and for a percentage of a fraction ('1/2%').
    """
    raw = text.strip()
    body = raw
    for minus in MINUS_SIGNS:
        body = body.replace(minus, "-")
    if body.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise AnswerError(f"expected a finite number, got {quote(raw)}")
    percent = body.endswith("%")
    if percent:
        body = body[:-1].rstrip()
    parts = [p.strip() for p in body.split("/")]
    if len(parts) > 2:
        raise AnswerError(f"expected a number such as 0.42 or a fraction such as 3/7, "
                          f"got {quote(raw)}")
    if percent and len(parts) == 2:
        raise AnswerError(f"expected a percentage such as 42% or a fraction such as 3/7, "
                          f"not both, got {quote(raw)}")
    numbers = [_plain_number(p, raw) for p in parts]
    if len(numbers) == 2:
        numerator, denominator = numbers
        if denominator == 0:
            raise AnswerError(f"expected a fraction with a non-zero denominator, got {quote(raw)}")
        value = numerator / denominator
    else:
        value = numbers[0] / 100 if percent else numbers[0]
    if not math.isfinite(value):
        raise AnswerError(f"expected a finite number, got {quote(raw)}")
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
                      f"got {quote(text.strip())}")


def decimals_for(tolerance: float) -> int:
    """Enough decimals to show a value checked to ``tolerance``: 0.005 -> 4."""
    return max(2, min(10, math.ceil(-math.log10(tolerance)) + 1))


def format_value(value: float, tolerance: float) -> str:
    if float(value).is_integer() and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.{decimals_for(tolerance)}f}"


def accepted_within(expected: float, tolerance: float, *, shown_decimals: int | None = None,
                    rel_tolerance: float = 0.0) -> float:
    """The largest accepted |given - expected|: max(tolerance, 10**-shown_decimals,
    rel_tolerance * |expected|) (the module docstring gives the reasons).

    ``tolerance`` is absolute, in the units of the value; ``shown_decimals`` is None (the
    value is shown exactly, or the question asks for more than is shown) or 1 to 10.
    Raises ValueError for a negative tolerance or an out-of-range ``shown_decimals`` (a
    mistake in the lesson, not the learner's).
    """
    if not (tolerance >= 0 and rel_tolerance >= 0):
        raise ValueError(f"expected tolerances >= 0, got tolerance={tolerance!r}, "
                         f"rel_tolerance={rel_tolerance!r}")
    within = max(tolerance, rel_tolerance * abs(expected))
    if shown_decimals is not None:
        if isinstance(shown_decimals, bool) or not isinstance(shown_decimals, int) \
                or not 1 <= shown_decimals <= MAX_SHOWN_DECIMALS:
            raise ValueError(f"expected shown_decimals from 1 to {MAX_SHOWN_DECIMALS} or None, "
                             f"got {shown_decimals!r}")
        within = max(within, 10.0 ** -shown_decimals)
    return within


@dataclass
class Verdict:
    correct: bool
    given: float
    expected: float
    tolerance: float              # the lesson's tolerance, as passed
    within: float = 0.0           # what was accepted: accepted_within(...)
    note: str = ""                # for a wrong answer that looks like a slip (sign, percent)


def _slip(given: float, expected: float, within: float) -> str:
    """A note for a wrong answer that is right up to a common slip (the sign, a factor of
    100 from percentages), else ''."""
    if expected != 0 and abs(-given - expected) <= within * (1 + 1e-9):
        return "the size is right but the sign is not"
    if expected != 0 and abs(given / 100 - expected) <= within * (1 + 1e-9):
        return (f"that is 100 times the value: as a percentage write {given:g}%, "
                f"as a number {given / 100:g}")
    if expected != 0 and abs(given * 100 - expected) <= within * (1 + 1e-9):
        return (f"that is a hundredth of the value ({given:g} = {100 * given:g}%); this "
                f"question wants {100 * given:g}")
    return ""


def check_number(text: str, expected: float, tolerance: float, *,
                 shown_decimals: int | None = None, rel_tolerance: float = 0.0) -> Verdict:
    """Right when |given - expected| <= accepted_within(expected, tolerance, shown_decimals=..,
    rel_tolerance=..); with the defaults that is |given - expected| <= tolerance, as before.

    Raises AnswerError for text that is not a number (see :func:`parse_number`).
    """
    given = parse_number(text)
    within = accepted_within(expected, tolerance, shown_decimals=shown_decimals,
                             rel_tolerance=rel_tolerance)
    correct = abs(given - expected) <= within * (1 + 1e-9)
    return Verdict(correct, given, expected, tolerance, within,
                   "" if correct else _slip(given, expected, within))


@dataclass
class ChoiceVerdict:
    correct: bool
    chosen: int                   # 0-based index of the learner's choice
    letter: str                   # its letter, 'a', 'b', ...
    note: str = ""                # the lesson's feedback for this wrong choice, or ''


def check_choice(text: str, n_choices: int, correct_index: int, *,
                 feedback: Mapping[str, str] | None = None) -> ChoiceVerdict:
    """Parse a choice and compare it with ``correct_index`` (0-based).

    ``feedback`` (optional) maps a wrong choice's letter (any case) to a note saying what is
    wrong with it; a wrong choice with a note returns it in ``note``. Raises AnswerError for
    text that is not a choice (see :func:`parse_choice`).
    """
    chosen = parse_choice(text, n_choices)
    letter = chr(ord("a") + chosen)
    correct = chosen == correct_index
    note = ""
    if not correct and feedback:
        notes = {str(key).strip().lower(): value for key, value in feedback.items()}
        note = str(notes.get(letter, "")).strip()
    return ChoiceVerdict(correct, chosen, letter, note)


def feedback_problems(feedback, n_choices: int, correct_index: int) -> list[str]:
    """What is wrong with a choice question's ``feedback`` table, as messages ([] if fine):
    keys must be letters of wrong choices, values non-empty text."""
    if not isinstance(feedback, Mapping):
        return [f"feedback: expected a table of notes by choice letter, "
                f"got {type(feedback).__name__}"]
    last = chr(ord("a") + n_choices - 1)
    problems = []
    for key, note in feedback.items():
        letter = str(key).strip().lower()
        if len(letter) != 1 or not "a" <= letter <= last:
            problems.append(f"feedback: expected choice letters from a to {last}, got {key!r}")
        elif ord(letter) - ord("a") == correct_index:
            problems.append(f"feedback: {key!r} is the correct choice; say why in 'explain'")
        if not isinstance(note, str) or not note.strip():
            problems.append(f"feedback: expected a non-empty note for {key!r}")
    return problems
