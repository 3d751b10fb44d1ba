"""Inputs of a walkthrough: each word's vector (the worked example's table or derived from the word),
the rule for random weight matrices, and the input rows X + PE of a sentence."""

from __future__ import annotations

import numpy as np

from tutor.nn.posenc import add_positional_encoding, sinusoidal_encoding
from tutor.trace import NULL_TRACE

from .word_vectors import NOTES_DIM, NOTES_VECTORS, word_vector


def random_tenths(rng, *shape) -> np.ndarray:
    """Random weights as a learner reads them: entries -1.0, -0.9, ..., 1.0 (integers from
    -10 to 10, divided by 10), drawn from ``rng`` (a numpy.random.Generator)."""
    return rng.integers(-10, 11, size=shape) / 10.0                     # shape, steps of 0.1


def word_source(word: str, dim: int) -> str:
    """Where ``word``'s vector at width ``dim`` comes from: "notes" or "derived"."""
    return "notes" if word.lower() in NOTES_VECTORS and dim == NOTES_DIM else "derived"


def word_embeddings(tokens: list[str], dim: int, given: dict | None = None):
    """X [n_tokens, dim] (float64) and, per token, where its vector came from.

    ``given`` maps lower-cased words to vectors the user gave (source "--embed"); every other
    word gets :func:`~tutor.walkthroughs.word_vectors.word_vector` ("notes" or "derived").
    """
    given = given or {}
    rows, sources = [], []
    for token in tokens:
        key = token.lower()
        if key in given:
            rows.append(given[key])
            sources.append("--embed")
        else:
            rows.append(word_vector(token, dim))
            sources.append(word_source(token, dim))
    return np.array(rows, dtype=np.float64), sources                    # [n, dim]


def glove_embeddings(tokens: list[str], given: dict | None = None):
    """X [n_tokens, 50] (float64) from the shipped GloVe 6B 50-d vectors (lower-case lookup)
    and, per token, its source ("glove", or "--embed" for a word in ``given``, a mapping of
    lower-cased words to 50 numbers). Raises UnknownWordError naming every word in neither
    (see :func:`tutor.data.glove.glove_vectors`)."""
    from tutor.data.glove import glove_vectors

    given = given or {}
    x = glove_vectors(tokens, extra=given)                              # [n, 50]
    sources = ["--embed" if tok.lower() in given else "glove" for tok in tokens]
    return x, sources


def sentence_inputs(tokens: list[str], d_model: int, dtype=np.float64, *, x=None,
                    trace=NULL_TRACE):
    """The input rows of a sentence, X + PE [n, d_model], in ``dtype`` (the model's).

    X is ``x`` [n, d_model] when given (e.g. GloVe vectors), else each word's vector by
    :func:`word_embeddings`. Records under ``trace`` what
    :func:`~tutor.nn.posenc.add_positional_encoding` records (``embedded``, ``pe``, ``out``).
    Vaswani et al. 2017, section 3.5.
    """
    if x is None:
        x, _ = word_embeddings(tokens, d_model)                         # [n, d_model]
    x = x.astype(dtype, copy=False)                                     # the words follow the model
    pe = sinusoidal_encoding(len(tokens), d_model, dtype=dtype)         # [n, d_model]
    return add_positional_encoding(x, pe, trace=trace)                  # [n, d_model]
