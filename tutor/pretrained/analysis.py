"""Measurements on a pretrained model's numbers, for ``tutor heads`` and ``tutor context``.
Pure functions of arrays and token lists (plus one that runs the model): no printing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError, TutorError
from ..nn.functional import cosine_similarity

#: A head is labelled with a pattern when, on average over the query positions where the
#: pattern is defined, at least this share of each query's attention goes to its target.
PATTERN_THRESHOLD = 0.5

#: The patterns, in the order used to break exact ties.
PATTERNS = ("first", "last", "itself", "previous", "next", "one token")

#: The one vocabulary of pattern names, used by every screen (the ``tutor heads`` grid, its
#: text, the explorer): pattern -> name. "first" is named "[CLS]" and "last" "[SEP]" when
#: the sentence's first / last token is that token; "one token" is named by the token itself.
PATTERN_NAMES = {"first": "first token", "last": "last token", "itself": "itself",
                 "previous": "previous token", "next": "next token", "one token": "one token",
                 "broad": "broad"}


@dataclass(frozen=True)
class HeadPattern:
    """The label of one attention matrix and the evidence: ``shares[p]`` is the mean weight
    a query gives to pattern p's target; ``share`` is the winning one's; ``key`` is the key
    position every query looks at for "first", "last" and "one token" (else None)."""

    label: str
    pattern: str                                                       # a PATTERNS entry or "broad"
    share: float
    shares: dict[str, float]
    key: int | None = None


def head_pattern(weights, tokens=None, *, mask=None,
                 threshold: float = PATTERN_THRESHOLD) -> HeadPattern:
    """Label one head's attention matrix [n_q, n_k] (rows sum to 1) by a simple stated rule.

    For query position i, each pattern names one key position (its target):
      previous token: i - 1 (defined for i >= 1); next token: i + 1 (for i <= n - 2);
      itself: i; first token: 0 (label "[CLS]" when tokens[0] is [CLS], else "first token");
      last token: n - 1 ("[SEP]" when tokens[-1] is [SEP], else "end");
      one token: the same position j for every query, the inner position (0 < j < n - 1)
      with the largest column mean (label: that token, e.g. "cat" or "position 3").
    Forced rows are left out: a query row with a single allowed key (a causal model's first
    query, which the mask puts entirely on the first token) says nothing about the head.
    ``mask`` [n, n] (True = not allowed, as :func:`tutor.nn.masks.causal_mask`) gives the
    allowed keys; without it a key of weight exactly 0 counts as not allowed (a masked
    key's softmax weight is exactly 0). When every row is forced, all rows are used.
    share(p) = the mean, over the kept query rows where p is defined, of the weight on its
    target. The label is the pattern with the largest share if that share is at least
    ``threshold`` (0.5: most of the attention); otherwise "broad" (no single target takes
    most of it). Exact ties go to the earlier of first, last, itself, previous, next, one
    token. Needs n >= 2. Raises ShapeError for a matrix that is not square.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[0] != weights.shape[1] or weights.shape[0] < 2:
        raise ShapeError(f"weights must be a square [n, n] matrix with n >= 2, got {weights.shape}")
    n = weights.shape[0]
    allowed = weights != 0 if mask is None else ~np.asarray(mask, dtype=bool)  # [n_q, n_k]
    if allowed.shape != weights.shape:
        raise ShapeError(f"mask must have the shape of the weights {weights.shape}, got "
                         f"{allowed.shape}")
    rows = np.flatnonzero(allowed.sum(axis=1) >= 2)                    # the rows not forced
    if rows.size == 0:
        rows = np.arange(n)
    kept = weights[rows]                                               # [n_kept, n_k]
    column_means = kept.mean(axis=0)                                   # [n_k]
    inner = int(np.argmax(column_means[1:-1])) + 1 if n > 2 else None

    def mean_at(queries, keys) -> float:
        return float(weights[queries, keys].mean()) if len(queries) else 0.0

    after_first, before_last = rows[rows >= 1], rows[rows <= n - 2]
    shares = {
        "first": float(column_means[0]),
        "last": float(column_means[n - 1]),
        "itself": mean_at(rows, rows),
        "previous": mean_at(after_first, after_first - 1),
        "next": mean_at(before_last, before_last + 1),
        "one token": 0.0 if inner is None else float(column_means[inner]),
    }
    best = max(PATTERNS, key=lambda p: (shares[p], -PATTERNS.index(p)))
    if shares[best] < threshold:
        return HeadPattern(PATTERN_NAMES["broad"], "broad", shares[best], shares)
    key = {"first": 0, "last": n - 1, "one token": inner}.get(best)
    return HeadPattern(_label(best, tokens, key), best, shares[best], shares, key)


def _label(pattern: str, tokens, key) -> str:
    if pattern == "first" and tokens and tokens[0] == "[CLS]":
        return "[CLS]"
    if pattern == "last" and tokens and tokens[-1] == "[SEP]":
        return "[SEP]"
    if pattern == "one token":
        return f"{tokens[key]!r}" if tokens else f"position {key}"
    return PATTERN_NAMES[pattern]


def head_patterns(attentions, tokens=None, *, mask=None, threshold: float = PATTERN_THRESHOLD):
    """:func:`head_pattern` for every head: attentions [n_layer, n_head, n, n] (and the
    ``mask`` [n, n] they were computed with, True = not allowed) -> [n_layer][n_head]
    HeadPattern."""
    attentions = np.asarray(attentions)
    if attentions.ndim != 4:
        raise ShapeError(f"attentions must be [n_layer, n_head, n, n], got {attentions.shape}")
    return [[head_pattern(head, tokens, mask=mask, threshold=threshold) for head in layer]
            for layer in attentions]


# -- contextual similarity -------------------------------------------------------------------

def word_pieces(text: str, offsets, special, word: str) -> list[int]:
    """Token positions that make up the first whole-word occurrence of ``word`` in ``text``
    (case-insensitive): every non-special token whose character span lies inside the word's.
    Raises TutorError when the word is not in the text."""
    match = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags=re.IGNORECASE)
    if match is None:
        raise TutorError(f"the word {word!r} is not in {text!r}")
    start, end = match.span()
    pieces = [i for i, ((a, b), is_special) in enumerate(zip(offsets, special))
              if not is_special and b > a and a < end and b > start]
    if not pieces:
        raise TutorError(f"no token of {text!r} covers the word {word!r}")
    return pieces


