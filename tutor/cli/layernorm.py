"""`tutor layernorm`: layer norm on a vector step by step, batch norm beside it on a matrix,
and add & norm."""

from __future__ import annotations

import click

from tutor.limits import MAX_VECTOR

from .common import calculator_options, tutor_command
from .matrix_specs import MATRIX
from .output import show_document
from .usage import shape_text, usage_error
from .values import check_finite, parse_vector, rng_for

EPILOG = f"""\b
Vectors are numbers split by commas or spaces ("1,2,3,4"), at most {MAX_VECTOR};
--batch is a matrix, rows split by ';' (or a .npy/.json/.csv file).

\b
Examples:
  tutor layernorm "1,2,3,4"                         mean, variance, normalise
  tutor layernorm "1,2,3,4" --gamma "2,2,2,2" --beta "0,0,1,1"
  tutor layernorm --batch "1,2,3;4,5,6;7,8,10"    batch norm beside layer norm
  tutor layernorm "1,2,3,4" --residual            add & norm, random sublayer
  tutor layernorm "1,2,3,4" --residual --sublayer "0.5,0,0,-0.5"
"""


@tutor_command(EPILOG)
@click.argument("vector", required=False)
@click.option("--gamma", default=None, metavar="VEC", help="Scale γ, one per entry. [default: 1s]")
@click.option("--beta", default=None, metavar="VEC", help="Shift β, one per entry. [default: 0s]")
@click.option("--eps", type=float, default=1e-5, show_default=True, metavar="E",
              help="ε inside the square root (≥ 0).")
@click.option("--batch", type=MATRIX, default=None, metavar="MATRIX",
              help="A matrix: layer norm per row beside batch norm per column.")
@click.option("--residual", is_flag=True,
              help="Add & norm: VECTOR is the sublayer's input, added to its output first.")
@click.option("--sublayer", default=None, metavar="VEC",
              help="The sublayer's output for --residual. [default: random from --seed]")
@calculator_options()
def layernorm(vector, gamma, beta, eps, batch, residual, sublayer, step, seed, output):
    """Show layer normalisation of VECTOR: mean, variance, normalise, scale and shift."""
    import numpy as np

    from tutor.render.norm import batch_document, layernorm_document
    from tutor.walkthroughs import norm
    from tutor.walkthroughs.inputs import random_tenths

    check_finite("--eps", eps, minimum=0.0)
    if sublayer is not None and not residual:
        raise usage_error("--sublayer", "expected --residual with it")
    if batch is not None:
        if vector is not None:
            raise usage_error("--batch", "expected either VECTOR or --batch, got both")
        if residual:
            raise usage_error("--residual", "expected a VECTOR, not --batch")
        if batch.array is None:
            raise usage_error("--batch", f"expected a matrix, got '{batch.text}'")
        x = batch.array                                                   # [n, d]
        if x.shape[0] < 2:
            raise usage_error("--batch", f"expected at least 2 rows (a batch), got a "
                                         f"{shape_text(x.shape)} matrix")
        d = x.shape[1]
    else:
        if vector is None:
            raise usage_error("VECTOR", "expected numbers such as \"1,2,3,4\" (or --batch), "
                                        "got nothing")
        x = parse_vector("VECTOR", vector)                                # [d]
        d = len(x)
    g = parse_vector("--gamma", gamma, d) if gamma is not None else np.ones(d)
    b = parse_vector("--beta", beta, d) if beta is not None else np.zeros(d)
    if batch is not None:
        recording = norm.batch_beside_layer_norm(x, g, b, eps)
        doc = batch_document(recording.trace, precision=output.precision, eps=eps)
    elif residual:
        if sublayer is not None:
            f = parse_vector("--sublayer", sublayer, d)                   # [d]
        else:
            f = random_tenths(rng_for(seed, "--sublayer"), d)             # [d]
        recording = norm.add_and_norm(x, f, g, b, eps)
        doc = layernorm_document(recording.trace, precision=output.precision, eps=eps,
                                 residual=True, has_affine=gamma is not None or beta is not None)
    else:
        recording = norm.layer_norm_steps(x, g, b, eps)
        doc = layernorm_document(recording.trace, precision=output.precision, eps=eps,
                                 residual=False, has_affine=gamma is not None or beta is not None)
    show_document(output, doc, step=step)
