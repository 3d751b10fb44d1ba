"""`tutor flash`: online softmax, FlashAttention's core: keys in blocks, a running max and a
rescaled running sum; the same output as softmax attention without the n×n scores."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM, MAX_TOKENS

from .common import calculator_options, tutor_command
from .output import show_document
from .sentence_options import word_input_options
from .usage import TEXT, check_limit

EPILOG = f"""\b
Wq, Wk, Wv are [d_model × dk], random from --seed (entries -1.0 … 1.0).
Limits: --block 1 to {MAX_TOKENS}, --dk 1 to {MAX_DIM}.

\b
Examples:
  tutor flash "the cat sat" --block 2       two blocks of keys
  tutor flash "the cat sat on the mat" --block 3 --dk 4
"""


@tutor_command(EPILOG)
@click.argument("sentence", type=TEXT)
@click.option("--block", type=int, default=2, show_default=True, metavar="B",
              help="Keys per block.")
@click.option("--dk", type=int, default=2, show_default=True, metavar="D",
              help="Width of queries, keys and values.")
@word_input_options(dim=True)
@calculator_options()
def flash(sentence, block, dk, dim, embeddings, embed, step, seed, output):
    """Show online softmax on SENTENCE: blocks of keys, running max and sum, same output."""
    from tutor.render.modern import flash_document
    from tutor.walkthroughs.modern import online_softmax

    from .modern_inputs import random_weights, sentence_matrix

    check_limit("--block", block, MAX_TOKENS, "a number of keys")
    check_limit("--dk", dk, MAX_DIM, "a width")
    tokens, x = sentence_matrix("SENTENCE", sentence, dim, embeddings, embed, seed)
    d_model = x.shape[1]
    w_q, w_k, w_v = (random_weights(seed, name, d_model, dk) for name in ("--wq", "--wk", "--wv"))
    recording = online_softmax(tokens, x, w_q, w_k, w_v, block)
    doc = flash_document(recording.trace, tokens, precision=output.precision, block=block)
    show_document(output, doc, step=step)
