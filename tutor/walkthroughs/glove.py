"""Real word vectors for a learner: how alike the shipped GloVe vectors of a few words are
(:func:`similarity_table`) and the words nearest one word (:func:`nearest_words`), both by
cosine similarity (:func:`tutor.nn.functional.cosine_similarity`, the one formula, through
:func:`tutor.data.glove.cosine_similarity`, which looks words up)."""

from __future__ import annotations

import numpy as np

from . import Recording, new_trace


def similarity_table(words: list[str]) -> Recording:
    """cos(a, b) for every pair of ``words`` (GloVe 6B 50-d, looked up lower-case).

    Records ``x`` [n, 50] (the vectors) and under ``cos.``: ``a`` [n, 1, 50], ``b``
    [1, n, 50], ``dot`` [n, n], ``norm_a`` [n, 1], ``norm_b`` [1, n] and ``cosine`` [n, n]
    (what :func:`tutor.data.glove.cosine_similarity` records; row i, column j is
    cos(words[i], words[j]), 1 on the diagonal). Raises UnknownWordError naming every word
    outside the shipped 20,000. Pennington et al. 2014.
    """
    from tutor.data.glove import cosine_similarity, glove_vectors

    trace = new_trace()
    x = glove_vectors(words)                                            # [n, 50]
    trace.record("x", x)
    cosine = cosine_similarity(x[:, None, :], x[None, :, :],
                               trace=trace.scope("cos"))                # [n, n]
    return Recording(trace, cosine, list(words), {"words": list(words)},
                     walkthrough="glove.similarity_table")


def nearest_words(word: str, k: int = 8) -> Recording:
    """The ``k`` words whose GloVe vectors are nearest ``word``'s by cosine similarity, best
    first (:func:`tutor.data.glove.nearest`). Records ``cosine`` [k, 1] (one column, best
    first); ``info["neighbours"]``
    holds the words. Raises UnknownWordError for a word outside the subset, TutorError for a
    ``k`` out of range."""
    from tutor.data.glove import nearest

    found = nearest(word, k)
    trace = new_trace()
    trace.record("cosine", np.array([[c] for _, c in found]))          # [k, 1]
    neighbours = [w for w, _ in found]
    return Recording(trace, found, neighbours, {"word": word, "neighbours": neighbours},
                     walkthrough="glove.nearest_words")
