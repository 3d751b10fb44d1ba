"""`tutor rope`: rotary position embedding, each pair of numbers turned by pos·θ_i, beside
sinusoidal encodings; scores that depend on the offset only; both layouts."""

from __future__ import annotations

import click

from tutor.errors import number_text

from tutor.limits import MAX_DIM, MAX_POSITIONS

from .common import calculator_options, tutor_command
from .output import show_document
from .sentence_options import word_input_options
from .usage import TEXT, check_limit, typed, usage_error
from .values import MAX_ABS, parse_vector, rng_for

EPILOG = f"""\b
θ_i = base^(−2i/d); position p turns pair i by p·θ_i. Without a sentence,
one query and one key (--query, --key, or random from --seed) are placed at
every position; with a sentence, each word's vector is its own query and
key. Limits: --dim even, 2 to {MAX_DIM}; --positions 1 to {MAX_POSITIONS}.

\b
Examples:
  tutor rope --dim 8 --positions 6          angles, rotation, scores
  tutor rope --query "1,0,0,0" --key "1,0,0,0" --positions 4
  tutor rope "the cat sat on the mat"       a sentence's words
  tutor rope --dim 8 --base 100000          SmolLM2's base
"""


@tutor_command(EPILOG)
@click.argument("sentence", required=False, type=TEXT)
@click.option("--dim", type=int, default=None, metavar="D",
              help="d, the width of each query and key (even). [default: 8; 4 with a sentence]")
@click.option("--positions", type=int, default=None, metavar="N",
              help="Positions 0..N-1. [default: 6, or the sentence's length]")
@click.option("--base", type=float, default=10000.0, show_default=True, metavar="B",
              help="The base of the angles (SmolLM2: 100000).")
@click.option("--query", default=None, metavar="VEC", help="The query q. [default: random]")
@click.option("--key", default=None, metavar="VEC", help="The key k. [default: random]")
@word_input_options()
@calculator_options()
def rope(sentence, dim, positions, base, query, key, embeddings, embed, step, seed, output):
    """Show RoPE: each pair of numbers rotated by its position, scores that depend on m − n."""
    import numpy as np

    from tutor.render.modern import rope_document
    from tutor.walkthroughs.inputs import random_tenths
    from tutor.walkthroughs.modern import rope_beside_sinusoidal

    from .modern_inputs import sentence_matrix

    if not (1 < base <= MAX_ABS):                                      # NaN too: one range
        raise usage_error("--base", f"expected a number greater than 1 and at most "
                                    f"{MAX_ABS:,.0f}, got {number_text(base)}")
    if positions is not None:
        check_limit("--positions", positions, MAX_POSITIONS, "a number of positions")
    tokens = None
    if sentence is not None:
        for option, value in (("--query", query), ("--key", key)):
            if value is not None:
                raise usage_error(option, "expected no sentence with it (the words are the "
                                          "queries and keys), got a sentence too")
        if typed("positions"):
            raise usage_error("--positions", "expected no sentence with it (the sentence's "
                                             "words give the positions), got a sentence too")
        tokens, x = sentence_matrix("SENTENCE", sentence, dim, embeddings, embed, seed)
        if x.shape[1] % 2:
            raise usage_error("--dim", f"expected an even width (RoPE turns pairs), got "
                                       f"{x.shape[1]}")
        q = k = x                                                          # [n, d]
    else:
        if embeddings is not None or embed:
            raise usage_error("--embed" if embed else "--embeddings",
                              "expected a SENTENCE with it, got none")
        if query is not None and dim is None:
            dim = len(parse_vector("--query", query))
        d = 8 if dim is None else dim
        check_limit("--dim", d, MAX_DIM, "a width", low=2)
        if d % 2:
            raise usage_error("--dim", f"expected an even width (RoPE turns pairs), got {d}")
        q1 = parse_vector("--query", query, d) if query is not None else \
            random_tenths(rng_for(seed, "--query"), d)
        k1 = parse_vector("--key", key, d) if key is not None else \
            random_tenths(rng_for(seed, "--key"), d)
        n = 6 if positions is None else positions
        q, k = np.tile(q1, (n, 1)), np.tile(k1, (n, 1))                    # [n, d]
    recording = rope_beside_sinusoidal(q, k, base=base, tokens=tokens)
    doc = rope_document(recording.trace, tokens or [], precision=output.precision, base=base,
                        sentence=tokens is not None)
    show_document(output, doc, step=step)
