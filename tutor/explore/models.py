"""The explorer's model mode without the screen: a trained model's attention, one block
(layer and kind of attention) and one head at a time, with the head's pattern label.

The model is a shipped toy model (:class:`tutor.training.shipped.TrainedModel`: reverse,
copy, sort) or a real one (:class:`tutor.pretrained.PretrainedModel`), opened by the command.
The run is the walkthrough :func:`tutor.walkthroughs.toy_heads.toy_model_heads` or
:func:`tutor.walkthroughs.pretrained.model_heads`; the matrix shown is a
:class:`~tutor.render.document.MatrixView` for the renderers; the pattern labels are
:func:`tutor.pretrained.head_pattern`'s.
"""

from __future__ import annotations

import numpy as np

from tutor.errors import SettingError, TutorError
from tutor.render.document import MatrixView, format_number, unique_labels
from tutor.walkthroughs import Recording
from tutor.walkthroughs.toy_heads import AttentionBlock

#: The input a model starts with: a toy model's tasks read 1 to 8 digits, the dates model a
#: written date.
TOY_SENTENCE = "31415"
DATE_SENTENCE = "7 December 2026"
TEXT_SENTENCE = "the cat sat on the mat"


def pattern_text(found) -> str:
    """'previous token (0.83 of each query's weight on average)' from a HeadPattern."""
    return f"{found.label} ({found.share:.2f} of each query's weight on average)"


def _spans(labels: list[str], indices: list[int]) -> str:
    """'8', '1…3 and 8': the labels at ``indices`` (sorted), neighbours as first…last."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    texts = [labels[r[0]] if len(r) == 1 else f"{labels[r[0]]}…{labels[r[-1]]}" for r in runs]
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]


def cut_note(view: MatrixView, columns: list[int], rows: list[int], *,
             weights: bool = True) -> str | None:
    """What a screen that shows only part of a matrix leaves out: the columns and rows (by
    index) not shown, named by their labels; None when everything is shown.

    With ``weights`` the matrix is attention weights [n_q, n_k], each row summing to 1
    (masked cells, ``view.masked``, hold none): its columns are keys, its rows queries, and
    the note gives the largest share of one query's weight the keys not shown hold, so that
    "each row sums to 1" stays true of what is read. Example: key 8 cut from the row <bos>
    [0.16, 0.84] → 'Not shown: 1 of 2 keys (8), up to 0.84 of a row's weight (query <bos>)'.
    """
    parts = []
    col_noun, row_noun = ("key", "query") if weights else ("column", "row")
    if columns:
        n_cols = len(view.cols)
        text = (f"{len(columns)} of {n_cols} {col_noun}{'' if n_cols == 1 else 's'} "
                f"({_spans(view.cols, sorted(columns))})")
        if weights:
            values = np.asarray(view.values, dtype=np.float64)         # [n_q, n_k]
            if view.masked is not None:
                values = np.where(view.masked, 0.0, values)
            hidden = values[:, sorted(columns)].sum(axis=1)            # [n_q] weight cut
            top = int(np.argmax(hidden))
            text += (f", up to {format_number(hidden[top], 2)} of a row's weight "
                     f"(query {view.rows[top]})")
        parts.append(text)
    if rows:
        n_rows = len(view.rows)
        plural = "" if n_rows == 1 else ("ies" if row_noun == "query" else "s")
        noun = ("quer" if row_noun == "query" and n_rows != 1 else row_noun) + plural
        parts.append(f"{len(rows)} of {n_rows} {noun} ({_spans(view.rows, sorted(rows))})")
    if not parts:
        return None
    return "Not shown: " + "; ".join(parts)


class ModelState:
    """A model, a sentence, the block and the head shown. ``model`` is a toy model, a
    pretrained one, or either's adapter (:mod:`tutor.walkthroughs.models`). Raises SettingError naming ``sentence`` for input the
    model cannot read, and changes nothing then."""

    def __init__(self, model, sentence: str | None = None, *, precision: int = 2):
        from tutor.walkthroughs.models import adapt

        self.model = adapt(model)                                      # the one --model contract
        self.kind = self.model.kind
        self.name = self.model.name
        self.precision = precision
        self.block = 0
        self.head = 0
        self.sentence = ""
        self.recording: Recording | None = None
        self._blocks: list[AttentionBlock] = []
        default = TOY_SENTENCE if self.kind == "toy" else TEXT_SENTENCE
        if self.kind == "toy" and self.model.trained.task == "dates":
            default = DATE_SENTENCE
        self.set_sentence(default if sentence is None else sentence)

    # --- changes ---------------------------------------------------------------------------
    def set_sentence(self, text: str) -> None:
        """Run the model on ``text`` (digits for a toy model); nothing changes when refused."""
        try:
            recording = self.model.heads(text)
            blocks = self.model.attention_blocks(recording)
        except TutorError as exc:
            raise SettingError("sentence", f"sentence: {exc}") from None
        self.sentence, self.recording, self._blocks = text, recording, blocks
        self.block = min(self.block, len(self.blocks) - 1)

    def move_block(self, step: int) -> None:
        """The next (or previous) block, wrapping around."""
        self.block = (self.block + step) % len(self.blocks)

    def move_head(self, step: int) -> None:
        """The next (or previous) head, wrapping around."""
        self.head = (self.head + step) % self.n_heads

    # --- what is shown ---------------------------------------------------------------------
    @property
    def blocks(self) -> list[AttentionBlock]:
        return self._blocks

    @property
    def n_heads(self) -> int:
        first = self.blocks[0]
        return int(self.recording[first.key][first.index].shape[0])

    def weights(self, block: int | None = None, head: int | None = None) -> np.ndarray:
        """One head's attention weights [n_q, n_k] (rows: queries, each sums to 1)."""
        found = self.blocks[self.block if block is None else block]
        head = self.head if head is None else head
        return np.asarray(self.recording[found.key][found.index + (head,)])

    def label(self, block: int | None = None, head: int | None = None) -> str | None:
        """The head's pattern label, for self-attention of at least two tokens (None for
        cross-attention): the walkthrough's own (``info["patterns"]``, one list per block)."""
        block = self.block if block is None else block
        head = self.head if head is None else head
        patterns = self.recording.info["patterns"][block]              # None: cross-attention
        return None if patterns is None else pattern_text(patterns[head])

    def view(self) -> MatrixView:
        """The current head's weights as the renderers draw a heatmap, masked keys (later
        positions of a masked self-attention) shown as masked."""
        found = self.blocks[self.block]
        weights = self.weights()                                        # [n_q, n_k]
        masked = found.mask()                                           # decoder, GPT-2; or None
        name = f"head {self.head + 1} weights"
        index = ", ".join(str(i) for i in found.index + (self.head,))
        return MatrixView(name, f"{found.key}[{index}]", weights,
                          unique_labels(found.queries), unique_labels(found.keys), heat=True,
                          masked=masked, row_scaled=True,
                          caption="rows: queries · columns: keys · each row sums to 1; shades "
                                  "scaled to each row's largest weight")

    def heading(self) -> str:
        """'reverse (toy model, task reverse): 31415 → 51413' or the model's sizes."""
        info = self.recording.info
        if self.kind == "toy":
            return (f"{self.name} (toy model, task {info['task']}): {self.sentence.strip()} → "
                    f"{info['answer']}")
        return (f"{self.name} ({info['model_type']}, {info['n_layer']} layers × "
                f"{info['n_head']} heads, d_model {info['d_model']}): "
                f"{len(info['tokens'])} tokens")
