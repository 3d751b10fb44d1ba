"""`tutor multihead`: self-attention split into heads, each head's weights and attention,
the concatenation and the output projection."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM, MAX_HEADS

from .common import calculator_options, tutor_command
from .matrix_specs import MATRIX, MatrixSpec
from .output import show_document
from .usage import TEXT, check_limit, shape_text, usage_error
from .sentence_options import word_input_options
from .values import parse_sentence, rng_for

RANDOM = MatrixSpec("random", "random")

EPILOG = f"""\b
SPEC is identity, random (entries -1.0 … 1.0 from --seed), an inline matrix
"1,0;0,1", or a .npy/.json/.csv file. Wq, Wk, Wv are [d_model×d_model] here,
split into --heads blocks of columns; Wo is [d_model×d_model].

\b
Limits: at most 32 words, --dim at most {MAX_DIM}, --heads at most {MAX_HEADS}
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


def _matrix(spec, option, d_model, seed):
    if spec.array is not None:
        if spec.array.shape != (d_model, d_model):
            raise usage_error(option, f"expected a {d_model}×{d_model} matrix (d_model = "
                                      f"{d_model}), got {shape_text(spec.array.shape)}")
        return spec.array
    return spec.resolve(d_model, d_model, rng_for(seed, option))


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

    from .word_vector_options import embedding_matrix, uses_glove

    tokens = parse_sentence("SENTENCE", sentence, glove=uses_glove(embeddings))
    if dim is not None:
        check_limit("--dim", dim, MAX_DIM, "a width")
    check_limit("--heads", heads, MAX_HEADS, "a number of heads")
    x, sources = embedding_matrix(tokens, dim=dim, embeddings=embeddings, embed=embed,
                                  rng=rng_for(seed, "--embeddings"))     # [n, d_model]
    dim = x.shape[1]
    if dim % heads:
        raise usage_error("--heads", f"expected a number that divides d_model {dim}, got {heads}")
    specs = {"--wq": wq or RANDOM, "--wk": wk or RANDOM, "--wv": wv or RANDOM,
             "--wo": wo or RANDOM}
    w = {opt: _matrix(spec, opt, dim, seed) for opt, spec in specs.items()}  # [d_model, d_model]
    kinds = {name: specs[opt].describe() for opt, name in
             (("--wq", "w_q"), ("--wk", "w_k"), ("--wv", "w_v"), ("--wo", "w_o"))}
    recording = self_attention(tokens, x, w["--wq"], w["--wk"], w["--wv"], w["--wo"],
                               heads=heads, multi_head_form=True, causal=causal,
                               posenc=posenc.lower(), sources=sources, weight_kinds=kinds)
    doc = multihead_document(recording.trace, tokens, precision=output.precision,
                             **recording.info)
    show_document(output, doc, step=step, pause=pause)
