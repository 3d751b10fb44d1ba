"""The one document builder every renderer uses.

A :class:`DocumentBuilder` reads arrays from a recorded trace by name (never computes them),
turns them into labelled :class:`~tutor.render.document.MatrixView` objects, numbers the steps
in the order they are added, and assembles the :class:`~tutor.render.document.Document`
every emitter (Rich, Markdown, LaTeX, JSON) renders.
"""

from __future__ import annotations

import numpy as np

from .document import (Chart, Document, MatrixView, Part, Step, dim_labels, format_number,
                       format_vector, is_integral)


class DocumentBuilder:
    """Steps built from one trace, numbered 1, 2, ... as they are added. ``index`` picks a
    slice of a batched entry, e.g. (0, 1) is batch item 0, head 1; the view's key says which
    slice it shows."""

    def __init__(self, trace, precision: int = 2):
        self.trace = trace
        self.precision = precision
        self.steps: list[Step] = []

    # --- numbers -------------------------------------------------------------------------
    def fmt(self, value, integral: bool | None = None) -> str:
        if integral is None:
            integral = is_integral([value])
        return format_number(value, self.precision, integral)

    def vec(self, values) -> str:
        return format_vector(values, self.precision)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.trace[key]

    def __contains__(self, key: str) -> bool:
        return key in self.trace

    # --- views ---------------------------------------------------------------------------
    def view(self, name: str, key: str, rows=None, cols=None, *, index: tuple = (),
             **options) -> MatrixView:
        """The trace entry ``key`` (sliced by ``index``) as a labelled matrix; a vector is
        shown as one row. Rows and columns default to r1.. and d1.."""
        values = np.asarray(self.trace[key])[index] if index else np.asarray(self.trace[key])
        if values.ndim == 0:
            values = values.reshape(1, 1)
        elif values.ndim == 1:
            values = values[None, :]
        rows = rows or [f"r{i + 1}" for i in range(values.shape[0])]
        cols = cols or dim_labels(values.shape[1])
        shown = key + ("[" + ", ".join(str(i) for i in index) + "]" if index else "")
        return MatrixView(name, shown, values, list(rows), list(cols), **options)

    def first_matrix(self, name: str, key: str, rows=None, cols=None, **options) -> MatrixView:
        """The trace entry ``key`` as a 2-D matrix: the first item of every leading axis (a
        batch of one dropped, the first head kept), a vector as one row. Labels that do not
        fit the shape give way to 1, 2, ... and d1, d2, ..."""
        values = np.asarray(self.trace[key])
        while values.ndim > 2:
            values = values[0]
        if values.ndim == 1:
            values = values[None, :]
        if values.ndim == 0:
            values = values.reshape(1, 1)
        n_rows, n_cols = values.shape
        rows = list(rows) if rows is not None and len(rows) == n_rows else \
            [str(i + 1) for i in range(n_rows)]
        cols = list(cols) if cols is not None and len(cols) == n_cols else dim_labels(n_cols)
        return MatrixView(name, key, values, rows, cols, **options)

    def chart(self, name: str, key: str, labels, *, values=None, caption: str = "",
              full: float | None = None) -> Chart:
        values = np.asarray(self.trace[key] if values is None else values, dtype=np.float64)
        return Chart(name, key, list(labels), values, caption, full)

    # --- steps ---------------------------------------------------------------------------
    def step(self, title: str, formula: str, latex: str, parts: list[Part] | Part,
             key: str) -> Step:
        if isinstance(parts, Part):
            parts = [parts]
        step = Step(len(self.steps) + 1, title, formula, latex, parts, key=key)
        self.steps.append(step)
        return step

    def matrices_step(self, key: str, *views: MatrixView) -> Step:
        """A step of matrices only, titled and keyed ``key``, without a formula: a lesson
        shows such steps side by side in one panel and may show one of its matrices alone."""
        return self.step(key, "", "", Part("", list(views)), key=key)

    def document(self, command: str, title: str, tokens: list[str], settings: dict, *,
                 subtitle: str = "", notes: list[str] | None = None,
                 extra: dict | None = None) -> Document:
        arrays = {name: self.trace.steps[name] for name in self.trace.steps}
        return Document(command, title, list(tokens), self.steps, arrays, settings,
                        notes or [], subtitle=subtitle, extra=extra or {})

