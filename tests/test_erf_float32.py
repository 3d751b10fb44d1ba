"""erf and exact GELU in float32 use a cheaper rational approximation (for the speed of
pretrained models); it must stay within float32 precision of the true erf."""

import math

import numpy as np

from tutor.nn.functional import erf, gelu


def test_float32_erf_is_within_float32_precision_of_math_erf():
    x = np.linspace(-8, 8, 40_001).astype(np.float32)
    expected = np.array([math.erf(float(v)) for v in x])
    got = erf(x)
    assert got.dtype == np.float32
    assert np.max(np.abs(got - expected)) < 1.2e-7                      # two float32 steps at 1
    assert erf(np.float32(0.0)) == 0 and erf(np.float32(10.0)) == 1 and erf(np.float32(-10.0)) == -1


def test_float32_gelu_matches_the_float64_formula():
    x = np.linspace(-6, 6, 10_001).astype(np.float32)
    exact = gelu(x.astype(np.float64))                                 # float64: Cody's erf
    got = gelu(x)
    assert got.dtype == np.float32
    # |x|/2 times erf's error (< 7e-8, one float32 step of 1 + erf): at most 3e-7 for |x| <= 6
    np.testing.assert_allclose(got, exact, rtol=3e-7, atol=3e-7)


def test_float32_erf_and_gelu_are_the_same_in_blocks_and_one_by_one():
    # erf works through float32 arrays in blocks of _ERF_BLOCK elements: a value does not
    # depend on the block it falls in, on the array's layout, or on writing in place
    from tutor.nn import functional
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, functional._ERF_BLOCK // 2 + 7)) * 3).astype(np.float32)
    one_by_one = np.array([[erf(np.float32(v)) for v in row] for row in x])
    np.testing.assert_array_equal(erf(x), one_by_one)
    np.testing.assert_array_equal(erf(x.T), one_by_one.T)             # not contiguous
    inplace = x.copy()
    assert erf(inplace, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, one_by_one)
    expected = 0.5 * x * (1.0 + erf(x * np.float32(0.7071067811865476)))
    np.testing.assert_array_equal(gelu(x), expected)                   # the formula, to the bit
    assert gelu(x).dtype == np.float32 and gelu(np.float32(1.0)).dtype == np.float32
