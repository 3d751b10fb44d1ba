"""The positional-encoding walkthroughs (sinusoidal table, learned table, embedding + PE, and
the word-order comparison), built from what the engine recorded. Nothing here computes."""

from __future__ import annotations


from .document import Document, Part, dim_labels, format_number, unique_labels
from .builder import DocumentBuilder

COMPACT_COLUMNS = 10     # wider tables (or longer ones) are drawn as a glyph heatmap
COMPACT_ROWS = 16
MAX_FORMULAS = 8         # columns whose formula is written out


def _short_number(value) -> str:
    """A frequency or an angle in its shortest exact-looking form: 1, 0.01, 1e-04."""
    return f"{float(value):.6g}"


def _positions(n: int) -> list[str]:
    return [f"pos {i}" for i in range(n)]


def _compact(values) -> bool:
    return values.shape[1] > COMPACT_COLUMNS or values.shape[0] > COMPACT_ROWS


def _column_formula(j: int, d: int) -> str:
    fn = "sin" if j % 2 == 0 else "cos"
    return f"d{j + 1}: {fn}(pos / 10000^({2 * (j // 2)}/{d}))"


def _sinusoidal_steps(w: DocumentBuilder, d: int, n: int) -> None:
    freqs, angles, pe = w["sinusoidal.frequencies"], w["sinusoidal.angles"], w["sinusoidal.pe"]
    formulas = [_column_formula(j, d) + f" = {'sin' if j % 2 == 0 else 'cos'}(pos × "
                f"{_short_number(freqs[j])})" for j in range(min(d, MAX_FORMULAS))]
    if d > MAX_FORMULAS:
        formulas.append(f"… and so on to d{d}: the pattern repeats with i = j // 2")
    w.step("One frequency per pair of columns", "frequency(j) = 1 / 10000^(2i/d),  i = j // 2",
           r"\omega_i = 1 / 10000^{2i/d}",
           Part("", [w.view("frequency", "sinusoidal.frequencies", ["1/10000^(2i/d)"],
                            dim_labels(d))], formulas,
                f"Columns come in pairs, counted from 0 in the formula: index 2i (d1, d3, … "
                f"here) uses sine and index 2i+1 (d2, d4, …) cosine, both at "
                f"the frequency 1/10000^(2i/{d}). The first pair turns fastest (frequency 1); "
                f"each later pair turns more slowly, so every position gets its own pattern."),
           key="frequencies")
    r = min(1, n - 1)
    w.step("Angles: position × frequency", "angle(pos, j) = pos × frequency(j)",
           r"\theta_{pos, j} = pos \cdot \omega_{\lfloor j/2 \rfloor}",
           Part("", [w.view("angle", "sinusoidal.angles", _positions(n), dim_labels(d),
                            compact=_compact(angles), heat=_compact(angles),
                            heat_range=(0.0, float(max(angles.max(), 1e-12))))],
                [f"angle({r}, d{d}) = {r} × {_short_number(freqs[-1])} = {_short_number(angles[r, -1])}"],
                "Each row is one position; along a row the angle shrinks pair by pair (the "
                "sine and cosine of a pair share one) because the frequencies do."),
           key="angles")
    j = d - 1
    fn = "sin" if j % 2 == 0 else "cos"
    value = pe[r, j]
    worked = [f"PE({r}, d{j + 1}) = {fn}({_short_number(angles[r, j])}) = "
              f"{format_number(value, max(w.precision, 5))}"]
    if n > 1:
        worked.append("PE(1) = " + w.vec(pe[1]) + "  (" + ", ".join(
            f"{'sin' if k % 2 == 0 else 'cos'} {_short_number(angles[1, k])}"
            for k in range(min(d, 4))) + (", …" if d > 4 else "") + ")")
    meaning = ("Sine in d1, d3, … (the even indices 0, 2, … of the formula), cosine in d2, "
               "d4, …; every entry lies between -1 and 1. No two positions share a row, and "
               "the table needs no training.")
    if d == 4 and n > 1:
        meaning += (f" Position 1 is [sin 1, cos 1, sin 0.01, cos 0.01] = "
                    f"[{', '.join(format_number(v, 3) for v in pe[1, :3])}, "
                    f"{format_number(pe[1, 3], 5)}]; a common misprint gives 0.995 for the last "
                    f"entry, but cos(0.01) is {format_number(pe[1, 3], 5)}.")
    w.step("The positional-encoding table", "PE(pos, 2i) = sin(pos/10000^(2i/d)),  "
           "PE(pos, 2i+1) = cos(pos/10000^(2i/d))",
           r"PE_{pos,2i} = \sin(pos/10000^{2i/d}),\; PE_{pos,2i+1} = \cos(pos/10000^{2i/d})",
           Part("", [w.view("PE", "sinusoidal.pe", _positions(n), dim_labels(d), heat=True,
                            heat_range=(-1.0, 1.0), compact=_compact(pe))],
                worked, meaning), key="table")


