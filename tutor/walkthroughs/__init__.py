"""The walkthrough layer: each topic's one run of the engine with a recording trace.

Floors (see ARCHITECTURE.md): ``tutor.nn`` computes; a walkthrough function here takes plain
arguments (tokens, arrays, a model, options), runs the engine once with a recording
:class:`~tutor.trace.Trace` and returns a :class:`Recording`: what was recorded, with the
labels to show it by. The commands (``tutor.cli``) and the lessons (``tutor.lessons``) are
two front ends over these functions; the renderers (``tutor.render``) turn a recording into
a document. This package is the only place outside the tests that makes a recording trace.

One module per topic: ``inputs`` (words, vectors, random weights), ``attention``,
``posenc``, ``norm``, ``softmax`` (softmax and why attention scales), ``stack`` (the
encoder and encoder-decoder passes), ``generation`` (writing one token at a time),
``feed_forward`` (the position-wise feed-forward network). The names each records are
declared in :mod:`tutor.walkthroughs.names`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tutor.trace import Trace


@dataclass
class Recording:
    """What one walkthrough recorded: the trace, the run's output and its labels."""

    trace: Trace
    output: object = None                  # the run's result (an array, or a tuple of them)
    tokens: list[str] = field(default_factory=list)      # labels of the main token axis
    info: dict = field(default_factory=dict)             # facts a renderer needs (sources, ...)
    walkthrough: str = ""                  # "<module>.<function>", its key in names.RECORDED
    # labels of the axes the declared shapes name ("S": the source's tokens, "h": head1, ...)
    labels: dict[str, list[str]] = field(default_factory=dict)

    def __getitem__(self, name: str):
        return self.trace[name]

    def axis_labels(self, name: str, ndim: int) -> tuple:
        """The labels of the last ``ndim`` axes of recorded entry ``name``, one item per axis:
        the labels in :attr:`labels` of the axis its declared shape names
        (:mod:`tutor.walkthroughs.names`, e.g. ``[B, h, T, S]`` for cross-attention
        weights), or None for an axis without labels, beyond the declared ones, or of an
        entry whose shape is said in words (``like x``)."""
        from .names import axis_names, shape_of

        shape = shape_of(name, self.walkthrough) if self.walkthrough else None
        axes = [a for a in axis_names(shape) or [] if a != "..."] if shape else []
        axes = ([None] * ndim + axes)[-ndim:] if ndim else []
        return tuple(None if axis is None else self.labels.get(axis) for axis in axes)

    def __contains__(self, name: str) -> bool:
        return name in self.trace


def new_trace(*, only: str = "") -> Trace:
    """A recording trace; walkthroughs make theirs here. ``only``: keep what is recorded
    under this dotted prefix alone ("layers.3."; :class:`tutor.trace.Trace`)."""
    return Trace(only=only)
