"""`tutor gqa`: grouped-query attention, query heads sharing key/value heads, and the
key/value cache in bytes per token for MHA, GQA and MQA."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM, MAX_HEADS

from .common import calculator_options, tutor_command
from .output import show_document
from .sentence_options import word_input_options
from .usage import TEXT, check_limit, usage_error

EPILOG = f"""\b
Wq is [d_model × heads·head-dim], Wk and Wv [d_model × kv-heads·head-dim],
random from --seed (entries -1.0 … 1.0). Limits: --heads 1 to {MAX_HEADS},
--kv-heads a divisor of --heads, --head-dim 1 to {MAX_DIM}.

\b
Examples:
  tutor gqa "the cat sat" --heads 6 --kv-heads 2    two groups of three
  tutor gqa "the cat sat" --heads 4 --kv-heads 1    multi-query attention
  tutor gqa "the cat sat" --heads 3 --kv-heads 3    multi-head attention
"""


@tutor_command(EPILOG)
@click.argument("sentence", type=TEXT)
@click.option("--heads", type=int, default=6, show_default=True, metavar="H",
              help="Query heads.")
@click.option("--kv-heads", type=int, default=2, show_default=True, metavar="G",
              help="Key/value heads; must divide --heads.")
@click.option("--head-dim", type=int, default=2, show_default=True, metavar="D",
              help="d_head, the width of each head.")
@word_input_options(dim=True)
@calculator_options()
def gqa(sentence, heads, kv_heads, head_dim, dim, embeddings, embed, step, seed, output):
    """Show grouped-query attention on SENTENCE: groups, each group's steps, the cache."""
    from tutor.render.modern import gqa_document
    from tutor.walkthroughs.modern import grouped_query

    from .modern_inputs import random_weights, sentence_matrix

    check_limit("--heads", heads, MAX_HEADS, "a number of heads")
    check_limit("--kv-heads", kv_heads, MAX_HEADS, "a number of heads")
    check_limit("--head-dim", head_dim, MAX_DIM, "a width")
    if heads % kv_heads:
        raise usage_error("--kv-heads", f"expected a divisor of --heads {heads}, got {kv_heads}")
    tokens, x = sentence_matrix("SENTENCE", sentence, dim, embeddings, embed, seed)
    d_model = x.shape[1]
    w_q = random_weights(seed, "--wq", d_model, heads * head_dim)
    w_k = random_weights(seed, "--wk", d_model, kv_heads * head_dim)
    w_v = random_weights(seed, "--wv", d_model, kv_heads * head_dim)
    recording = grouped_query(tokens, x, w_q, w_k, w_v, heads, kv_heads)
    doc = gqa_document(recording.trace, tokens, precision=output.precision, heads=heads,
                       kv_heads=kv_heads, context=recording.info["context"])
    show_document(output, doc, step=step)
