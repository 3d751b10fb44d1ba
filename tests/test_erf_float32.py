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
