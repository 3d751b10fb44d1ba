"""How the renderers write numbers (render/document.format_number, the worked lines and the
sentences about them): every number printed keeps enough significant digits to be true (never 0
for a non-zero value, scientific notation where needed), worked lines write signs as a reader
would, and no sentence states what the numbers on screen contradict."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_helpers import invoke
from tutor.render.document import format_number

# a minus sign right after an operator: '1 + -0.10', '1 × -1.31', '2 − -1'
OPERATOR_THEN_MINUS = re.compile(r"[+−×÷] -\d")


def flat(text):
    """The output as one line of words: panel borders and line breaks removed."""
    return " ".join(text.replace("│", " ").split())


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
       st.integers(min_value=0, max_value=10))
def test_a_printed_number_is_true_to_two_significant_digits_or_the_precision(value, precision):
    text = format_number(value, precision)
    shown = float(text)
    if value == 0:
        assert shown == 0
        return
    assert shown != 0, (value, precision, text)                       # never reads as zero
    assert np.sign(shown) == np.sign(value) or shown == 0
    error = abs(shown - value)
    # within half a unit of the precision asked for, or of the second significant digit
    assert error <= 0.5 * 10.0 ** -precision * (1 + 1e-9) or error <= 0.05 * abs(value) * (1 + 1e-9), \
        (value, precision, text)


def test_small_and_large_numbers_switch_to_scientific_notation():
    assert format_number(1e-6, 2) == "1.0e-06"
    assert format_number(0.000123, 2) == "1.2e-04"
    assert format_number(0.0025, 2) == "0.0025"
    assert format_number(1.5e12, 2) == "1.5e+12"
    assert format_number(0.5, 0) == "0.5"
    assert format_number(0.576, 0) == "0.58"
    assert format_number(2.37, 0) == "2.4"
    assert format_number(0.42231, 2) == "0.42"                         # unchanged where true
    assert format_number(0.0099998, 2) == "0.010"


def test_a_zero_that_is_a_significant_digit_is_kept():
    # trial finding 10: 0.0403 was shown as '0.04' and 0.0498 as '0.05', next to '0.043'
    assert format_number(0.0403, 2) == "0.040"
    assert format_number(0.04027, 2) == "0.040"
    assert format_number(0.0498, 2) == "0.050"
    assert format_number(0.04979, 2) == "0.050"
    assert format_number(0.0099998, 2) == "0.010"                     # PE(1)'s sin 0.01
    assert format_number(-0.0403, 1) == "-0.040"
    assert format_number(0.0010004, 2) == "0.0010"
    # an exact value keeps its short form: its end zeros say nothing
    assert format_number(0.08, 2) == "0.08"
    assert format_number(0.5, 0) == "0.5"
    assert format_number(0.001, 2) == "0.001"


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=1e-4, max_value=1e4),
       st.integers(min_value=0, max_value=6))
def test_a_shown_number_has_two_significant_digits_unless_it_is_exact(value, precision):
    text = format_number(value, precision)
    if "e" in text:
        return
    digits = text.lstrip("-").replace(".", "").lstrip("0")
    assert len(digits) >= 2 or float(text) == value, (value, precision, text)


def test_percent_never_claims_all_or_nothing_falsely():
    from tutor.render.document import percent

    assert percent(0.7311) == "73.1%"
    assert percent(1.0) == "100.0%"
    assert percent(0.99999) == "more than 99.9%"
    assert percent(1e-5) == "less than 0.1%"
    assert percent(0.0) == "0.0%"


def test_the_row_sum_caption_follows_the_rows():
    from tutor.render.document import row_sum_caption

    assert row_sum_caption(np.array([[0.5, 0.5], [1.0, 0.0]])) == "each row sums to 1"
    assert "except rows with every key masked" in row_sum_caption(np.array([[0.5, 0.5], [0, 0]]))


def test_precision_0_keeps_weights_and_worked_lines_true():
    out = flat(invoke("attention", "the cat sat", "--precision", "0", "--step", "5").output)
    assert "= 1 / 2.4 = 0.42" in out                     # was '1 / 2 = 0'
    assert "0.21 ▂ 0.21 ▂ 0.58" in out.replace("▂", " ▂").replace("▅", " ▂").replace("  ", " ") \
        or ("0.21" in out and "0.58" in out)
    assert "sat → sat (0.58)" in out                      # not '(1)' for a weight of 0.58
    two = flat(invoke("attention", "the the", "--precision", "0", "--step", "5").output)
    assert "= 1 / 2 = 0.5" in two                         # the learner's '1 / 2 = 0'


def test_the_residual_worked_line_writes_a_negative_term_as_a_subtraction():
    out = flat(invoke("layernorm", "1,2,3,4", "--residual").output)
    assert "r1 = 1 − 0.10 = 0.90" in out                  # was '1 + -0.10'
    assert "1 × (-1.31) + 0 = -1.31" in out
    assert not OPERATOR_THEN_MINUS.search(out)


@pytest.mark.parametrize("args", [
    ["layernorm", "1,2,3,4", "--residual"],
    ["layernorm", "--residual", "--sublayer", "-3,1,-2,4", "--", "-1,-2,-3,-4"],
    ["layernorm", "--gamma", "-1,2,-3,1", "--beta", "-0.5,0,1,-2", "--", "-1,-2,-3,-4"],
    ["layernorm", "--batch", "1,-2;3,-4;-5,1"],
    ["softmax", "-6", "-4", "-1"],
    ["softmax", "6", "4", "--scale", "-0.5"],
    ["attention", "the cat sat", "--wq", "random", "--wk", "random", "--wv", "random", "--causal"],
    ["multihead", "the cat sat on the mat", "--heads", "2", "--wq", "random", "--wk", "random",
     "--wv", "random"],
    ["posenc", "--sentence", "the cat", "--embed", "the=-1,-2,-3,-4", "--embed", "cat=-1,0,-1,0"],
])
def test_no_worked_line_puts_a_minus_sign_after_an_operator(args):
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert not OPERATOR_THEN_MINUS.search(flat(result.output)), \
        OPERATOR_THEN_MINUS.search(flat(result.output))


def test_tiny_numbers_are_shown_and_variance_1_is_not_claimed_when_epsilon_dominates():
    out = flat(invoke("layernorm", "0.000001,0.000002,0.000003,0.000004").output)
    assert "μ = (1.0e-06 + 2.0e-06 + 3.0e-06 + 4.0e-06) / 4 = 2.5e-06" in out
    assert "0.00" not in out.replace("0.000", "")          # no 0.00 standing for 1e-6
    assert "variance 1" not in out
    assert "their variance is σ²/(σ² + ε) = 1.2e-07, not 1" in out
    usual = flat(invoke("layernorm", "1,2,3,4").output)
    assert "mean 0 and variance 1 (up to ε)" in usual


def test_equal_numbers_are_said_to_normalise_to_zeros():
    out = flat(invoke("layernorm", "2,2,2,2").output)
    assert "have mean 0 and variance 1" not in out and "every one of n is 0" in out


def test_softmax_does_not_call_an_underflowed_weight_positive():
    out = flat(invoke("softmax", "0", "-800").output)
    assert "The weights are positive" not in out
    assert "comes out as exactly 0, as here" in out
    near = flat(invoke("softmax", "0", "-12").output)
    assert "x1 gets more than 99.9% of the weight" in near
    assert "The weights are positive and add up to 1. x1 gets 73.1%" in \
        flat(invoke("softmax", "2", "1").output)


def test_a_negative_scale_is_said_to_reverse_the_order():
    out = flat(invoke("softmax", "6", "4", "--scale", "-0.5").output)
    assert "is negative: it turns the order around" in out


def test_scaling_says_about_the_same_only_when_the_numbers_are():
    from tutor.render.builder import DocumentBuilder
    from tutor.render.scaling import _steady

    w = DocumentBuilder(None, 2)
    steady = _steady(w, "the largest weight", np.array([0.36, 0.37]), np.array([0.4, 0.95]), 1000)
    assert steady == ": the largest weight stays about the same as dk grows."
    moving = _steady(w, "the largest weight", np.array([0.5, 0.8]), np.array([0.5, 1.0]), 10)
    assert "about the same" not in moving
    assert "goes from 0.50 to 0.80 scaled, from 0.50 to 1.00 unscaled" in moving
    assert "noisy" in moving


def test_the_unscaled_sentence_names_the_softmax_step_by_its_real_number():
    from tutor.render.multihead import _split_step
    from tutor.render.attention import attention_document
    from tutor.walkthroughs.attention import self_attention

    x = np.array([[1.0, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]])
    eye = np.eye(4)
    for after, heads in ((None, 1), (_split_step, 2)):
        rec = self_attention(["the", "cat", "sat"], x, eye, eye, eye, eye if heads > 1 else None,
                             heads=heads, scaled=False)
        doc = attention_document(rec.trace, rec.tokens, **rec.info, after_inputs=after)
        softmax = next(s for s in doc.steps if s.key == "softmax")
        scaled = next(s for s in doc.steps if s.key == "scaled")
        assert f"Step {softmax.number} compares" in scaled.parts[0].meaning, heads


def test_worked_differences_keep_the_digits_where_the_numbers_differ():
    from tutor.render.document import difference_precision

    assert difference_precision([1.0, 2.0], 2.5, 2) == 2                 # nothing to add
    assert difference_precision([1.0], 1.00000025, 2) == 8
    out = flat(invoke("layernorm", "1,1.000001,1,1").output)
    assert "n1 = (1 − 1.00000025) / √(1.9e-13 + 1e-05) = -7.9e-05" in out   # not (1 − 1.00)
    assert "(1 − 1.00)" not in out


def test_a_tiny_loss_on_the_curve_is_not_written_0():
    from tutor.render.curves import loss_curve

    rows = loss_curve([1e-3, 1e-5, 2e-6] * 4, width=12, height=3)
    assert rows[-3].lstrip().startswith("2.000e-06 ┤")          # was "  0.0000 ┤"
    assert len({row.index("┤") if "┤" in row else row.index("│") for row in rows[:-2]}) == 1


def test_train_never_reports_a_loss_of_0_0000_or_a_false_100_percent():
    from tutor.cli.train import _loss, _share

    assert _loss(0.25) == "0.2500" and _loss(2e-6) == "2.000e-06"        # was 0.0000
    assert _share(0.9996) == "more than 99.9%" and _share(1.0) == "100.0%"   # was 100.0%
