"""Every word gets an embedding: the notes' three words keep their vectors (when the width is 4),
and any other word gets a vector derived from the word itself.

The derived vector comes from SHA-256 of the word (lower-cased, UTF-8), never from Python's
``hash()``, so it is the same on every run and every machine. Each entry is one of
-1.0, -0.9, ..., 0.9, 1.0: short decimals that read well in a table.
"""

from __future__ import annotations

import hashlib

# The worked example of the notes: THE, CAT, SAT with width 4.
NOTES_VECTORS: dict[str, tuple[float, ...]] = {
    "the": (1.0, 0.0, 1.0, 0.0),
    "cat": (0.0, 1.0, 0.0, 1.0),
    "sat": (1.0, 1.0, 1.0, 1.0),
}
NOTES_DIM = 4


def tokenize(sentence: str) -> list[str]:
    """The tokens of a sentence: its words, split on white space, as typed."""
    return sentence.split()


def derived_vector(word: str, dim: int) -> list[float]:
    """A deterministic vector for ``word``: entries in {-1.0, -0.9, ..., 1.0} from SHA-256.

    Entry j uses byte j of the stream sha256(word) || sha256(word + "\\x00" + "1") || ...;
    a byte b gives (b mod 21 - 10) / 10.
    """
    key = word.lower().encode("utf-8")
    stream = bytearray()
    block = 0
    while len(stream) < dim:
        suffix = b"" if block == 0 else b"\x00" + str(block).encode()
        stream += hashlib.sha256(key + suffix).digest()
        block += 1
    return [((b % 21) - 10) / 10 for b in stream[:dim]]


def word_vector(word: str, dim: int) -> list[float]:
    """The embedding of ``word`` at width ``dim``: the notes' vector if it has one, else derived."""
    notes = NOTES_VECTORS.get(word.lower())
    if notes is not None and dim == NOTES_DIM:
        return list(notes)
    return derived_vector(word, dim)


def embedding_matrix(tokens: list[str], *, dim: int | None, embeddings=None, embed=(),
                     rng=None):
    """X [n_tokens, dim] and, per token, where its vector came from.

    ``embeddings`` is a parsed ``--embeddings`` SPEC (the whole X); ``embed`` the
    ``--embed WORD=v1,...`` pairs. ``dim`` is ``--dim`` or None (then 4, or the width the
    given vectors have). Mistakes raise click.BadParameter naming the option.
    """
    import numpy as np

    from .inputs import MAX_DIM, check_limit, quote, shape_text, usage_error

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
    rows, sources = [], []
    for tok in tokens:
        key = tok.lower()
        if key in given:
            rows.append(given[key])
            sources.append("--embed")
        else:
            rows.append(word_vector(tok, dim))
            notes = key in NOTES_VECTORS and dim == NOTES_DIM
            sources.append("notes" if notes else "derived")
    return np.array(rows, dtype=np.float64), sources
