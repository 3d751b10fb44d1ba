"""X for a command: the sentence's words with their vectors, from --embeddings (a SPEC, or
``glove`` for the shipped GloVe vectors), --embed or the word-vector rule of
:mod:`tutor.walkthroughs.word_vectors`. The options themselves are declared once in
:mod:`tutor.cli.sentence_options`. Mistakes are usage errors naming the option."""

from __future__ import annotations

import numpy as np

from tutor.limits import MAX_DIM
from tutor.errors import UnknownWordError
from tutor.walkthroughs.inputs import glove_embeddings, word_embeddings
from tutor.walkthroughs.word_vectors import NOTES_DIM

from .matrix_specs import GLOVE
from .usage import check_limit, quote, shape_text, usage_error

GLOVE_DIM = 50                 # the width of the shipped GloVe vectors (tutor.data.glove.DIM)


def _given_vectors(tokens: list[str], embed) -> dict[str, np.ndarray]:
    """The --embed pairs by lower-cased word; each word once and in the sentence."""
    given: dict[str, np.ndarray] = {}
    typed: dict[str, str] = {}                 # each key as the user typed it, for messages
    for word, vector in embed:
        key = word.lower()
        typed.setdefault(key, word)
        if key in given:
            before = given[key]
            if len(before) != len(vector):
                raise usage_error("--embed", f"expected one size per word, got {quote(word)} "
                                             f"with {len(before)} and with {len(vector)} numbers")
            if not np.array_equal(before, vector):
                raise usage_error("--embed", f"expected each word once, got {quote(word)} "
                                             f"twice with different numbers")
        given[key] = vector
    lowered = {tok.lower() for tok in tokens}
    for key in given:
        if key not in lowered:
            words = ", ".join(dict.fromkeys(tokens))
            raise usage_error("--embed", f"expected a word of the sentence ({words}), got "
                                         f"{quote(typed[key])}")
    return given


def _glove_matrix(tokens: list[str], dim: int | None, embed):
    """X from the shipped GloVe vectors, --embed giving words GloVe lacks (50 numbers each).
    A word found in neither is a usage error naming --embeddings (exit 2)."""
    if dim is not None and dim != GLOVE_DIM:
        raise usage_error("--dim", f"expected {GLOVE_DIM} (the width of GloVe vectors) with "
                                   f"--embeddings glove, got {dim}")
    given = _given_vectors(tokens, embed)
    typed = {word.lower(): word for word, _ in reversed(embed)}
    for key, vector in given.items():
        if len(vector) != GLOVE_DIM:
            raise usage_error("--embed", f"expected {GLOVE_DIM} numbers for {quote(typed[key])} (the "
                                         f"width of GloVe vectors), got {len(vector)}")
    try:
        return glove_embeddings(tokens, given)
    except UnknownWordError as exc:            # the sentence does not fit --embeddings glove
        raise usage_error("--embeddings", f"glove: {exc}") from None


def uses_glove(embeddings) -> bool:
    """True for ``--embeddings glove``: the sentence's punctuation is then split off as GloVe
    has it (``parse_sentence(..., glove=True)``)."""
    return embeddings is not None and embeddings.kind == GLOVE


