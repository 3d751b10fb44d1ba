"""tutor.nn.analysis against closed forms."""

import math

import numpy as np
import pytest

from tutor.nn import analysis
from tutor.trace import Trace


def test_softmax_of_6_4_is_the_notes_example_with_each_step_recorded():
    t = Trace()
    out = analysis.softmax_with_temperature(np.array([6.0, 4.0]), trace=t)
    e2 = math.exp(-2)
    np.testing.assert_allclose(out, [1 / (1 + e2), e2 / (1 + e2)], rtol=1e-15)
    np.testing.assert_allclose(out, [0.8808, 0.1192], atol=5e-5)
    np.testing.assert_array_equal(t["softmax.shifted"], [0.0, -2.0])
    np.testing.assert_allclose(t["softmax.exp"], [1.0, e2])
    np.testing.assert_allclose(t["softmax.sum"], [1 + e2])


@pytest.mark.parametrize("scale, temperature", [(0.5, 1.0), (1.0, 2.0), (2.0, 0.5), (1.0, 100.0)])
def test_scale_and_temperature_divide_the_difference(scale, temperature):
    out = analysis.softmax_with_temperature(np.array([6.0, 4.0]), scale=scale,
                                            temperature=temperature)
    gap = 2.0 * scale / temperature                  # softmax([a, b])_0 = 1 / (1 + e^-(a-b))
    np.testing.assert_allclose(out[0], 1 / (1 + math.exp(-gap)), rtol=1e-14)


def test_jacobian_norm_matches_the_explicit_jacobian():
    rng = np.random.default_rng(0)
    for n in (2, 3, 7):
        p = rng.dirichlet(np.ones(n))
        jac = np.diag(p) - np.outer(p, p)
        assert analysis.softmax_jacobian_norm(p) == pytest.approx(np.linalg.norm(jac), rel=1e-12)
    assert analysis.softmax_jacobian_norm(np.array([1.0, 0.0, 0.0])) == 0.0
    n = 4                                                      # uniform: sqrt(n-1)/n
    assert analysis.softmax_jacobian_norm(np.full(n, 1 / n)) == pytest.approx(math.sqrt(n - 1) / n)


def test_scaling_statistics_spread_grows_like_sqrt_dk_and_scaling_keeps_balance():
    t = Trace()
    table = analysis.scaling_statistics([4, 64, 512], np.random.default_rng(1), n_samples=4000,
                                        trace=t)
    assert table.shape == (3, 7)
    np.testing.assert_allclose(table[:, 1], [2, 8, math.sqrt(512)])
    np.testing.assert_allclose(table[:, 2], table[:, 1], rtol=0.06)     # std(q·k) ≈ sqrt(dk)
    assert table[2, 3] > 0.9                                            # unscaled saturates
    assert table[2, 5] < 0.1                                            # ... and its gradient vanishes
    np.testing.assert_allclose(table[:, 4], table[0, 4], rtol=0.1)      # scaled: same for every dk
    assert np.all(table[:, 6] > 0.3)
    assert t["dk64.dots"].shape == (4000,)
    assert float(t["dk64.std"]) == table[1, 2]


def test_add_and_norm_adds_the_sublayers_own_input():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    f = np.array([0.5, -0.5, 0.0, 1.0])
    t = Trace()
    out = analysis.add_and_norm(x, f, eps=0.0, trace=t)
    resid = x + f
    np.testing.assert_array_equal(t["add"], resid)
    np.testing.assert_allclose(out, (resid - resid.mean()) / resid.std(), rtol=1e-14)


def test_multi_head_attention_records_the_blocks_each_head_uses():
    from tutor.nn.attention import multi_head_attention_xw

    w = np.arange(12.0).reshape(3, 4) / 10
    x = np.eye(3)
    t = Trace()
    multi_head_attention_xw(x, x, w, w, w, np.eye(4), 2, trace=t)
    np.testing.assert_array_equal(t["head1.w_q"], w[:, 2:])
    np.testing.assert_array_equal(t["head0.w_q"], w[:, :2])
    np.testing.assert_array_equal(t["head0.q"], x @ w[:, :2])          # the block it used


def test_next_token_distribution_is_softmax_of_dot_products():
    e = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    h = np.array([2.0, 0.0])
    t = Trace()
    p = analysis.next_token_distribution(h, e, trace=t)
    np.testing.assert_array_equal(t["logits"], [2.0, 0.0, 2.0])
    np.testing.assert_allclose(p, np.array([np.e ** 2, 1, np.e ** 2]) / (2 * np.e ** 2 + 1))


def test_row_permutation_finds_a_reordering_or_none():
    a = np.array([[1.0, 0], [0, 1], [2, 2]])
    perm = analysis.row_permutation(a, a[[2, 0, 1]])
    np.testing.assert_array_equal(perm, [2, 0, 1])
    assert analysis.row_permutation(a, a + 1e-3) is None
    assert analysis.row_permutation(a, a[:2]) is None


def test_importing_analysis_does_not_import_click_or_rich():
    import subprocess
    import sys
    code = ("import sys, tutor.nn.analysis; "
            "print([m for m in ('click', 'rich') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
