"""`tutor multihead`: self-attention split into heads, each head's weights and attention,
the concatenation and the output projection."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM, MAX_HEADS, MAX_TOKENS

from .attention_inputs import head_inputs
from .common import calculator_options, tutor_command
from .matrix_specs import MATRIX
from .output import show_document
from .usage import TEXT
from .sentence_options import word_input_options

EPILOG = f"""\b
SPEC is identity, random (entries -1.0 … 1.0 from --seed), an inline matrix
"1,0;0,1", or a .npy/.json/.csv file. Wq, Wk, Wv are [d_model×d_model] here,
split into --heads blocks of columns; Wo is [d_model×d_model].

\b
Limits: at most {MAX_TOKENS} words, --dim at most {MAX_DIM}, --heads at most {MAX_HEADS}
and a divisor of --dim.

\b
Examples:
  tutor multihead "the cat sat" --heads 2
  tutor multihead "the cat sat" --heads 4 --dim 8 --seed 3
  tutor multihead "the cat sat" --heads 2 --wo identity --step 2
  tutor multihead "the cat sat" --heads 2 --causal --posenc sinusoidal
  tutor multihead "the cat sat on the mat" --embeddings glove --heads 5
  tutor multihead "the cat sat" --heads 2 --format json
"""


@tutor_command(EPILOG)
@click.argument("sentence", type=TEXT)
@click.option("--heads", type=int, default=2, show_default=True, metavar="H",
              help="Number of heads; must divide --dim.")
@click.option("--dim", type=int, default=None, metavar="D",
              help="d_model, the width of each word's embedding. [default: 4; 50 with "
                   "--embeddings glove]")
@word_input_options(causal=True, posenc=True)
@click.option("--wq", type=MATRIX, default=None, help="Query weights. [default: random]")
@click.option("--wk", type=MATRIX, default=None, help="Key weights. [default: random]")
@click.option("--wv", type=MATRIX, default=None, help="Value weights. [default: random]")
@click.option("--wo", type=MATRIX, default=None, help="Output projection. [default: random]")
@calculator_options(pause=True)
def multihead(sentence, heads, dim, embeddings, embed, causal, posenc, wq, wk, wv, wo, step,
              pause, seed, output):
    """Show multi-head self-attention on SENTENCE: split, each head, concat, Wo."""
    from tutor.render.multihead import multihead_document
    from tutor.walkthroughs.attention import self_attention

    inputs = head_inputs(sentence, dim, None, embeddings, embed, wq, wk, wv, seed, wo=wo,
                         heads=heads, default="random", square=True)
    recording = self_attention(inputs.tokens, inputs.x, inputs.w_q, inputs.w_k, inputs.w_v,
                               inputs.w_o, heads=heads, multi_head_form=True, causal=causal,
                               posenc=posenc.lower(), sources=inputs.sources,
                               weight_kinds=inputs.kinds)
    doc = multihead_document(recording.trace, inputs.tokens, precision=output.precision,
                             **recording.info)
    show_document(output, doc, step=step, pause=pause)
