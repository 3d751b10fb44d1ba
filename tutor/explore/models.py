"""The explorer's model mode without the screen: a trained model's attention, one block
(layer and kind of attention) and one head at a time, with the head's pattern label.

Models are found by :func:`tutor.pretrained.resolve_model` (a shipped toy model such as
``reverse``, a Hugging Face folder, the local cache, or a package such as ``minilm``). The
run is the walkthrough :func:`tutor.walkthroughs.heads.toy_model_heads` or
:func:`~tutor.walkthroughs.heads.pretrained_heads`; the matrix shown is a
:class:`~tutor.render.document.MatrixView` for the renderers; the pattern label is
:func:`tutor.pretrained.analysis.head_pattern`'s.
"""

from __future__ import annotations

import numpy as np

from tutor.errors import SettingError, TutorError
from tutor.render.document import MatrixView, unique_labels
from tutor.walkthroughs import Recording

#: The input a model starts with: a toy model's tasks read 1 to 8 digits.
TOY_SENTENCE = "31415"
TEXT_SENTENCE = "the cat sat on the mat"
MAX_TEXT_TOKENS = 64     # tokens of a pretrained model's input (the screen stays readable)


def head_label(weights: np.ndarray, tokens: list[str]) -> str | None:
    """The pattern label of one head's self-attention weights [n, n] ("previous token",
    "itself", "first token", "broad", ...), by :func:`tutor.pretrained.analysis.head_pattern`'s
    stated rule with its share of the weight; None when the library is absent or n < 2."""
    try:
        from tutor.pretrained.analysis import head_pattern
    except ImportError:
        return None
    if weights.shape[0] < 2 or weights.shape[0] != weights.shape[1]:
        return None
    found = head_pattern(weights, tokens)
    return f"{found.label} ({found.share:.2f} of each query's weight on average)"


class ModelState:
    """A model, a sentence, the block and the head shown. ``name`` is what ``--model``
    accepts (see :func:`tutor.pretrained.resolve_model`). Raises SettingError naming
    ``--model`` for a model that cannot be found or read, and naming ``sentence`` for input
    the model cannot read."""

    def __init__(self, name: str, sentence: str | None = None, *, precision: int = 2):
        from tutor.pretrained import load_pretrained, resolve_model
        from tutor.training.shipped import load_model as load_toy_model

        try:
            where = resolve_model(name)
            if where.kind == "toy":
                self.kind = "toy"
                self.model = load_toy_model(where.path, name=where.name)
            else:
                self.kind = "pretrained"
                self.model = load_pretrained(where.path, name=where.name)
        except TutorError as exc:
            raise SettingError("model", f"--model: {exc}") from None
        self.name = where.name
        self.precision = precision
        self.block = 0
        self.head = 0
        self.sentence = ""
        self.recording: Recording | None = None
        default = TOY_SENTENCE if self.kind == "toy" else TEXT_SENTENCE
        self.set_sentence(default if sentence is None else sentence)

    # --- changes ---------------------------------------------------------------------------
    def set_sentence(self, text: str) -> None:
        """Run the model on ``text`` (digits for a toy model); nothing changes when refused."""
        from tutor.walkthroughs.heads import pretrained_heads, toy_model_heads

        try:
            if self.kind == "toy":
                recording = toy_model_heads(self.model, text.strip())
            else:
                if not text.strip():
                    raise TutorError("expected some text, got an empty input")
                count = len(self.model.encode(text).tokens)
                if count > MAX_TEXT_TOKENS:
                    raise TutorError(f"expected at most {MAX_TEXT_TOKENS} tokens, got {count}")
                recording = pretrained_heads(self.model, text)
        except TutorError as exc:
            raise SettingError("sentence", f"sentence: {exc}") from None
        self.sentence, self.recording = text, recording
        self.block = min(self.block, len(self.blocks) - 1)

    def move_block(self, step: int) -> None:
        """The next (or previous) block, wrapping around."""
        self.block = (self.block + step) % len(self.blocks)

    def move_head(self, step: int) -> None:
        """The next (or previous) head, wrapping around."""
        self.head = (self.head + step) % self.n_heads

    # --- what is shown ---------------------------------------------------------------------
    @property
    def blocks(self):
        return self.recording.info["blocks"]

    @property
    def n_heads(self) -> int:
        return int(self.recording[self.blocks[0].key].shape[1])

    def weights(self, block: int | None = None, head: int | None = None) -> np.ndarray:
        """One head's attention weights [n_q, n_k] (rows: queries, each sums to 1)."""
        found = self.blocks[self.block if block is None else block]
        return np.asarray(self.recording[found.key][0, self.head if head is None else head])

    def label(self, block: int | None = None, head: int | None = None) -> str | None:
        """The head's pattern label, for self-attention only (None for cross-attention)."""
        found = self.blocks[self.block if block is None else block]
        if not found.self_attention:
            return None
        return head_label(self.weights(block, head), found.queries)

    def view(self) -> MatrixView:
        """The current head's weights as the renderers draw a heatmap, masked keys (later
        positions of a masked self-attention) shown as masked."""
        found = self.blocks[self.block]
        weights = self.weights()                                        # [n_q, n_k]
        masked = None
        if found.title.endswith("masked self-attention"):               # decoder, GPT-2
            masked = np.triu(np.ones(weights.shape, bool), 1)           # True above the diagonal
        name = f"head {self.head + 1} weights"
        return MatrixView(name, f"{found.key}[0, {self.head}]", weights,
                          unique_labels(found.queries), unique_labels(found.keys), heat=True,
                          masked=masked, caption="rows: queries · columns: keys · each row sums to 1")

    def heading(self) -> str:
        """'reverse (toy model, task reverse): 31415 → 51413' or the model's sizes."""
        info = self.recording.info
        if self.kind == "toy":
            return (f"{self.name} (toy model, task {info['task']}): {self.sentence.strip()} → "
                    f"{info['answer']}")
        config = self.model.config
        return (f"{self.name} ({config.model_type}, {config.n_layer} layers × "
                f"{config.n_head} heads, d_model {config.d_model}): "
                f"{len(info['tokens'])} tokens")
