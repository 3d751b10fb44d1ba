"""Text documents from a walkthrough: JSON (every matrix by name, full precision), Markdown
and LaTeX (tables a learner can paste into notes). Each function returns a string."""

from __future__ import annotations

import json

import numpy as np

from .document import Chart, Document, MatrixView, Step, format_matrix_cells, format_number


def _plain_number(value):
    """A JSON number; -inf (a masked logit) and other non-finite values become null."""
    value = float(value)
    return value if np.isfinite(value) else None


def array_to_json(array) -> list | float | None:
    """Nested lists of Python floats, None where a value is not finite (a masked -inf);
    at NumPy's speed (``tolist``), not a Python call per number."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 0:
        return _plain_number(array)
    finite = np.isfinite(array)
    if finite.all():
        return array.tolist()
    cells = array.astype(object)
    cells[~finite] = None
    return cells.tolist()


_MATRICES = "\x00matrices\x00"           # where the matrices go in the skeleton's text


def to_json(doc: Document, steps: list[Step] | None = None) -> str:
    """One JSON document: the tokens, the settings, every recorded matrix by its trace name
    (numbers at full precision; null where a mask put -inf), and the steps that name them."""
    return "".join(json_chunks(doc, steps))


def json_chunks(doc: Document, steps: list[Step] | None = None):
    """:func:`to_json`'s text in pieces, a matrix at a time, for writing as it is made: the
    document indented by 2, each matrix on one line (by the C encoder: a run of 25 million
    numbers takes seconds, and only one matrix's numbers are Python objects at a time)."""
    payload = {
        "command": doc.command,
        "title": doc.title,
        "tokens": doc.tokens,
        "settings": doc.settings,
        "matrices": _MATRICES,
        "steps": [
            {"number": s.number, "key": s.key, "title": s.title, "formula": s.formula,
             "parts": [{"heading": p.heading, "matrices": [m.key for m in p.matrices],
                        **({"charts": [c.key for c in p.charts]} if p.charts else {}),
                        **({"lines": [{"key": v.key, "heads": v.heads, "top": v.top,
                                       "queries": v.queries, "keys": v.keys}
                                      for v in p.lines]} if p.lines else {}),
                        "worked": p.worked, "meaning": p.meaning} for p in s.parts]}
            for s in (steps or doc.steps)
        ],
        "notes": doc.notes,
    }
    for key, value in doc.extra.items():
        payload[key] = array_to_json(value) if isinstance(value, np.ndarray) else value
    text = json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False)
    head, tail = text.split(json.dumps(_MATRICES, ensure_ascii=False), 1)
    yield head + "{"
    for i, (name, value) in enumerate(doc.arrays.items()):
        yield (("," if i else "") + "\n    " + json.dumps(name, ensure_ascii=False) + ": "
               + json.dumps(array_to_json(value), allow_nan=False))
    yield ("\n  }" if doc.arrays else "}") + tail


# --- Markdown -----------------------------------------------------------------------------

def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(view: MatrixView, precision: int) -> str:
    view = view.corner()
    cells = format_matrix_cells(view, precision)
    note = view.cut_note()
    lines = [f"**{_md_escape(view.name)}** ({view.shape}{'; ' + note if note else ''})" +
             (f" — {view.caption}" if view.caption else ""), ""]
    lines.append("| | " + " | ".join(_md_escape(c) for c in view.cols) + " |")
    lines.append("|---|" + "---:|" * len(view.cols))
    for label, row in zip(view.rows, cells):
        lines.append(f"| **{_md_escape(label)}** | " + " | ".join(row) + " |")
    return "\n".join(lines)


def markdown_chart(chart: Chart, precision: int) -> str:
    lines = [f"**{_md_escape(chart.name)}**" + (f" — {chart.caption}" if chart.caption else ""),
             "", "| | value |", "|---|---:|"]
    for label, value in zip(chart.labels, chart.values):
        lines.append(f"| {_md_escape(label)} | {format_number(value, precision)} |")
    return "\n".join(lines)


def to_markdown(doc: Document, precision: int, steps: list[Step] | None = None) -> str:
    out = [f"# {doc.title}", ""]
    total = len(doc.steps)
    for step in steps or doc.steps:
        if doc.listing:                                                # a listing: no steps
            out += [f"## {step.title}", ""]
        else:
            out += [f"## Step {step.number} of {total}: {step.title}", "", f"`{step.formula}`", ""]
        for part in step.parts:
            if part.heading:
                out += [f"### {part.heading}", ""]
            for view in part.matrices:
                out += [markdown_table(view, precision), ""]
            for chart in part.charts:
                out += [markdown_chart(chart, precision), ""]
            if part.worked:
                out += ([] if doc.listing else ["Worked:", ""]) + ["```"] + part.worked + ["```", ""]
            if part.meaning:
                out += [part.meaning if doc.listing else f"*Means:* {part.meaning}", ""]
    return "\n".join(out).rstrip() + "\n"


# --- LaTeX --------------------------------------------------------------------------------

