"""A teacher-forced pass of a toy model (``walkthroughs.learning.teacher_forcing``): the
probability of each right next token, the loss, and the last decoder layer's
cross-attention, built from what the engine recorded. Nothing here computes."""

from __future__ import annotations

import re

from .builder import DocumentBuilder
from .document import Document


def position_labels(recording) -> list[str]:
    """One label per target position: what the decoder reads → what it should write."""
    info = recording.info
    return [f"{r} → {w}" for r, w in zip(info["reads"], info["writes"])]


def last_cross_attention(recording) -> str:
    """The trace name of the last decoder layer's cross-attention weights."""
    layers = [int(m.group(1)) for name in recording.trace
              if (m := re.fullmatch(r"transformer\.decoder\.layers\.(\d+)\.multihead_attn\."
                                    r"weights", name))]
    return f"transformer.decoder.layers.{max(layers)}.multihead_attn.weights"


def teacher_forcing_document(recording, *, precision: int = 2, model_name: str,
                             trained: bool) -> Document:
    """p(the right next token) at each position and the loss (step ``loss``), and head 1 of
    the last decoder layer's cross-attention (step ``cross``). ``model_name``: the shipped
    model's; ``trained``: False for the weights training starts from."""
    w = DocumentBuilder(recording.trace, precision)
    info = recording.info
    steps = position_labels(recording)
    w.matrices_step("loss", w.first_matrix("p(the right next token)", "correct_prob", steps,
                                           ["p(right)"], caption="reads → should write"),
                    w.first_matrix("loss = mean of −log p", "loss.loss", ["loss"], ["value"]))
    w.matrices_step("cross", w.first_matrix(
        "cross-attention, last decoder layer, head 1", last_cross_attention(recording),
        list(info["reads"]), list(info["source"]), heat=True,
        caption="rows: what the decoder has read; columns: the source digits"))
    state = "trained" if trained else "untrained (the weights training starts from)"
    facts = [f"The shipped '{model_name}' model, {state}: source {' '.join(info['source'])}, "
             f"right answer {' '.join(info['writes'][:-1])}. The decoder reads the right "
             f"answer shifted by one (teacher forcing) and is scored at every position at "
             f"once."]
    return w.document("teacher-forcing", "teacher-forcing", [], {}, notes=facts)
