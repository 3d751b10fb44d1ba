"""Curves as text: Rich has no line chart, so a training loss is drawn with eighth-blocks."""

from __future__ import annotations

from .document import format_number


def steps_per_column(steps: int, width: int) -> str | None:
    """How many steps a column of :func:`loss_curve` averages: '25', '16-17' (buckets of
    ``numpy.array_split``), or None when each column is one step."""
    columns = max(1, min(width, steps))
    low, high = steps // columns, -(-steps // columns)
    if high <= 1:
        return None
    return str(low) if low == high else f"{low}-{high}"


def loss_curve(losses, width: int = 60, height: int = 10) -> list[str]:
    """The training loss as text: one column per bucket of steps (its mean), a log scale on
    the y axis, drawn with the eighth-blocks ▁▂▃▄▅▆▇█ so a column rises to its value. The
    axis labels are the highest and lowest column, so of means; a last line says how many
    steps a column averages when it is more than one."""
    import numpy as np

    losses = np.asarray(losses, dtype=np.float64)
    losses = losses[np.isfinite(losses) & (losses > 0)]
    if losses.size == 0:
        return ["(no loss to plot)"]
    width = max(1, min(width, losses.size))
    buckets = np.array_split(losses, width)
    means = np.log10([bucket.mean() for bucket in buckets])            # [width]
    low, high = float(means.min()), float(means.max())
    span = high - low if high > low else 1.0
    levels = (means - low) / span * (height * 8 - 1) + 1               # eighths of a row, 1..8h
    blocks = " ▁▂▃▄▅▆▇█"
    # 4 decimals, but a loss below 0.00005 keeps two significant digits (1.2e-06, never 0.0000)
    top, bottom = (format_number(10 ** value, 4) for value in (high, low))
    pad = max(8, len(top), len(bottom))
    rows = []
    for row in range(height - 1, -1, -1):
        fill = np.clip(levels - row * 8, 0, 8).astype(int)             # eighths in this row
        label = (f"{top:>{pad}} ┤" if row == height - 1 else
                 f"{bottom:>{pad}} ┤" if row == 0 else " " * pad + " │")
        rows.append(label + "".join(blocks[f] for f in fill))
    rows.append(" " * (pad + 1) + "└" + "─" * width)
    first, last = "step 1", f"step {losses.size}"
    fits = width >= len(first) + len(last) + 1
    rows.append(" " * (pad + 2) + (first + last.rjust(width - len(first)) if fits
                                   else f"steps 1-{losses.size}"))
    per = steps_per_column(losses.size, width)
    if per is not None:
        rows.append(" " * (pad + 2) + f"a column: the mean loss of {per} steps")
    return rows
