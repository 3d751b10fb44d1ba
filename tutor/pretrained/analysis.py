"""Measurements on a pretrained model's numbers, for ``tutor context`` (a word's vector across
two sentences). Pure functions of arrays and token lists (plus one that runs the model): no
printing. Head patterns (``tutor heads``) are the engine's: :mod:`tutor.nn.analysis`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError, TutorError, quote
from ..nn.analysis import (PATTERN_NAMES, PATTERN_THRESHOLD, PATTERNS,  # noqa: F401  (re-exported)
                           HeadPattern, head_pattern, head_patterns)
from ..nn.functional import cosine_similarity

# -- contextual similarity -------------------------------------------------------------------

def word_pieces(text: str, offsets, special, word: str) -> list[int]:
    """Token positions that make up the first whole-word occurrence of ``word`` in ``text``
    (case-insensitive): every non-special token whose character span lies inside the word's.
    Raises TutorError when the word is not in the text."""
    match = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags=re.IGNORECASE)
    if match is None:
        raise TutorError(f"the word {quote(word)} is not in {quote(text)}")
    start, end = match.span()
    pieces = [i for i, ((a, b), is_special) in enumerate(zip(offsets, special))
              if not is_special and b > a and a < end and b > start]
    if not pieces:
        raise TutorError(f"no token of {quote(text)} covers the word {quote(word)}")
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
                         f"{quote(word)}; give a control word that is in both")
    return common[0]


def contextual_similarity(model, sentence_a: str, sentence_b: str, word: str, *,
                          control: str | None = None, encodings=None) -> ContextComparison:
    """The contextual-embedding idea, measured: cos(word in A, word in B) after the
    embedding stage and after each layer, and the same for a control word.

    At the embedding stage a word's vector depends only on the word and its position; each
    layer mixes in the other tokens, so a word with two meanings (bank: river / money)
    drifts apart while the control stays closer. A word cut into pieces is the mean of its
    pieces (see :func:`similarity_by_stage`). ``encodings``: the two sentences' tokens
    (Encoding, Encoding) when the caller has them (each sentence tokenized once). Raises
    TutorError when a word is missing.
    """
    control = default_control(sentence_a, sentence_b, word) if control is None else control
    if encodings is None:
        enc_a, out_a = model.run(sentence_a, output_attentions=False)
        enc_b, out_b = model.run(sentence_b, output_attentions=False)
    else:
        enc_a, enc_b = encodings
        out_a = model.forward(np.asarray(enc_a.ids), output_attentions=False)
        out_b = model.forward(np.asarray(enc_b.ids), output_attentions=False)

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