def _learned_step(w: DocumentBuilder, d: int, n: int, source: str) -> None:
    pe = w["learned.pe"]
    w.step("A learned positional table", "PE = the first n rows of a trained table P",
           r"PE = P_{0:n}",
           Part("", [w.view("PE (learned)", "learned.pe", _positions(n), dim_labels(d),
                            heat=True, heat_range=(float(pe.min()), float(pe.max())),
                            compact=_compact(pe))],
                [f"PE(0) = {w.vec(pe[0])}" if d <= 8 else f"PE(0, d1) = {w.fmt(pe[0, 0])}"],
                f"Here the table comes from {source}. A learned table has no formula: its rows "
                f"are parameters fitted in training, so it cannot encode a position beyond the "
                f"rows it has."), key="table")


def _sentence_step(w: DocumentBuilder, tokens: list[str]) -> None:
    labels = unique_labels(tokens)
    x, pe, out = w["input.embedded"], w["input.pe"], w["input.out"]
    r = min(1, len(tokens) - 1)
    w.step("Embedding + positional encoding", "input = X + PE  (row by row)", r"X + PE",
           Part("", [w.view("X", "input.embedded", labels),
                     w.view("PE", "input.pe", _positions(len(tokens))),
                     w.view("X + PE", "input.out", labels)],
                [f"x({labels[r]}) + pe({r}) = {w.vec(x[r])} + {w.vec(pe[r])} = "
                 f"{w.vec(out[r])}"],
                "Each word's vector gets the encoding of its position added; these rows, not "
                "the bare embeddings, are what self-attention receives."), key="input")


def posenc_document(trace, *, kind: str, d: int, n: int, precision: int, tokens=None,
                    source: str = "") -> Document:
    """``kind`` is "sinusoidal" or "learned"; ``tokens`` adds the embedding + PE step."""
    w = DocumentBuilder(trace, precision)
    if kind == "sinusoidal":
        _sinusoidal_steps(w, d, n)
    else:
        _learned_step(w, d, n, source)
    if tokens:
        _sentence_step(w, tokens)
    title = f"{'Sinusoidal' if kind == 'sinusoidal' else 'Learned'} positional encoding"
    settings = {"d_model": d, "positions": n, "kind": kind}
    return w.document("posenc", title, tokens or [], settings,
                      subtitle=f"{n} positions, d_model = {d}")


def _occurrences(tokens: list[str]) -> list[tuple[str, int]]:
    """Each word with how many times it occurred before: the#1 is ("the", 0), the#4 ("the", 1)."""
    seen: dict[str, int] = {}
    out = []
    for tok in tokens:
        word = tok.lower()
        out.append((word, seen.get(word, 0)))
        seen[word] = seen.get(word, 0) + 1
    return out


def moved_word(a_tokens: list[str], b_tokens: list[str]) -> tuple[int, int] | None:
    """(i, j): the first word of A (its position i) that stands elsewhere (j) in B, a repeated
    word matched occurrence by occurrence (the 2nd "the" of A with the 2nd "the" of B); None
    when every word stands where it stood (the same sentence twice)."""
    b_positions = {occ: j for j, occ in enumerate(_occurrences(b_tokens))}
    for i, occ in enumerate(_occurrences(a_tokens)):
        j = b_positions.get(occ)
        if j is not None and j != i:
            return i, j
    return None


