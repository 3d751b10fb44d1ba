"""Attention as lines (the view bertviz and the Transformer Explainer made familiar): two
columns of tokens, queries left and keys right, a line from each query to its strongest keys,
the weight as the line's strength. Drawn from a :class:`~tutor.render.document.LinesView`,
which holds the recorded weights read by their declared name: nothing here computes
attention, it only picks the strongest keys of what was recorded and draws them.

In the terminal (:func:`lines_text`) the lines are braille dots, so they stay readable
without colour: a line's strength is its density (thick ≥ 0.5, solid ≥ 0.25, every other
dot ≥ 0.1, every fourth dot below), its head its colour. In a picture (:func:`lines_svg`,
:func:`document_svg`, :func:`document_html`) each line is an SVG ``<line>`` whose
``stroke-opacity`` is the weight and whose ``stroke-width`` grows with it.
"""

from __future__ import annotations

from html import escape

import numpy as np
from rich.style import Style
from rich.text import Text

from .document import Document, LinesView, Step, cut, format_number

# a colour per head (overlaid heads), cycling after twelve; chosen to be told apart
HEAD_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#393b79", "#637939")
LABEL_WIDTH = 12           # a token label is cut to this many characters in the terminal
MIN_MIDDLE, MAX_MIDDLE = 6, 32   # the characters between the two columns
SPACING = ((8, 3), (20, 2))   # up to 8 tokens 3 rows a token, up to 20 two, else one
BRAILLE = 0x2800
_DOT = {(0, 0): 0x01, (0, 1): 0x02, (0, 2): 0x04, (1, 0): 0x08, (1, 1): 0x10, (1, 2): 0x20,
        (0, 3): 0x40, (1, 3): 0x80}
LEVELS = ((0.5, "thick"), (0.25, "solid"), (0.1, "every other dot"), (0.0, "every fourth dot"))


def strength(weight: float) -> int:
    """A weight's level in the terminal: 3 (≥ 0.5, a thick line), 2 (≥ 0.25, solid), 1 (≥ 0.1,
    every other dot), 0 (below, every fourth dot)."""
    for level, (threshold, _) in zip((3, 2, 1, 0), LEVELS):
        if weight >= threshold:
            return level
    return 0


def head_colour(head: int) -> str:
    """The colour of head ``head`` (from 1) when heads are overlaid."""
    return HEAD_COLOURS[(head - 1) % len(HEAD_COLOURS)]


def _rows_of(n: int, rows: int) -> list[int]:
    """The text row of each of ``n`` tokens spread over ``rows`` rows (n ≤ rows)."""
    return [int((i + 0.5) * rows / n) for i in range(n)]


def _dots(y0: int, y1: int, width: int, level: int):
    """The braille dots (x, y) of a line from (0, y0) to (width - 1, y1) at ``level``."""
    steps = max(width, abs(y1 - y0) + 1)
    keep = {3: 1, 2: 1, 1: 2, 0: 4}[level]
    for s in range(steps):
        if s % keep and s != steps - 1:
            continue
        t = s / (steps - 1) if steps > 1 else 0.0
        x, y = int(round(t * (width - 1))), int(round(y0 + t * (y1 - y0)))
        yield x, y
        if level == 3:
            yield x, y + 1


