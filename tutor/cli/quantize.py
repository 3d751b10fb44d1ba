"""`tutor quantize`: GGML block quantization (Q8_0, Q4_1) of the learner's numbers: scale,
minimum, codes, reconstruction, error; bits per weight and SmolLM2's memory."""

from __future__ import annotations

import click

from tutor.limits import MAX_VECTOR

from .common import calculator_options, tutor_command
from .output import show_document
from .usage import usage_error
from .values import parse_vector

EPILOG = f"""\b
Numbers split by commas or spaces, at most {MAX_VECTOR}, quantized in blocks
of 32 as llama.cpp stores weights (a shorter last block is filled with
copies of its last number). Q8_0: x = d·q, q in −127..127. Q4_1:
x = d·q + m, q in 0..15.

\b
Examples:
  tutor quantize "0.12,-0.5,0.33,0.9,-0.07"
  tutor quantize "0.12,-0.5,0.33,0.9,-0.07" --kind q4_1
"""


@tutor_command(EPILOG)
@click.argument("values", required=False)
@click.option("--kind", type=click.Choice(["q8_0", "q4_1"], case_sensitive=False),
              default="q8_0", show_default=True, help="The GGML block type.")
@calculator_options(seed=False)
def quantize(values, kind, step, output):
    """Show block quantization of VALUES: scale, codes, reconstruction and its error."""
    import numpy as np

    from tutor.render.modern import quantize_document
    from tutor.walkthroughs.modern import quantize_block

    if values is None:
        raise usage_error("VALUES", "expected numbers such as \"0.12,-0.5,0.9\", got nothing")
    x = parse_vector("VALUES", values)                                     # [n]
    if np.abs(x).max() > 65504:
        raise usage_error("VALUES", f"expected numbers within ±65504 (the float16 range of "
                                    f"the scale), got {np.abs(x).max():g}")
    kind = kind.upper()
    recording = quantize_block(x, kind)
    doc = quantize_document(recording.trace, precision=output.precision, kind=kind)
    show_document(output, doc, step=step)