def similarity_by_stage(hidden_a, pieces_a, hidden_b, pieces_b) -> np.ndarray:
    """Cosine similarity of one word's vector in two sentences at every stage.

    ``hidden_*``: n_stage arrays [n, d_model] (the embedding stage's output, then each
    layer's); ``pieces_*``: the word's token positions. A word split into several pieces is
    represented by the mean of its pieces' vectors. Returns [n_stage].
    """
    if len(hidden_a) != len(hidden_b):
        raise ShapeError(f"got {len(hidden_a)} stages for one sentence and {len(hidden_b)} for the other")
    return np.array([cosine_similarity(np.mean(ha[pieces_a], axis=0, dtype=np.float64),
                                       np.mean(hb[pieces_b], axis=0, dtype=np.float64))
                     for ha, hb in zip(hidden_a, hidden_b)])          # [n_stage]


@dataclass(frozen=True)
class ContextComparison:
    """How similar a word's vector is in two sentences, stage by stage (embeddings, then
    each layer), for the word and for a control word found in both sentences."""

    word: str
    control: str
    stages: list[str]                                                  # "embeddings", "layer 1", ...
    similarity: np.ndarray                                             # [n_stage]
    control_similarity: np.ndarray                                     # [n_stage]
    tokens_a: list[str]
    tokens_b: list[str]
    pieces_a: list[int]
    pieces_b: list[int]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def default_control(sentence_a: str, sentence_b: str, word: str) -> str:
    """The control word: the first word of sentence A, other than ``word``, that also
    appears in sentence B (its meaning is taken to be the same in both).
    Raises TutorError when the sentences share no other word."""
    common = [w for w in _words(sentence_a) if w != word.lower() and w in set(_words(sentence_b))]
    if not common:
        raise TutorError("the two sentences share no word besides "
                         f"{word!r}; give a control word that is in both")
    return common[0]


def contextual_similarity(model, sentence_a: str, sentence_b: str, word: str, *,
                          control: str | None = None) -> ContextComparison:
    """The contextual-embedding idea, measured: cos(word in A, word in B) after the
    embedding stage and after each layer, and the same for a control word.

    At the embedding stage a word's vector depends only on the word and its position; each
    layer mixes in the other tokens, so a word with two meanings (bank: river / money)
    drifts apart while the control stays closer. A word cut into pieces is the mean of its
    pieces (see :func:`similarity_by_stage`). Raises TutorError when a word is missing.
    """
    control = default_control(sentence_a, sentence_b, word) if control is None else control
    enc_a, out_a = model.run(sentence_a, output_attentions=False)
    enc_b, out_b = model.run(sentence_b, output_attentions=False)

    def pieces(enc, text, w):
        return word_pieces(text, enc.offsets, enc.special, w)

    word_a, word_b = pieces(enc_a, sentence_a, word), pieces(enc_b, sentence_b, word)
    ctl_a, ctl_b = pieces(enc_a, sentence_a, control), pieces(enc_b, sentence_b, control)
    stages = ["embeddings"] + [f"layer {i + 1}" for i in range(len(out_a.hidden_states) - 1)]
    return ContextComparison(
        word, control, stages,
        similarity_by_stage(out_a.hidden_states, word_a, out_b.hidden_states, word_b),
        similarity_by_stage(out_a.hidden_states, ctl_a, out_b.hidden_states, ctl_b),
        enc_a.tokens, enc_b.tokens, word_a, word_b)