def embedding_matrix(tokens: list[str], *, dim: int | None, embeddings=None, embed=(),
                     rng=None):
    """X [n_tokens, dim] and, per token, where its vector came from.

    ``embeddings`` is a parsed ``--embeddings`` SPEC (the whole X, or ``glove``); ``embed``
    the ``--embed WORD=v1,...`` pairs. ``dim`` is ``--dim`` or None (then 4, 50 for GloVe, or
    the width the given vectors have when they cover every word). Mistakes raise
    click.BadParameter naming the option.
    """
    n = len(tokens)
    if embeddings is not None and embeddings.kind == GLOVE:
        return _glove_matrix(tokens, dim, embed)
    if embeddings is not None and embed:
        raise usage_error("--embed", "expected either --embeddings (the whole X) or --embed "
                                     "(single words), got both")
    if embeddings is not None:
        if embeddings.array is not None:
            rows, cols = embeddings.array.shape
            if rows != n:
                raise usage_error("--embeddings", f"expected {n} rows (one per word of "
                                                  f"the sentence), got a {shape_text((rows, cols))} matrix")
            if dim is not None and cols != dim:
                raise usage_error("--embeddings", f"expected {dim} columns (--dim {dim}), "
                                                  f"got a {shape_text((rows, cols))} matrix")
            return embeddings.array, ["--embeddings"] * n
        width = NOTES_DIM if dim is None else dim
        check_limit("--dim", width, MAX_DIM, "a width")
        return embeddings.resolve(n, width, rng), ["--embeddings"] * n

    given = _given_vectors(tokens, embed)
    sizes = {key: len(v) for key, v in given.items()}
    if dim is None:
        widths = sorted(set(sizes.values()))
        if len(widths) > 1:
            a, b = [next(k for k, s in sizes.items() if s == w) for w in widths[:2]]
            raise usage_error("--embed", f"expected vectors of one size, got {quote(a)} with "
                                         f"{sizes[a]} and {quote(b)} with {sizes[b]} numbers")
        every_word_given = all(tok.lower() in given for tok in tokens)
        if widths and every_word_given:
            dim = widths[0]
        else:                                   # the other words get vectors NOTES_DIM wide
            for key, size in sizes.items():
                if size != NOTES_DIM:
                    raise usage_error("--embed", f"expected {NOTES_DIM} numbers for "
                                                 f"{quote(key)}, the width of the sentence's "
                                                 f"other words (--dim sets it), got {size}")
            dim = NOTES_DIM
    for key, size in sizes.items():
        if size != dim:
            raise usage_error("--embed", f"expected {dim} numbers for {quote(key)} "
                                         f"(--dim {dim}), got {size}")
    check_limit("--dim", dim, MAX_DIM, "a width")
    return word_embeddings(tokens, dim, given)


def glove_width(embeddings, weights, dim):
    """--dim for a random model fed GloVe vectors: 50 unless given (then it is checked)."""
    if embeddings is not None and embeddings.kind == GLOVE and weights is None and dim is None:
        return GLOVE_DIM
    return dim


def embeddings_name(embeddings, embed) -> str:
    """Where the words' vectors come from, for a document's settings."""
    if embeddings is not None:
        return "glove" if embeddings.kind == GLOVE else f"--embeddings ({embeddings.describe()})"
    return "--embed and derived" if embed else "derived"


def sentence_vectors(tokens, d_model: int, embeddings, embed, seed: int):
    """X [n, d_model] from --embeddings/--embed for a model of width ``d_model``, or None when
    neither is given (the walkthrough then derives each word's vector)."""
    from .values import rng_for

    if embeddings is None and not embed:
        return None
    x, _ = embedding_matrix(tokens, dim=d_model, embeddings=embeddings, embed=embed,
                            rng=rng_for(seed, "--embeddings"))          # [n, d_model]
    return x


def word_vector_table(sentences, d_model: int, embeddings, embed) -> dict | None:
    """{lower-cased word: vector [d_model]} for every word of ``sentences`` (lists of tokens)
    from --embeddings glove and --embed, or None when neither is given. A whole-X SPEC
    cannot serve two sentences, so it is refused."""
    if embeddings is None and not embed:
        return None
    if embeddings is not None and embeddings.kind != GLOVE:
        raise usage_error("--embeddings", f"expected glove here (a whole-X SPEC cannot serve "
                                          f"two sentences; give single words with --embed), "
                                          f"got {quote(embeddings.text)}")
    words = list(dict.fromkeys(tok for tokens in sentences for tok in tokens))
    x, _ = embedding_matrix(words, dim=d_model, embeddings=embeddings, embed=embed)
    return {word.lower(): row for word, row in zip(words, x)}
