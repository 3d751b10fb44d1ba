"""Inputs of a walkthrough: each word's vector (the worked example's table or derived from the word),
the rule for random matrices (one stream per input, from the seed), the one rule for the inputs
of self-attention (X, Wq, Wk, Wv, Wo: their shapes, limits and draws) that ``tutor attention``,
``tutor multihead``, ``tutor backward``, the lessons and the explorer share, and the input rows
X + PE of a sentence."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tutor.errors import SettingError
from tutor.limits import MAX_DIM, MAX_HEADS
from tutor.nn.posenc import add_positional_encoding, sinusoidal_encoding
from tutor.trace import NULL_TRACE

from .word_vectors import NOTES_DIM, NOTES_VECTORS, word_vector

IDENTITY, RANDOM = "identity", "random"

#: The inputs of self-attention, by field name, and the name of each one's random stream.
#: The streams keep the names of ``tutor attention``'s options, so that a seed gives the
#: matrices it gave before the command, the lessons and the explorer shared this rule (the
#: README's examples and the golden outputs show them).
STREAMS = {"x": "--embeddings", "wq": "--wq", "wk": "--wk", "wv": "--wv", "wo": "--wo",
           "target": "--target"}
TRACE_NAMES = {"wq": "w_q", "wk": "w_k", "wv": "w_v", "wo": "w_o"}   # field -> recorded name


def random_tenths(rng, *shape) -> np.ndarray:
    """Random weights as a learner reads them: entries -1.0, -0.9, ..., 1.0 (integers from
    -10 to 10, divided by 10), drawn from ``rng`` (a numpy.random.Generator)."""
    return rng.integers(-10, 11, size=shape) / 10.0                     # shape, steps of 0.1


class _LazyGenerator:
    """A ``numpy.random.Generator`` made on first use: importing numpy.random costs about
    12 ms of start-up, hashlib (OpenSSL) about 10 ms, and most runs draw nothing."""

    def __init__(self, seed: int, name: str):
        self._seed, self._name, self._rng = seed, name, None

    def __getattr__(self, attribute):
        if self._rng is None:
            import hashlib

            key = int.from_bytes(hashlib.sha256(self._name.encode()).digest()[:4], "little")
            self._rng = np.random.default_rng([self._seed, key])
        return getattr(self._rng, attribute)


def random_stream(seed: int, name: str) -> np.random.Generator:
    """The random stream ``name`` of ``seed``: a generator seeded by [seed, the first 4 bytes
    (little-endian) of sha256(name)], so each input draws the same numbers whatever else is
    random. A field of :data:`STREAMS` ("wq", ...) draws from its stream's name ("--wq")."""
    return _LazyGenerator(seed, STREAMS.get(name, name))


def random_matrix(seed: int, name: str, *shape: int) -> np.ndarray:
    """Random tenths (:func:`random_tenths`) of ``shape`` ([rows, cols], or [d] for a
    vector) from stream ``name`` of ``seed``: what a command's option ``name`` ("--wq")
    draws from ``--seed`` when it is not given."""
    return random_tenths(random_stream(seed, name), *shape)            # shape


class InputError(SettingError):
    """An input of self-attention that does not fit. ``field`` is the input's name ("x",
    "wq", "wk", "wv", "wo", "dk", "heads"); the message says what was expected and what was
    given and names no front end's option: a front end puts its own name for ``field`` in
    front (``--wq``, the lesson's ``weights``, the explorer's ``Wq``), and words the other
    fields the message mentions (written ``{dk}``) with :meth:`worded`."""

    def __init__(self, field: str, message: str, mentions: tuple[str, ...] = ()):
        self.field, self.template, self.mentions = field, message, tuple(mentions)
        super().__init__(field, self.worded({}))

    def worded(self, names: dict[str, str]) -> str:
        """The message with each mentioned field called by ``names`` (else its field name)."""
        text = self.template
        for mentioned in self.mentions:
            text = text.replace("{" + mentioned + "}", names.get(mentioned, mentioned))
        return text


@dataclass(frozen=True)
class Given:
    """A matrix given in numbers, and how the inputs step says where it came from
    ("inline", "a file", "edited")."""

    array: np.ndarray
    kind: str = "given"


@dataclass
class AttentionInputs:
    """What :func:`attention_inputs` built: the arguments of
    :func:`tutor.walkthroughs.attention.self_attention` (and of
    :func:`tutor.walkthroughs.backward.backpropagation`, without Wo)."""

    tokens: list[str]
    x: np.ndarray                          # [n, d_model]
    sources: list[str]                     # per token: "notes", "derived", "glove", ...
    w_q: np.ndarray                        # [d_model, d_k]
    w_k: np.ndarray                        # [d_model, d_k]
    w_v: np.ndarray                        # [d_model, d_v]
    w_o: np.ndarray | None                 # [d_v, d_model], None for one head alone
    heads: int
    kinds: dict[str, str] = field(default_factory=dict)   # {"w_q": "identity", ...}


def _shape(shape) -> str:
    return "×".join(str(n) for n in shape)