_LATEX_TEXT = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
    # '\\' reads a '*' or '[length]' after it (a row label [CLS] after a line break): braced,
    # they are plain text wherever a line starts
    "[": "{[}", "]": "{]}", "*": "{*}",
    # OT1 (pdflatex's default font encoding) has no < > |: they print as ¡ ¿ —
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    "·": r"$\cdot$", "×": r"$\times$", "÷": r"$\div$", "√": r"$\surd$", "ᵀ": r"$^{\top}$",
    "→": r"$\to$", "←": r"$\leftarrow$", "…": r"\dots{}", "—": "---", "–": "--",
    "Σ": r"$\Sigma$", "∞": r"$\infty$", "−": "-", "≤": r"$\leq$", "≥": r"$\geq$",
    "≈": r"$\approx$", "≠": r"$\neq$", "±": r"$\pm$", "⊙": r"$\odot$", "‖": r"$\|$",
    "∂": r"$\partial$", "∈": r"$\in$", "²": r"$^{2}$", "³": r"$^{3}$", "½": r"$\frac{1}{2}$",
    "α": r"$\alpha$", "β": r"$\beta$", "γ": r"$\gamma$", "δ": r"$\delta$",
    "ε": r"$\epsilon$", "η": r"$\eta$", "θ": r"$\theta$", "λ": r"$\lambda$",
    "μ": r"$\mu$", "π": r"$\pi$", "σ": r"$\sigma$", "τ": r"$\tau$", "∇": r"$\nabla$",
    "‘": "`", "’": "'", "“": "``", "”": "''", "\u00a0": "~",
}
# combining accents (after NFD) as LaTeX's accent commands, which every font encoding has:
# é -> \'{e}, Ġ (GPT-2's space mark) -> \.{G}
_LATEX_ACCENTS = {"\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0304": "=",
                  "\u0306": "u", "\u0307": ".", "\u0308": '"', "\u030a": "r", "\u030b": "H",
                  "\u030c": "v", "\u0327": "c", "\u0328": "k"}


def _latex_char(ch: str) -> str:
    """One character as LaTeX pdflatex reads with no package beyond amsmath and amssymb."""
    if ch in _LATEX_TEXT:
        return _LATEX_TEXT[ch]
    if ord(ch) < 128:
        return ch
    import unicodedata

    base, *marks = unicodedata.normalize("NFD", ch)
    if ord(base) < 128 and marks and all(m in _LATEX_ACCENTS for m in marks):
        text = _LATEX_TEXT.get(base, base)
        for mark in marks:
            text = "\\" + _LATEX_ACCENTS[mark] + "{" + text + "}"
        return text
    return r"\texttt{{[}U+" + f"{ord(ch):04X}" + "{]}}"          # no glyph for it: its code


def latex_escape(text: str) -> str:
    """Plain text as LaTeX that pdflatex reads with amsmath and amssymb: the special
    characters escaped, '[' ']' '*' braced (so that no line break takes them as its
    argument), symbols and Greek letters in math mode, accented letters by accent commands,
    and any other character by its code point."""
    import re

    # '$\\sigma$$^{2}$' -> '$\\sigma^{2}$': one formula, never a '$$' (display math)
    return re.sub(r"(?<!\\)\$\$", "", "".join(_latex_char(ch) for ch in text))


def latex_table(view: MatrixView, precision: int) -> str:
    view = view.corner()
    cells = format_matrix_cells(view, precision)
    note = view.cut_note()
    cells = [[r"\text{--}" if c == view.masked_text and view.masked is not None else c
              for c in row] for row in cells]
    cells = [[c.replace("-inf", r"$-\infty$").replace("—", "--") for c in row] for row in cells]
    spec = "l|" + "r" * len(view.cols)
    lines = [r"\begin{tabular}{" + spec + "}",
             r"\multicolumn{" + str(len(view.cols) + 1) + r"}{l}{\textbf{" +
             latex_escape(view.name) + r"} (" + latex_escape(view.shape + ("; " + note if note else ""))
             + r")} \\",
             " & " + " & ".join(latex_escape(c) for c in view.cols) + r" \\ \hline"]
    for label, row in zip(view.rows, cells):
        lines.append(latex_escape(label) + " & " + " & ".join(row) + r" \\")
    lines.append(r"\end{tabular}")
    return "\n".join(lines)


def latex_chart(chart: Chart, precision: int) -> str:
    lines = [r"\begin{tabular}{lr}",
             r"\multicolumn{2}{l}{\textbf{" + latex_escape(chart.name) + r"}} \\ \hline"]
    for label, value in zip(chart.labels, chart.values):
        lines.append(latex_escape(label) + " & " + format_number(value, precision) + r" \\")
    lines.append(r"\end{tabular}")
    return "\n".join(lines)


def to_latex(doc: Document, precision: int, steps: list[Step] | None = None) -> str:
    """A LaTeX fragment: one \\subsection* per step (needs amsmath/amssymb for the formulas)."""
    out = [f"% {latex_escape(doc.title)} -- generated by tutor; needs \\usepackage{{amsmath,amssymb}}",
           r"\section*{" + latex_escape(doc.title) + "}", ""]
    total = len(doc.steps)
    for step in steps or doc.steps:
        if doc.listing:                                                # a listing: no steps
            out += [r"\subsection*{" + latex_escape(step.title) + "}", ""]
        else:
            out += [r"\subsection*{Step " + f"{step.number} of {total}: " +
                    latex_escape(step.title) + "}", r"\[ " + step.latex + r" \]", ""]
        for part in step.parts:
            if part.heading:
                out += [r"\paragraph{" + latex_escape(part.heading) + "}", ""]
            for view in part.matrices:
                out += [latex_table(view, precision), r"\quad"]
            for chart in part.charts:
                out += [latex_chart(chart, precision), r"\quad"]
            out.append("")
            for line in part.worked:
                out += [r"\noindent\texttt{" + latex_escape(line) + r"}\\"]
            if part.meaning:
                out += ["", (r"\noindent " if doc.listing else r"\noindent\emph{Means:} ")
                        + latex_escape(part.meaning), ""]
    return "\n".join(out).rstrip() + "\n"
