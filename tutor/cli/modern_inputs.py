"""The inputs today's sentence calculators (rope, gqa, ffn, flash) share: the words' vectors
X and random weight matrices from --seed, as the 2017 calculators make them."""

from __future__ import annotations

from tutor.limits import MAX_DIM

from .usage import check_limit
from .values import parse_sentence, rng_for


def sentence_matrix(option: str, sentence: str, dim: int | None, embeddings, embed, seed: int):
    """(tokens, X [n, d_model]) of SENTENCE from --embeddings/--embed or each word's derived
    vector; usage errors name the option."""
    from .word_vector_options import embedding_matrix, uses_glove

    tokens = parse_sentence(option, sentence, glove=uses_glove(embeddings))
    if dim is not None:
        check_limit("--dim", dim, MAX_DIM, "a width")
    x, _ = embedding_matrix(tokens, dim=dim, embeddings=embeddings, embed=embed,
                            rng=rng_for(seed, "--embeddings"))           # [n, d_model]
    return tokens, x


def random_weights(seed: int, name: str, rows: int, cols: int):
    """A random [rows, cols] matrix of tenths (-1.0 … 1.0) from --seed, one stream per name:
    :func:`tutor.walkthroughs.inputs.random_matrix`, as the lessons draw it."""
    from tutor.walkthroughs.inputs import random_matrix

    return random_matrix(seed, name, rows, cols)