def check_heads(heads: int, width: int, what: str = "d_model") -> int:
    """``heads`` from 1 to MAX_HEADS dividing ``width`` (``what`` names it); InputError
    naming "heads" otherwise."""
    if not 1 <= heads <= MAX_HEADS:
        raise InputError("heads", f"expected a number of heads from 1 to {MAX_HEADS}, got {heads}")
    if width % heads:
        raise InputError("heads", f"expected a number that divides {what} {width}, got {heads}")
    return heads


def _columns(name: str, source, want: int | None, mentioned: str, like: str) -> int | None:
    """The columns a given matrix fixes (checked against ``want``); None for identity/random."""
    if not isinstance(source, Given):
        return None
    cols = source.array.shape[1]
    if want is not None and cols != want:
        raise InputError(name, f"expected {want} columns ({like}{want}), got a "
                               f"{_shape(source.array.shape)} matrix", (mentioned,))
    return cols


def _matrix(name: str, source, rows: int, cols: int, seed: int, why: str,
            square: bool) -> np.ndarray:
    """The matrix of ``source`` [rows, cols]: identity, random from the stream of ``name``,
    or a given one with ``rows`` rows (and ``cols`` columns when ``square``)."""
    if isinstance(source, Given):
        shape = source.array.shape
        if square and shape != (rows, cols):
            raise InputError(name, f"expected a {rows}×{cols} matrix (d_model = {rows}), got "
                                   f"{_shape(shape)}")
        if shape[0] != rows:
            raise InputError(name, f"expected {rows} rows ({why}), got a {_shape(shape)} matrix")
        return np.asarray(source.array, dtype=np.float64)
    if source == IDENTITY:
        return np.eye(rows, cols)                                       # [rows, cols]
    if source == RANDOM:
        return random_matrix(seed, name, rows, cols)                    # [rows, cols]
    raise InputError(name, f"expected identity, random or a matrix, got {source!r}")


def attention_inputs(tokens: list[str], x: np.ndarray, sources: list[str] | None = None, *,
                     wq=IDENTITY, wk=IDENTITY, wv=IDENTITY, wo=None, dk: int | None = None,
                     heads: int = 1, seed: int = 0, square: bool = False) -> AttentionInputs:
    """The inputs of self-attention on ``tokens`` with X ``x`` [n, d_model], by one rule.

    Each weight is "identity", "random" (random tenths from its own stream of ``seed``:
    :func:`random_matrix`, so Wq is the same whatever else is random) or a :class:`Given`
    matrix. Wq, Wk are [d_model, d_k] and Wv [d_model, d_v]: d_k is ``dk``, else the columns
    of a given Wq or Wk, else d_model; d_v is a given Wv's columns, else d_k. With ``square``
    (``tutor multihead``, the explorer) every weight is [d_model, d_model]. Wo [d_v, d_model]
    joins several heads (identity unless given) and is None for one head, unless ``square``
    and given. Several heads divide d_k and d_v (Vaswani et al. 2017, section 3.2.2).

    Raises :class:`InputError` naming the field: dk outside 1..MAX_DIM, heads outside
    1..MAX_HEADS or not dividing the widths, a given matrix whose rows are not d_model (or
    whose columns disagree with dk or each other), Wo given for one head.
    """
    x = np.asarray(x)
    d_model = x.shape[1]
    if dk is not None and not 1 <= dk <= MAX_DIM:
        raise InputError("dk", f"expected a width from 1 to {MAX_DIM}, got {dk}")
    if not 1 <= heads <= MAX_HEADS:
        raise InputError("heads", f"expected a number of heads from 1 to {MAX_HEADS}, got {heads}")
    if wo is not None and heads == 1 and not square:
        raise InputError("wo", "expected {heads} 2 or more (Wo joins the heads), got {heads} 1",
                         ("heads",))
    if square:
        d_k = d_v = d_model
        check_heads(heads, d_model)
    else:
        width_q = _columns("wq", wq, dk, "dk", "{dk} ")
        width_k = _columns("wk", wk, dk if dk is not None else width_q,
                           "dk" if dk is not None else "wq",
                           "{dk} " if dk is not None else "like {wq}: ")
        d_k = dk or width_q or width_k or d_model
        d_v = _columns("wv", wv, None, "", "") or d_k
    why = f"the embeddings have {d_model} columns"
    w_q = _matrix("wq", wq, d_model, d_k, seed, why, square)           # [d_model, d_k]
    w_k = _matrix("wk", wk, d_model, d_k, seed, why, square)           # [d_model, d_k]
    w_v = _matrix("wv", wv, d_model, d_v, seed, why, square)           # [d_model, d_v]
    if heads > 1 and not square:
        check_heads(heads, d_k, "the query/key width")
        check_heads(heads, d_v, "the value width")
    w_o = None
    if wo is not None or heads > 1:
        wo = IDENTITY if wo is None else wo
        w_o = _matrix("wo", wo, d_v, d_model, seed,                    # [d_v, d_model]
                      f"the {heads} heads give {d_v} columns", square)
    kinds = {TRACE_NAMES[name]: (source.kind if isinstance(source, Given) else
                                 IDENTITY if source is None else source)
             for name, source in (("wq", wq), ("wk", wk), ("wv", wv), ("wo", wo))}
    return AttentionInputs(list(tokens), x, list(sources or ["derived"] * len(tokens)),
                           w_q, w_k, w_v, w_o, heads, kinds)


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
