"""Answers: the accepted number forms (decimal comma, percentages, fractions, negatives), the
tolerance that matches what is displayed, and per-choice feedback."""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tutor.lessons.answers import (AnswerError, accepted_within, check_choice, check_number,
                                   feedback_problems, parse_number)


# --- number forms ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("42%", 0.42), (" 42 % ", 0.42), ("-5%", -0.05), ("12.5%", 0.125), ("0,5%", 0.005),
    ("0,42", 0.42), ("-0,42", -0.42), (",5", 0.5), ("12,5", 12.5), ("0,425", 0.425),
    ("1,0000", 1.0), ("1000,5", 1000.5),
    ("1,5/3", 0.5), ("-3/4", -0.75), ("3/-4", -0.75), ("−0.5", -0.5), ("−1/2", -0.5),
    ("+2", 2.0), ("-0", 0.0),
])
def test_number_forms(text, value):
    assert parse_number(text) == pytest.approx(value, abs=1e-15)


@pytest.mark.parametrize("text, message", [
    ("1,000", "expected 1.000 or 1000"),                 # a thousands separator or decimals?
    ("1,234.5", "one decimal mark"),
    ("0,42, 0,58", "one number"),                         # answers are never lists
    ("1,2,3", "one number"),
    ("1/2%", "not both"),
    ("%", "expected a number"),
    ("42%%", "expected a number"),
    ("−inf", "finite"),
    ("1e999%", "finite"),
])
def test_refused_forms_say_what_was_expected(text, message):
    with pytest.raises(AnswerError, match=message) as info:
        parse_number(text)
    assert repr(text.strip()) in str(info.value) or "1.000" in str(info.value)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_decimal_comma_and_percent_read_back_what_was_written(value):
    for decimals in (1, 2, 4, 5):
        written = f"{value:.{decimals}f}"
        assert parse_number(written.replace(".", ",")) == float(written)
        assert parse_number("−" + written.lstrip("-")) == -abs(float(written))
    assert parse_number(f"{value:.2f}%") == pytest.approx(float(f"{value:.2f}") / 100,
                                                          rel=1e-15, abs=1e-300)


# --- tolerance matching the display ----------------------------------------------------------

def test_defaults_are_todays_rule():
    assert accepted_within(0.4236, 0.005) == 0.005
    assert check_number("0.4286", 0.4236, 0.005).correct                # inclusive
    assert not check_number("0.43", 0.4236, 0.005).correct              # 0.0064 away
    verdict = check_number("0.43", 0.4236, 0.005)
    assert verdict.within == 0.005 and verdict.tolerance == 0.005


def test_working_from_shown_two_decimal_values_is_accepted():
    # A residual x + f(x) asked about while x and f(x) are shown to two decimals.
    x, fx = 0.4249, 0.5749                                     # shown as 0.42 and 0.57
    true = x + fx                                              # 0.9998, shown as 1.00
    from_display = f"{round(x, 2) + round(fx, 2):.2f}"          # 0.99: off by 0.0098
    assert not check_number(from_display, true, 0.005).correct          # today: refused
    assert check_number(from_display, true, 0.005, shown_decimals=2).correct
    # Reading a shown value is always within half a unit.
    assert check_number(f"{0.4236:.2f}", 0.4236, 0.005, shown_decimals=2).correct
    # Two units off is still wrong.
    assert not check_number("0.98", true, 0.005, shown_decimals=2).correct
    assert accepted_within(true, 0.005, shown_decimals=2) == pytest.approx(0.01)
    assert accepted_within(true, 0.05, shown_decimals=2) == 0.05       # never narrows


def test_every_two_decimal_reading_and_sum_of_two_is_accepted():
    rng = np.random.default_rng(0)
    for a, b in rng.uniform(-3, 3, size=(2000, 2)):
        assert check_number(f"{a:.2f}", a, 0.005, shown_decimals=2).correct
        assert check_number(f"{round(a, 2) + round(b, 2):.2f}", a + b, 0.005,
                            shown_decimals=2).correct


