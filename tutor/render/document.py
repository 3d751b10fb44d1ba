"""A walkthrough as data, independent of how it is shown: a document of numbered steps, each
with a formula and one or more parts (one per attention head), each part with labelled
matrices, a worked cell and one sentence of what it means. Every emitter (Rich, Markdown,
LaTeX, JSON) renders the same document."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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
    bare: bool = False                 # compact, without row labels, shape or range (a grid)
    row_scaled: bool = False           # shades and bars scaled to each row's largest value
    labelled: bool = False             # a bare view with short token labels on both axes
    # a large matrix drawn by its first rows × columns (the screen draws more columns where
    # its width allows them; --format json has them all)
    window: tuple[int, int] | None = None
    whole: tuple[int, int] | None = None   # a corner's: the shape of the matrix it is cut from

    def heat_fraction(self, value: float) -> float:
        """Where ``value`` lies in ``heat_range``, clipped to [0, 1]."""
        lo, hi = self.heat_range
        return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0)) if hi > lo else 0.0

    def heat_fractions(self) -> np.ndarray:
        """Every cell's shade in [0, 1]: where it lies in ``heat_range``, or with
        ``row_scaled`` its share of the largest (unmasked, finite) value of its row, so that 32
        weights near 1/32 still show which keys a query prefers; NaN where the value is NaN or
        infinite (no place on the scale: drawn '?'). [rows, cols]"""
        values = np.asarray(self.values, dtype=np.float64)
        bad = ~np.isfinite(values)                                            # [rows, cols]
        if not self.row_scaled:
            fractions = np.vectorize(self.heat_fraction, otypes=[float])(
                np.where(bad, 0.0, values))                                   # [rows, cols]
            return np.where(bad, np.nan, fractions)
        shown = np.where(bad, 0.0, values)
        shown = shown if self.masked is None else np.where(self.masked, 0.0, shown)
        top = np.max(np.abs(shown), axis=1, keepdims=True)                    # [rows, 1]
        safe = np.where(top > 0, top, 1.0)
        fractions = np.clip(np.where(top > 0, shown / safe, 0.0), 0.0, 1.0)   # [rows, cols]
        return np.where(bad, np.nan, fractions)

    @property
    def shape(self) -> str:
        """The matrix's real shape, '6×50', also when only a corner of it is drawn."""
        return "×".join(str(n) for n in (self.whole or self.values.shape))

    def corner(self, columns: int | None = None, *, at_least: bool = True) -> "MatrixView":
        """The part drawn: the whole view, or with a ``window`` its first rows and its first
        ``columns`` columns (default: the window's; with ``at_least`` never fewer), titled
        with the real shape."""
        if self.window is None:
            return self
        n_rows, n_cols = self.values.shape
        r = min(n_rows, self.window[0])
        c = self.window[1] if columns is None else columns
        c = min(n_cols, max(c, self.window[1]) if at_least else c)
        return replace(self, values=self.values[:r, :c], rows=self.rows[:r], cols=self.cols[:c],
                       masked=None if self.masked is None else self.masked[:r, :c],
                       window=None, whole=(n_rows, n_cols))

    def cut_note(self, start: int = 0, stop: int | None = None) -> str:
        """Which part of the matrix a table shows: 'columns 1–8 of 50', 'rows 1–6 of 50,
        columns 1–6 of 50', 'columns 9–16' (a chunk of a matrix split over tables), or ''
        for all of it. ``start``, ``stop``: the chunk's columns (0-based, stop excluded)."""
        n_rows, n_cols = self.values.shape
        total_rows, total_cols = self.whole or (n_rows, n_cols)
        stop = n_cols if stop is None else stop
        notes = []
        if n_rows < total_rows:
            notes.append(f"rows 1–{n_rows} of {total_rows}")
        if stop - start < total_cols:
            cols = f"column {stop}" if stop - start == 1 else f"columns {start + 1}–{stop}"
            notes.append(cols + (f" of {total_cols}" if n_cols < total_cols else ""))
        return ", ".join(notes)

    def title(self, start: int = 0, stop: int | None = None) -> str:
        """'X  6×50  (columns 1–8 of 50)': the name, the real shape and what is shown."""
        note = self.cut_note(start, stop)
        return f"{self.name}  {self.shape}" + (f"  ({note})" if note else "")


