"""The step recorder: one implementation of every formula serves the walkthrough and the fast path.

Every math function takes a keyword-only ``trace``. The default, ``NULL_TRACE``, records
nothing; a :class:`Trace` keeps each named intermediate under a dotted name such as
``encoder.layers.0.self_attn.weights``. Recorded arrays are made read-only views: code that
records an array must not modify it in place afterwards.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np


class NullTrace:
    """Records nothing; the fast path."""

    enabled = False
    prefix = ""

    def record(self, name: str, value) -> None:
        pass

    def scope(self, name: str) -> "NullTrace":
        return self


NULL_TRACE = NullTrace()


class Trace:
    """Records named intermediates in the order they were computed.

    >>> t = Trace()
    >>> t.scope("head0").record("scores", np.zeros((2, 2)))
    >>> list(t)
    ['head0.scores']
    """

    enabled = True

    def __init__(self, prefix: str = "", *, only: str = "", _steps: dict | None = None):
        """``only``: a dotted prefix ("layers.3.") to keep only what is recorded under it;
        a scope that cannot lead there is :data:`NULL_TRACE`, so the rest runs the fast path."""
        self.prefix, self.only = prefix, only
        self.steps: dict[str, np.ndarray] = {} if _steps is None else _steps

    def record(self, name: str, value) -> None:
        key = self.prefix + name
        if not key.startswith(self.only):
            return
        if key in self.steps:
            raise KeyError(f"trace already holds {key!r}; use a new Trace or another scope")
        view = np.asarray(value).view()
        view.flags.writeable = False
        self.steps[key] = view

    def scope(self, name: str) -> "Trace":
        """A recorder that writes into the same store under ``prefix + name + '.'``."""
        prefix = f"{self.prefix}{name}."
        if not (prefix.startswith(self.only) or self.only.startswith(prefix)):
            return NULL_TRACE                                          # outside ``only``
        return Trace(prefix, only=self.only, _steps=self.steps)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.steps[self.prefix + name]

    def __contains__(self, name: str) -> bool:
        return self.prefix + name in self.steps

    def __iter__(self) -> Iterator[str]:
        n = len(self.prefix)
        return (key[n:] for key in self.steps if key.startswith(self.prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def names(self) -> list[str]:
        return list(self)

    def __repr__(self) -> str:
        return f"Trace(prefix={self.prefix!r}, names={self.names()!r})"


class AttentionWeights:
    """A recorder that keeps only attention weights (names ending in ``.weights``), for a
    stepper that shows the newest attention rows without recording the whole model:
    ``recorder[name]`` as a Trace. Not a Trace: only the walkthroughs make those;
    the engine uses this one where it needs attention weights alone (decoding steps,
    output_attentions, the scaling experiment)."""

    enabled = True

    def __init__(self, prefix: str = "", store: dict | None = None):
        self.prefix, self.store = prefix, {} if store is None else store

    def record(self, name: str, value) -> None:
        if name == "weights":
            self.store[self.prefix + name] = value

    def scope(self, name: str) -> "AttentionWeights":
        return AttentionWeights(f"{self.prefix}{name}.", self.store)

    def __getitem__(self, name: str):
        return self.store[self.prefix + name]
