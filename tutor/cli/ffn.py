"""`tutor ffn`: one feed-forward block, ReLU, GELU or the gated SwiGLU of today's models,
with the parameter counts of each kind."""

from __future__ import annotations

import click

from tutor.limits import MAX_FF

from .common import calculator_options, tutor_command
from .output import show_document
from .sentence_options import word_input_options
from .usage import TEXT, check_limit

EPILOG = f"""\b
SwiGLU(x) = (SiLU(x·W_gate) ⊙ x·W_up)·W_down (LLaMA, SmolLM2); ReLU and
GELU are act(x·W1)·W2 (2017). Weights random from --seed (entries -1.0 …
1.0), no biases. Limits: --ff 1 to {MAX_FF}.

\b
Examples:
  tutor ffn "the cat sat"                   SwiGLU, the gate visible
  tutor ffn "the cat sat" --kind relu       the 2017 block
  tutor ffn "the cat sat" --kind gelu --ff 6
"""


@tutor_command(EPILOG)
@click.argument("sentence", type=TEXT)
@click.option("--kind", type=click.Choice(["relu", "gelu", "swiglu"], case_sensitive=False),
              default="swiglu", show_default=True, help="The kind of feed-forward block.")
@click.option("--ff", type=int, default=6, show_default=True, metavar="F",
              help="d_ff, the hidden width.")
@word_input_options(dim=True)
@calculator_options()
def ffn(sentence, kind, ff, dim, embeddings, embed, step, seed, output):
    """Show a feed-forward block on SENTENCE: SwiGLU's gate, or ReLU/GELU; parameter counts."""
    from tutor.render.modern import ffn_document
    from tutor.walkthroughs.modern import gated_feed_forward

    from .modern_inputs import random_weights, sentence_matrix

    kind = kind.lower()
    check_limit("--ff", ff, MAX_FF, "a width")
    tokens, x = sentence_matrix("SENTENCE", sentence, dim, embeddings, embed, seed)
    d_model = x.shape[1]
    w_in = random_weights(seed, "--w-in", d_model, ff)
    w_out = random_weights(seed, "--w-out", ff, d_model)
    w_up = random_weights(seed, "--w-up", d_model, ff) if kind == "swiglu" else None
    recording = gated_feed_forward(tokens, x, kind, w_in, w_out, w_up)
    doc = ffn_document(recording.trace, tokens, precision=output.precision, kind=kind)
    show_document(output, doc, step=step)
