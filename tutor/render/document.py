"""A walkthrough as data, independent of how it is shown: a document of numbered steps, each
with a formula and one or more parts (one per attention head), each part with labelled
matrices, a worked cell and one sentence of what it means. Every emitter (Rich, Markdown,
LaTeX, JSON) renders the same document."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MASKED = "—"           # a weight that the mask does not allow
MASKED_LOGIT = "-inf"  # a masked score: -inf is added before the softmax


@dataclass
class MatrixView:
    """A matrix to show: its name, values, row and column labels and how to draw it."""

    name: str                          # "Q", "scores", "weights"
    key: str                           # the trace name, e.g. "head0.q"
    values: np.ndarray
    rows: list[str]
    cols: list[str]
    heat: bool = False                 # draw as a heatmap (values in [0, 1])
    masked: np.ndarray | None = None   # True where the mask does not allow the cell
    masked_text: str = MASKED
    caption: str = ""
    heat_range: tuple[float, float] = (0.0, 1.0)   # the values drawn palest and darkest
    compact: bool = False              # a heatmap of glyphs only, no numbers (large tables)

    def heat_fraction(self, value: float) -> float:
        """Where ``value`` lies in ``heat_range``, clipped to [0, 1]."""
        lo, hi = self.heat_range
        return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0)) if hi > lo else 0.0

    @property
    def shape(self) -> str:
        return "×".join(str(n) for n in self.values.shape)


@dataclass
class Chart:
    """A horizontal bar chart: one bar per label, lengths proportional to the values."""

    name: str
    key: str                           # the trace name of the values
    labels: list[str]
    values: np.ndarray
    caption: str = ""
    full: float | None = None          # the value drawn as a full bar (default: the largest)


@dataclass
class Part:
    """One block of a step: for one head (or the only head)."""

    heading: str = ""
    matrices: list[MatrixView] = field(default_factory=list)
    worked: list[str] = field(default_factory=list)
    meaning: str = ""
    charts: list[Chart] = field(default_factory=list)


@dataclass
class Step:
    number: int
    title: str
    formula: str                       # Unicode, e.g. "Q = X·Wq"
    latex: str                         # the same formula in LaTeX math
    parts: list[Part] = field(default_factory=list)
    key: str = ""                      # a short stable name, e.g. "scores"


@dataclass
class Document:
    """A whole walkthrough: what was asked, the tokens, the steps and every recorded array."""

    command: str
    title: str
    tokens: list[str]
    steps: list[Step]
    arrays: dict[str, np.ndarray]      # every matrix by name, full precision
    settings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    subtitle: str = ""                 # the line under the title; by default the sizes
    result: dict = field(default_factory=dict)   # the run's answer as plain JSON data (generate)


def factor(text: str) -> str:
    """A number written as a factor: '-0.7' -> '(-0.7)', so '0.3×(-0.7)' reads right."""
    return f"({text})" if text.startswith("-") else text


def signed_sum(terms) -> str:
    """'1 + -0.1 + 2' written as '1 − 0.1 + 2'."""
    out = ""
    for i, term in enumerate(terms):
        if i == 0:
            out = term
        elif term.startswith("-"):
            out += f" − {term[1:]}"
        else:
            out += f" + {term}"
    return out


def is_integral(values) -> bool:
    """True when every finite value is a whole number (then it is shown without decimals)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return bool(finite.size) and bool(np.all(finite == np.round(finite))) \
        and bool(np.all(np.abs(finite) < 1e9))


def format_number(value: float, precision: int, integral: bool = False) -> str:
    """2.0 -> '2' (integral), 0.42231 -> '0.42'; never '-0.00'; inf -> 'inf'."""
    value = float(value)
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = f"{value:.0f}" if integral else f"{value:.{precision}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text


def format_vector(values, precision: int) -> str:
    """[1, 0, 1, 0] -> '[1 0 1 0]'; decimals only when some entry needs them."""
    values = np.asarray(values, dtype=np.float64)
    integral = is_integral(values)
    return "[" + " ".join(format_number(v, precision, integral) for v in values) + "]"


def format_matrix_cells(view: MatrixView, precision: int) -> list[list[str]]:
    """The matrix as strings, masked cells shown as masked."""
    values = view.values
    allowed = values if view.masked is None else values[~view.masked]
    integral = is_integral(allowed) and not view.heat
    cells = []
    for r in range(values.shape[0]):
        row = []
        for c in range(values.shape[1]):
            if view.masked is not None and view.masked[r, c]:
                row.append(view.masked_text)
            else:
                row.append(format_number(values[r, c], precision, integral))
        cells.append(row)
    return cells


def unique_labels(tokens: list[str]) -> list[str]:
    """Row labels for tokens; a word that occurs twice gets its position: the#1, the#5."""
    counts: dict[str, int] = {}
    for tok in tokens:
        counts[tok] = counts.get(tok, 0) + 1
    return [f"{tok}#{i + 1}" if counts[tok] > 1 else tok for i, tok in enumerate(tokens)]


def dim_labels(n: int) -> list[str]:
    """Labels of a vector's entries: d1, d2, ..., dn."""
    return [f"d{i + 1}" for i in range(n)]