def compare_document(trace, sentences: list[list[str]], *, precision: int,
                     same_without: bool, same_with: bool) -> Document:
    """Self-attention (identity weights) on two orderings of the same words, without and with
    positional encoding; ``same_*`` say whether the output rows were a reordering. A repeated
    word is told apart by its position (the#1, the#4); the same sentence twice is said to be
    that, not a reordering."""
    w = DocumentBuilder(trace, precision)
    names = ("A", "B")
    texts = [" ".join(s) for s in sentences]
    a_labels, b_labels = unique_labels(sentences[0]), unique_labels(sentences[1])
    moved = moved_word(sentences[0], sentences[1])
    identical = moved is None
    ia, ib = moved if moved is not None else (0, 0)
    for with_pe in (False, True):
        parts = []
        for name, tokens, labels in zip(names, sentences, (a_labels, b_labels)):
            scope = f"{name.lower()}.{'with_pe' if with_pe else 'plain'}"
            mats = []
            if with_pe:
                mats.append(w.view("X + PE", f"{scope}.input.out", labels))
            else:
                mats.append(w.view("X", f"{scope}.x", labels))
            mats.append(w.view("Z", f"{scope}.out", labels))
            parts.append(Part(f"{name}: \"{' '.join(tokens)}\"", mats))
        key = "with_pe" if with_pe else "plain"
        za, zb = w[f"a.{key}.out"][ia], w[f"b.{key}.out"][ib]
        where = "" if identical else f" (position {ia + 1} in A, {ib + 1} in B)"
        worked = [f"z({a_labels[ia]}) in A = {w.vec(za)}{where}",
                  f"z({b_labels[ib]}) in B = {w.vec(zb)}"]
        if identical:
            verdict = ("A and B are the same sentence, word for word, so every output row is "
                       "the same as well: there is no change of order to see. Give two different "
                       "orders of the same words, such as \"lion kills tiger\" and \"tiger "
                       "kills lion\".")
        elif with_pe:
            verdict = ("The outputs now differ: a word's vector depends on where it stands, "
                       "so the model can tell the two sentences apart."
                       if not same_with else
                       "Even with positional encoding the outputs are a reordering here.")
        else:
            verdict = ("Without positional encoding the two sentences give the same set of "
                       "output vectors, only in another order: self-attention alone cannot "
                       "see word order." if same_without else
                       "The outputs are not a reordering of each other.")
        parts[-1].worked = worked
        parts[-1].meaning = verdict
        title = "With positional encoding" if with_pe else "Without positional encoding"
        formula = ("Z = Attention(X + PE), Wq = Wk = Wv = I" if with_pe
                   else "Z = Attention(X), Wq = Wk = Wv = I")
        w.step(title, formula, r"Z = \mathrm{softmax}(QK^\top/\sqrt{d_k})V", parts,
               key="with_pe" if with_pe else "without_pe")
    settings = {"d_model": int(w["a.plain.x"].shape[1]), "sentences": texts,
                "same_set_without_pe": same_without, "same_set_with_pe": same_with}
    return w.document("posenc", f"Word order: \"{texts[0]}\" vs \"{texts[1]}\"",
                      sentences[0] + sentences[1], settings,
                      subtitle=f"{len(sentences[0])} words, d_model = {settings['d_model']}")


def positional_tables_document(recording, *, precision: int = 2) -> Document:
    """The tables of ``walkthroughs.posenc.positional_table`` (sinusoidal) or
    ``sinusoidal_beside_learned``, a step of matrices each: the angles pos/10000^(2i/d)
    (``angles``), the sinusoidal encodings (``pe``) and, when recorded, the learned table's
    rows before training (``learned``). Rows are positions from 0, columns d1, d2, ..."""
    w = DocumentBuilder(recording.trace, precision)
    n, d = w["sinusoidal.pe"].shape
    rows, cols = _positions(n), dim_labels(d)
    w.matrices_step("angles", w.first_matrix("angle pos/10000^(2i/d)", "sinusoidal.angles",
                                             rows, cols))
    w.matrices_step("pe", w.first_matrix("PE (sinusoidal)", "sinusoidal.pe", rows, cols))
    if "learned.pe" in w:
        w.matrices_step("learned", w.first_matrix("PE (learned, before training)",
                                                  "learned.pe", rows, cols))
    return w.document("posenc", "posenc", [], {})