def lines_text(view: LinesView, max_width: int = 76) -> Text:
    """The view drawn in ``max_width`` columns: its name and what is shown ('top 3 keys per
    query of 64'), the legend, then one row per token: the query's label, the braille lines,
    the key's label. In colour each cell has the colour of the head whose line through it is
    strongest. A ``selected`` query is marked ▶ and its lines are drawn bold in its head's
    colour; the other queries' lines are grey and faint (every fourth dot), so the selection
    shows without colour too."""
    n_q, n_k = len(view.queries), len(view.keys)
    n = max(n_q, n_k)
    rows = n * next((per for most, per in SPACING if n <= most), 1)
    q_labels = [cut(label, LABEL_WIDTH) for label in view.queries]
    k_labels = [cut(label, LABEL_WIDTH) for label in view.keys]
    lq = max(len(label) for label in q_labels) + 2                     # "▶ " or two spaces
    lk = max(len(label) for label in k_labels)
    middle = max(MIN_MIDDLE, min(MAX_MIDDLE, max_width - lq - lk - 2))
    width = 2 * middle                                                # braille dots
    q_rows, k_rows = _rows_of(n_q, rows), _rows_of(n_k, rows)
    cells = np.zeros((rows, middle), dtype=np.int64)                  # braille bits
    best = np.full((rows, middle), -1.0)                              # strongest weight per cell
    owner = np.zeros((rows, middle), dtype=np.int64)                  # its head's index
    chosen = np.zeros((rows, middle), dtype=bool)                     # a selected query's line
    for h, per_query in enumerate(view.top_keys()):
        for q, keys in enumerate(per_query):
            for k, weight in keys:
                other = view.selected is not None and q != view.selected
                level = 0 if other else strength(weight)      # another query's: faint
                for x, y in _dots(4 * q_rows[q] + 1, 4 * k_rows[k] + 1, width, level):
                    r, c = min(y // 4, rows - 1), x // 2
                    cells[r, c] |= _DOT[(x % 2, y % 4)]
                    if other and chosen[r, c]:
                        continue                               # the selected line's cell
                    if weight > best[r, c] or not other and view.selected is not None \
                            and not chosen[r, c]:
                        best[r, c], owner[r, c] = weight, h
                    chosen[r, c] |= view.selected == q
    text = Text(view.name, style="bold")
    text.append(f"  ({view.note()})", style="dim")
    legend = "  ".join(f"{_sample(level)} {'≥ ' + format_number(t, 2) if t else '< 0.1'}"
                       for level, (t, _) in zip((3, 2, 1, 0), LEVELS))
    text.append("\nline strength = weight: " + legend, style="dim")
    if len(view.heads) > 1:
        text.append("\nheads overlaid, by colour:", style="dim")
        for h in view.heads:
            text.append(f" H{h}", style=Style(color=head_colour(h), bold=True))
    for r in range(max(q_rows[-1], k_rows[-1]) + 1):                  # no blank rows after
        text.append("\n")
        q = q_rows.index(r) if r in q_rows else None
        mark = "▶ " if q is not None and q == view.selected else "  "
        label = q_labels[q] if q is not None else ""
        text.append((mark + label).rjust(lq), style="bold" if mark.strip() else "")
        text.append(" ")
        for c in range(middle):
            bits = int(cells[r, c])
            if not bits:
                text.append(" ")
                continue
            style = Style(color=head_colour(view.heads[owner[r, c]]))
            if view.selected is not None:
                style = style + Style(bold=True) if chosen[r, c] else Style(color="grey50")
            text.append(chr(BRAILLE + bits), style=style)
        text.append(" ")
        k = k_rows.index(r) if r in k_rows else None
        text.append(k_labels[k] if k is not None else "")
    return text


def _sample(level: int) -> str:
    """Three characters of a horizontal line at ``level``, as the view draws it."""
    bits = [0, 0, 0, 0]
    for x, y in _dots(1, 1, 8, level):
        bits[x // 2] |= _DOT[(x % 2, y % 4)]
    return "".join(chr(BRAILLE + b) for b in bits[:3])


def top_lines(view: LinesView, precision: int, limit: int | None = None) -> list[str]:
    """The drawn lines as text, one query a line: 'cat → the 0.42, sat 0.21, mat 0.11' (with
    several heads, 'H2 cat → ...'); at most ``limit`` lines (then a last line says how many
    more --format json has)."""
    out = []
    for h, per_query in zip(view.heads, view.top_keys()):
        for q, keys in enumerate(per_query):
            prefix = f"H{h} " if len(view.heads) > 1 else ""
            out.append(f"{prefix}{view.queries[q]} → " + ", ".join(
                f"{view.keys[k]} {format_number(w, precision)}" for k, w in keys))
    if limit is not None and len(out) > limit:
        out = out[:limit] + [f"… {len(out) - limit} more (--format json has every weight)"]
    return out


# --- pictures -----------------------------------------------------------------------------

ROW = 20                   # px between two tokens
FONT = 14                  # px
CHAR = 0.62 * FONT         # px per character, for laying out the labels
GAP = 260                  # px between the two columns
MONOSPACE = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"


def _number(value: float) -> str:
    """A weight as written in the SVG: 4 decimals, end zeros dropped."""
    return f"{value:.4f}".rstrip("0").rstrip(".") or "0"


def lines_svg(view: LinesView, x: float = 0.0, y: float = 0.0) -> tuple[str, float, float]:
    """The view as SVG elements placed at (x, y): a heading, the two columns of labels and one
    ``<line>`` per drawn (head, query, key) with ``stroke-opacity`` the weight (4 decimals),
    ``stroke-width`` 1 + 4 × weight, its head's colour and ``data-head``, ``data-query``,
    ``data-key`` (from 0) and a tooltip. Returns (elements, width, height) in px."""
    n_q, n_k = len(view.queries), len(view.keys)
    rows = max(n_q, n_k)
    lq = max(len(label) for label in view.queries) * CHAR
    lk = max(len(label) for label in view.keys) * CHAR
    top = y + 3 * ROW if len(view.heads) > 1 else y + 2 * ROW
    x0, x1 = x + lq + 8, x + lq + 8 + GAP

    def q_y(i):
        return top + (i + 0.5) * rows / n_q * ROW

    def k_y(j):
        return top + (j + 0.5) * rows / n_k * ROW

    out = [f'<text x="{x:.1f}" y="{y + ROW - 4:.1f}" font-weight="bold">'
           f'{escape(view.name)}  <tspan fill="#666" font-weight="normal">'
           f'({escape(view.note())}; line opacity = weight)</tspan></text>']
    if len(view.heads) > 1:
        out.append(f'<text x="{x:.1f}" y="{y + 2 * ROW - 4:.1f}">heads overlaid, by colour:' +
                   "".join(f' <tspan fill="{head_colour(h)}" font-weight="bold">H{h}</tspan>'
                           for h in view.heads) + "</text>")
    for i, label in enumerate(view.queries):
        bold = ' font-weight="bold"' if view.selected == i else ""
        out.append(f'<text x="{x0 - 6:.1f}" y="{q_y(i) + FONT * 0.35:.1f}" '
                   f'text-anchor="end"{bold}>{escape(label)}</text>')
    for j, label in enumerate(view.keys):
        out.append(f'<text x="{x1 + 6:.1f}" y="{k_y(j) + FONT * 0.35:.1f}">'
                   f'{escape(label)}</text>')
    drawn = [(weight, h, i, j) for h, per_query in zip(view.heads, view.top_keys())
             for i, keys in enumerate(per_query) for j, weight in keys]
    for weight, h, i, j in sorted(drawn, key=lambda line: line[0]):     # strongest on top
        tip = f"H{h}: {view.queries[i]} → {view.keys[j]} {_number(weight)}"
        out.append(f'<line x1="{x0:.1f}" y1="{q_y(i):.1f}" x2="{x1:.1f}" '
                   f'y2="{k_y(j):.1f}" stroke="{head_colour(h)}" '
                   f'stroke-opacity="{_number(weight)}" '
                   f'stroke-width="{1 + 4 * weight:.2f}" stroke-linecap="round" '
                   f'data-head="{h - 1}" data-query="{i}" data-key="{j}">'
                   f'<title>{escape(tip)}</title></line>')
    heading = len(view.name) + len(view.note()) + 30                   # characters
    wide = max(lq + lk + GAP + 20, heading * CHAR,
               (28 + sum(len(f" H{h}") for h in view.heads)) * CHAR)
    return "\n".join(out), wide, top - y + rows * ROW + ROW


def _wrap(text: str, chars: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > chars:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


def document_svg(doc: Document, steps: list[Step] | None = None) -> str:
    """A document with lines views as one SVG picture: its title and subtitle, then each step's
    title and each part's heading and lines views, one under the other (the worked lines and
    meanings are in the terminal and text formats; a picture shows the lines)."""
    body, y, width = [], 0, 600.0
    for line in _wrap(doc.title, 90):
        width = max(width, 20 + len(line) * CHAR * 16 / FONT)
        y += ROW
        body.append(f'<text x="10" y="{y:.0f}" font-weight="bold" font-size="16">'
                    f'{escape(line)}</text>')
    for line in _wrap(doc.subtitle, 100):
        width = max(width, 20 + len(line) * CHAR)
        y += ROW
        body.append(f'<text x="10" y="{y:.0f}" fill="#555">{escape(line)}</text>')
    y += ROW / 2
    for step in steps or doc.steps:
        views = [(part, v) for part in step.parts for v in part.lines]
        if not views:
            continue
        y += ROW
        body.append(f'<text x="10" y="{y:.0f}" font-weight="bold" fill="#a0a">'
                    f'{escape(step.title)}</text>')
        for part, view in views:
            if part.heading:
                y += ROW
                body.append(f'<text x="10" y="{y:.0f}" fill="#a0a">{escape(part.heading)}</text>')
            y += ROW / 2
            elements, w, h = lines_svg(view, 10, y)
            body.append(elements)
            y += h
            width = max(width, w + 20)
    height = y + ROW
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{MONOSPACE}" '
            f'font-size="{FONT}">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(body) + "\n</svg>\n")


def document_html(doc: Document, steps: list[Step] | None = None, title: str = "tutor") -> str:
    """The picture of :func:`document_svg` in an offline HTML page titled ``title``, with the
    document's notes under it."""
    notes = "".join(f"<p>{escape(note)}</p>" for note in doc.notes)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="UTF-8">\n'
            f"<title>{escape(title)}</title>\n</head>\n<body style=\"font-family:{MONOSPACE};"
            f'background:white">\n{document_svg(doc, steps)}{notes}\n</body>\n</html>\n')


def has_lines(doc: Document) -> bool:
    """Whether any part of ``doc`` has a lines view (then its pictures are drawn with real
    lines by :func:`document_svg`, not exported from the console)."""
    return any(part.lines for step in doc.steps for part in step.parts)
