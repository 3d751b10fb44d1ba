"""X for a command: the sentence's words with their vectors, from --embeddings, --embed or
the word-vector rule of :mod:`tutor.walkthroughs.word_vectors`. Mistakes are usage errors
naming the option."""

from __future__ import annotations

import numpy as np

from tutor.limits import MAX_DIM
from tutor.walkthroughs.inputs import word_embeddings
from tutor.walkthroughs.word_vectors import NOTES_DIM

from .usage import check_limit, quote, shape_text, usage_error


def embedding_matrix(tokens: list[str], *, dim: int | None, embeddings=None, embed=(),
                     rng=None):
    """X [n_tokens, dim] and, per token, where its vector came from.

    ``embeddings`` is a parsed ``--embeddings`` SPEC (the whole X); ``embed`` the
    ``--embed WORD=v1,...`` pairs. ``dim`` is ``--dim`` or None (then 4, or the width the
    given vectors have). Mistakes raise click.BadParameter naming the option.
    """
    n = len(tokens)
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

    given: dict[str, object] = {}
    for word, vector in embed:
        key = word.lower()
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
                                         f"{quote(key)}")
    sizes = {key: len(v) for key, v in given.items()}
    if dim is None:
        widths = sorted(set(sizes.values()))
        if len(widths) > 1:
            a, b = [next(k for k, s in sizes.items() if s == w) for w in widths[:2]]
            raise usage_error("--embed", f"expected vectors of one size, got {quote(a)} with "
                                         f"{sizes[a]} and {quote(b)} with {sizes[b]} numbers")
        dim = widths[0] if widths else NOTES_DIM
    for key, size in sizes.items():
        if size != dim:
            raise usage_error("--embed", f"expected {dim} numbers for {quote(key)} "
                                         f"(--dim {dim}), got {size}")
    check_limit("--dim", dim, MAX_DIM, "a width")
    return word_embeddings(tokens, dim, given)