def test_a_question_that_asks_for_more_than_is_shown_keeps_its_tolerance():
    value = math.cos(0.01)                                     # 0.99995, shown as 1.00
    assert not check_number("0.995", value, 0.00002).correct           # the notes' misprint
    assert check_number("0.99995", value, 0.00002).correct
    # shown_decimals=2 would accept the misprint: that is why it is opt-in per question.
    assert check_number("0.995", value, 0.00002, shown_decimals=2).correct
    assert not check_number("0.995", value, 0.00002, shown_decimals=5).correct


def test_relative_tolerance_for_large_values():
    assert check_number("101", 100.0, 0.005, rel_tolerance=0.01).correct
    assert not check_number("102", 100.0, 0.005, rel_tolerance=0.01).correct
    assert not check_number("0.011", 0.01, 0.0005, rel_tolerance=0.01).correct


@pytest.mark.parametrize("kwargs", [{"shown_decimals": 0}, {"shown_decimals": 11},
                                    {"shown_decimals": 2.0}, {"shown_decimals": True},
                                    {"rel_tolerance": -0.1}])
def test_bad_checker_settings_are_lesson_errors(kwargs):
    with pytest.raises(ValueError, match="expected"):
        check_number("1", 1.0, 0.005, **kwargs)


def test_accepted_forms_are_checked_like_numbers():
    assert check_number("42%", 0.4223, 0.005).correct
    assert check_number("0,42", 0.4223, 0.005).correct
    assert check_number("-1/2", -0.5, 0.005).correct
    assert check_number("3/7", 3 / 7, 1e-12).correct


def test_a_slip_gets_a_note_and_stays_wrong():
    sign = check_number("0.42", -0.4223, 0.005)
    assert not sign.correct and "sign" in sign.note
    percent = check_number("42", 0.4223, 0.005)
    assert not percent.correct and "42%" in percent.note and "0.42" in percent.note
    hundredth = check_number("42%", 42.0, 0.005)                      # wants percent points
    assert not hundredth.correct and "this question wants 42" in hundredth.note
    plain = check_number("0.7", 0.4223, 0.005)
    assert not plain.correct and plain.note == ""
    assert check_number("0.42", 0.4223, 0.005).note == ""


# --- choices and their feedback --------------------------------------------------------------

TIE = ["SAT alone", "THE and SAT, tied", "CAT alone", "all three equally"]
FEEDBACK = {"a": "THE scores SAT 2, but THE scores itself 2 as well: a tie.",
            "C": "THE·CAT = 0, the lowest of THE's scores."}


def test_a_wrong_choice_names_what_was_wrong_with_it():
    verdict = check_choice("a", len(TIE), 1, feedback=FEEDBACK)
    assert not verdict.correct and verdict.chosen == 0 and verdict.letter == "a"
    assert verdict.note == FEEDBACK["a"]
    assert check_choice("3", len(TIE), 1, feedback=FEEDBACK).note == FEEDBACK["C"]  # any case
    assert check_choice("d", len(TIE), 1, feedback=FEEDBACK).note == ""     # no note for d
    right = check_choice("B)", len(TIE), 1, feedback=FEEDBACK)
    assert right.correct and right.note == "" and right.letter == "b"
    assert check_choice("a", len(TIE), 1).note == ""                          # no feedback
    with pytest.raises(AnswerError, match="from a to d"):
        check_choice("e", len(TIE), 1, feedback=FEEDBACK)


def test_feedback_tables_are_validated():
    assert feedback_problems(FEEDBACK, len(TIE), 1) == []
    problems = feedback_problems({"b": "x", "e": "y", "a": " "}, len(TIE), 1)
    assert any("'b' is the correct choice" in p for p in problems)
    assert any("from a to d, got 'e'" in p for p in problems)
    assert any("non-empty note for 'a'" in p for p in problems)
    assert "expected a table" in feedback_problems(["a"], len(TIE), 1)[0]