@dataclass
class Chart:
    """A horizontal bar chart: one bar per label, lengths proportional to the values."""

    name: str
    key: str                           # the trace name of the values
    labels: list[str]
    values: np.ndarray
    caption: str = ""
    full: float | None = None          # the value drawn as a full bar (default: the largest)


DEFAULT_TOP_KEYS = 3    # lines drawn per query in a lines view: its strongest keys
MIN_LINE_WEIGHT = 0.01  # a weight below this gets no line (1e-6 would be noise on screen)


@dataclass
class LinesView:
    """Attention drawn as lines (bertviz's view): the queries in a left column, the keys in a
    right one, a line from each query to each of its ``top`` strongest keys, the weight as the
    line's strength; several heads overlaid, each in its colour. Only what was recorded is
    drawn: ``weights`` are the recorded weights under ``key`` (a declared name), [heads,
    queries, keys], each row summing to 1 (masked keys hold 0 and get no line)."""

    name: str                          # "layer 1, heads 1–12"
    key: str                           # the trace name of the weights, e.g. "attentions"
    weights: np.ndarray                # [n_heads, n_q, n_k]
    queries: list[str]
    keys: list[str]
    heads: list[int]                   # the heads shown, numbered from 1 (one per weights row)
    top: int = DEFAULT_TOP_KEYS        # lines per query: its strongest keys
    selected: int | None = None        # a query whose lines are highlighted (the explorer)

    def top_keys(self) -> list[list[list[tuple[int, float]]]]:
        """For each head and query its ``top`` strongest keys as (key index, weight), the
        strongest first, ties in key order; keys of weight below MIN_LINE_WEIGHT (masked, or
        all weight elsewhere) get no line. [head][query] -> [(key, weight), ...]"""
        weights = np.asarray(self.weights, dtype=np.float64)
        out = []
        for head in weights:                                           # [n_q, n_k]
            rows = []
            for row in head:
                order = np.argsort(-row, kind="stable")[:self.top]
                rows.append([(int(k), float(row[k])) for k in order
                             if row[k] >= MIN_LINE_WEIGHT])
            out.append(rows)
        return out

    def note(self) -> str:
        """What is drawn: 'top 3 keys per query of 64, weights ≥ 0.01' or 'every key of 3,
        weights ≥ 0.01'."""
        n_k = len(self.keys)
        return (f"every key of {n_k}" if self.top >= n_k
                else f"top {self.top} keys per query of {n_k}") + f", weights ≥ {MIN_LINE_WEIGHT}"


@dataclass
class Part:
    """One block of a step: for one head (or the only head)."""

    heading: str = ""
    matrices: list[MatrixView] = field(default_factory=list)
    worked: list[str] = field(default_factory=list)
    meaning: str = ""
    charts: list[Chart] = field(default_factory=list)
    lines: list[LinesView] = field(default_factory=list)


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
    extra: dict = field(default_factory=dict)   # more top-level JSON keys (arrays allowed)
    listing: bool = False              # a listing (tutor models), not a walkthrough: its
    #                                    sections are not "Step i of n", its lines not "Worked:"


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


def minus(left: str, right: str) -> str:
    """'1 − 2', and '1 − -2' written as '1 + 2'."""
    return f"{left} + {right[1:]}" if right.startswith("-") else f"{left} − {right}"


