"""`tutor rmsnorm`: RMSNorm on a vector step by step, beside layer norm on the same numbers."""

from __future__ import annotations

import click

from tutor.errors import number_text

from tutor.limits import MAX_VECTOR

from .common import calculator_options, tutor_command
from .output import show_document
from .usage import usage_error
from .values import check_finite, parse_vector

EPILOG = f"""\b
A vector is numbers split by commas or spaces ("1,2,3,4"), at most {MAX_VECTOR}.
RMSNorm(x) = x / √(mean(x²) + ε) ⊙ g (LLaMA, SmolLM2); layer norm beside it.

\b
Examples:
  tutor rmsnorm "1,2,3,4"                     mean square, divide, scale
  tutor rmsnorm "1,2,3,4" --gain "2,2,1,1"    a learned gain g
  tutor rmsnorm "5,6,7,8" --eps 0             a mean far from 0
"""


@tutor_command(EPILOG)
@click.argument("vector", required=False)
@click.option("--gain", default=None, metavar="VEC",
              help="The gain g, one per entry. [default: 1s]")
@click.option("--eps", type=float, default=1e-5, show_default=True, metavar="E",
              help="ε inside the square root (≥ 0).")
@calculator_options(seed=False)
def rmsnorm(vector, gain, eps, step, output):
    """Show RMSNorm of VECTOR beside layer norm: what dropping the mean changes and saves."""
    import numpy as np

    from tutor.render.modern import rmsnorm_document
    from tutor.walkthroughs.modern import rmsnorm_beside_layer_norm

    check_finite("--eps", eps)
    if eps < 0:
        raise usage_error("--eps", f"expected a number ≥ 0, got {number_text(eps)}")
    if vector is None:
        raise usage_error("VECTOR", "expected numbers such as \"1,2,3,4\", got nothing")
    x = parse_vector("VECTOR", vector)                                    # [d]
    g = parse_vector("--gain", gain, len(x)) if gain is not None else np.ones(len(x))
    if eps == 0 and not np.any(x):
        raise usage_error("VECTOR", "expected a number other than 0 when --eps is 0 "
                                    "(0 / √0 is undefined), got only zeros")
    recording = rmsnorm_beside_layer_norm(x, g, eps)
    show_document(output, rmsnorm_document(recording.trace, precision=output.precision, eps=eps),
                  step=step)
