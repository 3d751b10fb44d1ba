"""Every word gets an embedding: the notes' three words keep their vectors (when the width is 4),
and any other word gets a vector derived from the word itself.

The derived vector comes from SHA-256 of the word (lower-cased, UTF-8), never from Python's
``hash()``, so it is the same on every run and every machine. Each entry is one of
-1.0, -0.9, ..., 0.9, 1.0: short decimals that read well in a table.
"""

from __future__ import annotations

# The worked example of the notes: THE, CAT, SAT with width 4.
NOTES_VECTORS: dict[str, tuple[float, ...]] = {
    "the": (1.0, 0.0, 1.0, 0.0),
    "cat": (0.0, 1.0, 0.0, 1.0),
    "sat": (1.0, 1.0, 1.0, 1.0),
}
NOTES_DIM = 4


def tokenize(sentence: str, *, glove: bool = False) -> list[str]:
    """The tokens of a sentence: its words, split on white space, as typed; for GloVe
    vectors (``glove``) with punctuation split off as GloVe has it ('Cat,' -> 'Cat', ',')."""
    if glove:
        from tutor.data.glove import glove_tokens

        return glove_tokens(sentence)
    return sentence.split()


def derived_vector(word: str, dim: int) -> list[float]:
    """A deterministic vector for ``word``: entries in {-1.0, -0.9, ..., 1.0} from SHA-256.

    Entry j uses byte j of the stream sha256(word) || sha256(word + "\\x00" + "1") || ...;
    a byte b gives (b mod 21 - 10) / 10.
    """
    import hashlib                      # here, not at start-up: OpenSSL takes ~10 ms to load

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