def is_integral(values) -> bool:
    """True when every finite value is a whole number (then it is shown without decimals)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return bool(finite.size) and bool(np.all(finite == np.round(finite))) \
        and bool(np.all(np.abs(finite) < 1e9))


MIN_SIGNIFICANT = 2     # significant digits every non-zero number keeps, whatever --precision
MAX_FIXED_DECIMALS = 4  # beyond this (and beyond --precision) a small number is written 1.2e-05
SCIENTIFIC_FROM = 1e9   # numbers this large are written 1.2e+09


def format_number(value: float, precision: int, integral: bool = False) -> str:
    """A number as shown: ``precision`` decimals (0.42231 -> '0.42'), but never fewer than two
    significant digits, so that no number reads as something else: 0.5 at precision 0 is
    '0.5' (not '0'), 0.576 is '0.58' (not '1'), 2.37 is '2.4'; 0.042 at precision 2 is
    '0.042', 0.0403 is '0.040' and 0.0099998 is '0.010' (a zero that is a significant digit
    stays), while an exact 0.08 stays '0.08' (end zeros are dropped only where the shorter
    number is the value itself). Scientific notation
    where that would need more than max(precision, 4) decimals (1e-06 -> '1.0e-06'), and
    from 1e9 up. 2.0 -> '2' when ``integral``; never '-0.00';
    inf -> 'inf', nan -> 'nan'."""
    value = float(value)
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    size = abs(value)
    digits = max(precision, MIN_SIGNIFICANT) - 1                     # after the point, in 1.2e-05
    if size >= SCIENTIFIC_FROM:
        text = f"{value:.{digits}e}"
    elif integral:
        text = f"{value:.0f}"
    else:
        text = f"{value:.{precision}f}"
        if value != 0:
            exponent = int(f"{size:.{MIN_SIGNIFICANT - 1}e}".split("e")[1])   # after rounding
            needed = MIN_SIGNIFICANT - 1 - exponent                   # decimals for two digits
            if needed > max(precision, MAX_FIXED_DECIMALS):
                text = f"{value:.{digits}e}"
            elif needed > precision:                  # the extra decimals for two digits
                text = f"{value:.{needed}f}"
                exact = text[:len(text) - needed + precision] + \
                    text[len(text) - needed + precision:].rstrip("0")
                exact = exact.rstrip(".")
                if float(exact) == value:             # end zeros say nothing of an exact value
                    text = exact
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text


MAX_EXTRA_DECIMALS = 12   # a worked difference gets at most this many decimals beyond --precision


def difference_precision(values, reference: float, precision: int) -> int:
    """The decimals at which ``values`` and ``reference`` are written in a worked line of
    differences (x − μ), so that each difference of the written numbers is the true one to
    two significant digits: at least ``precision``; more when the numbers barely differ (1 and
    1.00000025, not 1 and 1.00, whose difference reads as 0)."""
    values = np.asarray(values, dtype=np.float64)
    true = values - reference

    def written(value, decimals):                    # the number a reader sees
        return float(format_number(value, decimals, is_integral([value])))

    for decimals in range(precision, precision + MAX_EXTRA_DECIMALS + 1):
        shown = np.array([written(v, decimals) - written(reference, decimals) for v in values])
        if np.all(np.abs(shown - true) <= 0.05 * np.abs(true)):
            return decimals
    return precision + MAX_EXTRA_DECIMALS


def difference_text(left: float, right: float, precision: int) -> str:
    """'left − right' written at the decimals that keep the difference true (see
    difference_precision); a negative ``right`` is added: '1 + 2.50'."""
    decimals = difference_precision([left], right, precision)
    return minus(*(format_number(v, decimals, is_integral([v])) for v in (left, right)))


def percent(share: float) -> str:
    """A share in [0, 1] as a percentage with one decimal that never claims all or nothing
    falsely: 0.99999 -> 'more than 99.9%', 1e-05 -> 'less than 0.1%'."""
    share = float(share)
    if 0.999 < share < 1:
        return "more than 99.9%"
    if 0 < share < 0.001:
        return "less than 0.1%"
    return f"{share * 100:.1f}%"


ROW_SCALED_NOTE = "bars and shades scaled to each row's largest weight"


def row_sum_caption(weights, text: str = "each row sums to 1") -> str:
    """``text`` when every row of ``weights`` sums to 1; when some row is all zeros (every key
    masked: a fully masked row gives zeros, not NaN) the caption says so."""
    sums = np.asarray(weights, dtype=np.float64).sum(axis=-1)
    if np.allclose(sums, 1.0):
        return text
    return text + ", except rows with every key masked (all 0)"


def weights_caption(weights, text: str = "each row sums to 1") -> str:
    """The caption of an attention-weights heatmap drawn with ``row_scaled``: what the rows
    sum to, and that the bars and shades are scaled within each row."""
    return f"{row_sum_caption(weights, text)}; {ROW_SCALED_NOTE}"


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


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 token', '3 tokens': a number with its noun in the right number."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def cut(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[:width - 1] + "…"


def dim_labels(n: int) -> list[str]:
    """Labels of a vector's entries: d1, d2, ..., dn."""
    return [f"d{i + 1}" for i in range(n)]
