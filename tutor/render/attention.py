"""The self-attention walkthrough, built from what the engine recorded in a trace.

Nothing here computes attention: every matrix and every result shown is read from the trace.
What this module adds is the telling -- labels, the worked cell spelled out from recorded
numbers, and one sentence of what each step means (which keys each query favours, ties
included).
"""

from __future__ import annotations

import math
import re

import numpy as np

from .arithmetic import adding_up, shown_value

from .builder import DocumentBuilder
from .document import (MASKED_LOGIT, factor, Document, MatrixView, Part, Step, dim_labels,
                       format_number, format_vector, is_integral, row_sum_caption, unique_labels,
                       weights_caption)

MAX_LISTED = 6          # queries named in a "what it means" sentence before "and so on"
MAX_SPELLED = 4         # a dot product of at most this many terms is written out term by term
MAX_VECTOR_SHOWN = 8    # a longer vector in a sentence shows its first and last entries
MAX_WEIGHT_SHOWN = 8    # an identity weight matrix wider than this is described, not drawn
GLOVE_MEANS = ("These are dot products of real GloVe word vectors: words used in similar "
               "contexts point in similar directions and score higher together. {self_text} "
               "What this cannot show: GloVe gives a word one vector whatever its "
               "sentence, so a repeated word gets the same row twice and 'bank' by a river is "
               "'bank' in a bank; a Transformer's layers make the vectors contextual "
               "(tutor context measures it).")


def glove_self_text(scores: np.ndarray, labels: list[str], precision: int,
                    allowed: np.ndarray | None = None) -> str:
    """What the diagonal of ``scores`` (= X·Xᵀ, identity Wq and Wk: a word's score with itself
    is its own squared length) says, read from the numbers: that each word scores highest
    with itself only where every row's diagonal is its largest allowed entry, else which
    query scores higher with another word than with itself, with both numbers."""
    n = scores.shape[0]
    beaten = []                                      # (query, key) with key's score > own
    for r in range(n):
        ok = np.ones(n, bool) if allowed is None else allowed[r]
        others = [c for c in range(n) if ok[c] and scores[r, c] > scores[r, r]]
        if others:
            beaten.append((r, max(others, key=lambda c: (scores[r, c], -c))))
    if not beaten:
        return ("Each word scores highest with itself here (its score with itself is its own "
                "squared length), so read along a row past it.")

    def fmt(v):
        return format_number(v, precision, False)

    named = [f"{labels[r]} → {labels[c]} ({fmt(scores[r, c])}) beats {labels[r]} · "
             f"{labels[r]} ({fmt(scores[r, r])})" for r, c in beaten[:MAX_LISTED]]
    if len(beaten) > MAX_LISTED:
        named.append(f"and {len(beaten) - MAX_LISTED} more")
    return ("A word's score with itself is its own squared length, but it is not always the "
            "highest: " + "; ".join(named) + ", because a longer vector pointing a similar "
            "way can outscore a word's own.")


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _favourites(values: np.ndarray, allowed: np.ndarray | None, labels: list[str],
                precision: int, integral: bool) -> list[str]:
    """'the → the and sat (2 each, a tie)' for each query row, reading the given matrix."""
    lines = []
    for r, label in enumerate(labels):
        row = values[r]
        ok = np.ones(row.shape, bool) if allowed is None else allowed[r]
        if not ok.any():
            lines.append(f"{label} → nothing (every key is masked)")
            continue
        best = np.max(row[ok])
        top = [labels[c] for c in range(len(row)) if ok[c] and np.isclose(row[c], best)]
        value = format_number(best, precision, integral)
        if len(top) > 1:
            lines.append(f"{label} → {_join(top)} ({value} each, a tie)")
        else:
            lines.append(f"{label} → {top[0]} ({value})")
    if len(lines) > MAX_LISTED:
        rest = len(lines) - MAX_LISTED
        lines = lines[:MAX_LISTED] + [f"and so on for the other {rest}"]
    return lines


def short_vector(values, precision: int) -> str:
    """format_vector, or for a vector longer than MAX_VECTOR_SHOWN its first three and last
    entries: '[0.42 0.25 -0.41 … -0.79] (50 numbers)'."""
    values = np.asarray(values)
    if len(values) <= MAX_VECTOR_SHOWN:
        return format_vector(values, precision)
    integral = is_integral(values)
    shown = [format_number(v, precision, integral) for v in (*values[:3], values[-1])]
    return f"[{' '.join(shown[:3])} … {shown[3]}] ({len(values)} numbers)"


def _dot_text(a, b, result, precision: int) -> str:
    """'[1 0 1 0]·[1 1 1 1] = 1×1 + 0×1 + 1×1 + 0×1 = 2' from recorded vectors and result;
    the factors get more decimals when needed for the sum to add up as printed."""
    a, b = np.asarray(a), np.asarray(b)
    integral = is_integral(np.concatenate([a, b, [result]]))
    shown = format_number(result, precision, integral)
    ia, ib = is_integral(a), is_integral(b)
    if len(a) <= MAX_SPELLED:
        digits = adding_up(precision, shown, lambda d: sum(
            shown_value(x, d, ia) * shown_value(y, d, ib) for x, y in zip(a, b)), integral)
    else:
        digits = precision
    text = f"{short_vector(a, digits)}·{short_vector(b, digits)}"
    if len(a) <= MAX_SPELLED:
        terms = " + ".join(f"{factor(format_number(x, digits, ia))}×"
                           f"{factor(format_number(y, digits, ib))}" for x, y in zip(a, b))
        text += f" = {terms}"
    return text + f" = {shown}"


def _pick_pair(scores: np.ndarray, allowed: np.ndarray | None) -> tuple[int, int]:
    """The worked cell: a query that may see every key (the first one, or the last when a
    causal mask hides later keys) and its highest-scoring other key."""
    n_q, n_k = scores.shape
    row = 0 if allowed is None or allowed[0].all() else n_q - 1
    candidates = [c for c in range(n_k) if c != row and (allowed is None or allowed[row, c])]
    if not candidates:
        return row, row
    return row, max(candidates, key=lambda c: (scores[row, c], c))


class AttentionBuilder(DocumentBuilder):
    """The self-attention walkthrough's steps, each added (and numbered) by the builder:
    inputs, projections, scores, scaled, softmax, output, and with the multi-head form
    concat and projection."""

    def __init__(self, trace, tokens, *, precision, heads, causal, scaled, posenc, sources,
                 weight_kinds, per_head: bool | None = None):
        super().__init__(trace, precision)
        self.tokens = tokens
        self.labels = unique_labels(tokens)
        self.heads = heads
        # the multi-head form (head<i>. scopes, concatenation, Wo) as recorded, even for 1 head
        self.per_head = per_head if per_head is not None else heads > 1 or "head0.q" in trace
        self.causal = causal
        self.scaled = scaled
        self.posenc = posenc
        self.sources = sources            # per token: "notes", "derived", "--embed", ...
        self.kinds = weight_kinds         # {"w_q": "identity" | "random" | "inline" | "a file"}
        self.x_name = "input.out" if posenc != "none" else "x"
        # real word vectors are 50 wide: the screen shows their first columns
        self.max_columns = MAX_VECTOR_SHOWN if "glove" in sources else None
        self.n = len(tokens)

    # --- helpers -----------------------------------------------------------------------
    def scope(self, head):
        return "" if head is None else f"head{head}."

    def allowed(self, head) -> np.ndarray | None:
        key = self.scope(head) + "mask"
        if key not in self.trace:
            return None
        return np.isfinite(self.trace[key]) & np.ones((self.n, self.n), bool)

    def token_matrix(self, name, key, **kw):
        """A matrix with a row per token; wider than ``max_columns`` (when set) it draws its
        first columns (at least ``max_columns``, more where the screen is wider) and its title
        says which (--format json has them all)."""
        values = self.trace[key]                                        # [n, width]
        n, width = values.shape
        if self.max_columns is not None and width > self.max_columns:
            kw.setdefault("caption", "--format json has every column")
            kw["window"] = (n, self.max_columns)
        return MatrixView(name, key, values, self.labels, dim_labels(width), **kw)

    def head_heading(self, head):
        if head is None:
            return ""
        d_head_k = self.trace[f"head{head}.q"].shape[1]
        d_head_v = self.trace[f"head{head}.v"].shape[1]
        lo_k, lo_v = head * d_head_k + 1, head * d_head_v + 1
        cols = f"columns {lo_k}–{lo_k + d_head_k - 1}"
        if d_head_v != d_head_k:
            cols += f" (Wv: {lo_v}–{lo_v + d_head_v - 1})"
        return f"Head {head + 1} of {self.heads}: {cols} of Wq, Wk, Wv"

    def head_list(self):
        return list(range(self.heads)) if self.per_head else [None]

    def sub(self, head, name):
        return name if head is None else f"{name}{head + 1}"

    # --- worked cells: the line that spells out one cell, for any cell a step shows ---
    SOURCES = {"notes": "the worked example's vector", "derived": "derived from the word itself",
               "--embed": "given by --embed", "--embeddings": "row 1 of --embeddings",
               "glove": "its GloVe 6B vector"}
    WEIGHT_NAMES = {"w_q": ("Wq", "Q"), "w_k": ("Wk", "K"), "w_v": ("Wv", "V"),
                    "w_o": ("Wo", "out")}

    def worked_input(self, r: int) -> str:
        """'x(the) = [1 0 1 0]  (the worked example's vector)'."""
        source = self.sources[r]
        if source == "--embeddings":
            text = f"row {r + 1} of --embeddings"
        else:
            text = self.SOURCES.get(source, source)
        vector = short_vector(self.trace["x"][r], self.precision)
        return f"x({self.labels[r]}) = {vector}  ({text})"

    def worked_posenc(self, r: int) -> str:
        """'x(cat) + pe(1) = ... = ...': the input row with its positional encoding added."""
        return (f"x({self.labels[r]}) + pe({r}) = {self.vec(self.trace['x'][r])} + "
                f"{self.vec(self.trace['input.pe'][r])} = {self.vec(self.trace['input.out'][r])}")

    def worked_weight_entry(self, key: str, r: int, c: int) -> str:
        """'Wq(d1, d2) = 0 (identity): ...': one entry of a weight matrix and what it feeds."""
        name, made = self.WEIGHT_NAMES[key]
        kind = self.kinds.get(key, "")
        value = self.fmt(self.trace[key][r, c])
        source = "each head's concatenated row" if key == "w_o" else "each input row"
        return (f"{name}(d{r + 1}, d{c + 1}) = {value}" + (f"  ({kind})" if kind else "")
                + f": entry d{r + 1} of {source}, times this, adds to {made}(:, d{c + 1})")

    def worked_projection(self, head, letter: str, r: int, c: int) -> str:
        """'Q(the, d1) = x(the)·Wq(:, d1) = [..]·[..] = ...' (letter is q, k or v)."""
        s = self.scope(head)
        x, result = self.trace[self.x_name], self.trace[s + letter]
        col = c if head is None else head * result.shape[1] + c
        w_col = self.trace[f"w_{letter}"][:, col]
        return (f"{self.sub(head, letter.upper())}({self.labels[r]}, d{c + 1}) = "
                f"x({self.labels[r]})·W{letter}(:, d{col + 1}) = "
                + _dot_text(x[r], w_col, result[r, c], self.precision))

    def worked_score(self, head, r: int, c: int) -> str:
        """'score(the, sat) = q(the)·k(sat) = ... = 2'."""
        s = self.scope(head)
        scores, q, k = self.trace[s + "scores"], self.trace[s + "q"], self.trace[s + "k"]
        return (f"score({self.labels[r]}, {self.labels[c]}) = q({self.labels[r]})·"
                f"k({self.labels[c]}) = " + _dot_text(q[r], k[c], scores[r, c], self.precision))

    def worked_scaled(self, head, r: int, c: int) -> str:
        """'scaled(the, sat) = 2 ÷ √4 = 2 ÷ 2 = 1' (or the unscaled score, as it is)."""
        s = self.scope(head)
        scores, scaled = self.trace[s + "scores"], self.trace[s + "scaled"]
        d_k = self.trace[s + "k"].shape[1]
        pair = f"({self.labels[r]}, {self.labels[c]})"
        if self.scaled:
            return (f"scaled{pair} = {self.fmt(scores[r, c])} ÷ √{d_k} = "
                    f"{self.fmt(scores[r, c])} ÷ {self.fmt(math.sqrt(d_k))} = "
                    f"{self.fmt(scaled[r, c])}")
        return (f"scaled{pair} = score{pair} = {self.fmt(scores[r, c])}  "
                f"(--no-scale: not divided by √{d_k})")

    def worked_masked(self, head, r: int, c: int) -> str:
        """'masked(the, sat) = 0.5 + (-inf) = -inf' for a later key, '+ 0' otherwise."""
        s = self.scope(head)
        scaled = self.trace[s + "scaled"]
        pair = f"({self.labels[r]}, {self.labels[c]})"
        allowed = self.allowed(head)
        if allowed is not None and not allowed[r, c]:
            return f"masked{pair} = {self.fmt(scaled[r, c])} + (-inf) = -inf"
        return (f"masked{pair} = {self.fmt(scaled[r, c])} + 0 = {self.fmt(scaled[r, c])}  "
                f"(an earlier key, or the token itself: allowed)")

    def worked_softmax(self, head, r: int, c: int, prefix: str = "") -> list[str]:
        """'w(the, sat) = e^0 / (e^0 + e^-1 + e^0) = 1 / 2.37 = 0.42' and the max-shift note;
        ``prefix`` "with_scaling." reads the scaled run kept for comparison."""
        s = prefix + self.scope(head)
        weights = self.trace[s + "weights"]
        shifted, exp, total = (self.trace[s + "softmax." + n] for n in ("shifted", "exp", "sum"))
        allowed = self.allowed(head)
        pair = f"({self.labels[r]}, {self.labels[c]})"
        ok = np.ones(self.n, bool) if allowed is None else allowed[r]
        if not ok[c]:
            return [f"w{pair} = 0  (a masked key: e^-inf = 0, so it gets no weight)"]
        logits = self.trace[s + ("masked" if allowed is not None else "scaled")]
        row_max = np.max(logits[r][ok])
        terms = [f"e^{self.fmt(shifted[r, j])}" for j in range(self.n) if ok[j]]
        if len(terms) > MAX_SPELLED:
            terms = terms[:2] + ["…"] + terms[-1:]
        return [f"w{pair} = e^{self.fmt(shifted[r, c])} / ({' + '.join(terms)})"
                f" = {self.fmt(exp[r, c])} / {self.fmt(total[r, 0])}"
                f" = {self.fmt(weights[r, c], False)}",
                f"(the row's largest value, {self.fmt(row_max)}, is subtracted before e^x: "
                f"the same weights, and e^x cannot overflow"
                + ("; masked keys add e^-inf = 0)" if not ok.all() else ")")]

    def worked_output(self, head, r: int, c: int) -> str:
        """'Z(the, d1) = w(the)·V(:, d1) = ...'."""
        s = self.scope(head)
        weights, v, out = self.trace[s + "weights"], self.trace[s + "v"], self.trace[s + "out"]
        return (f"{self.sub(head, 'Z')}({self.labels[r]}, d{c + 1}) = w({self.labels[r]})·"
                f"V(:, d{c + 1}) = " + _dot_text(weights[r], v[:, c], out[r, c], self.precision))

    def worked_concat(self, r: int) -> str:
        """'concat(the) = [..] | [..] = [....]'."""
        heads = [self.trace[f"head{i}.out"][r] for i in range(self.heads)]
        return (f"concat({self.labels[r]}) = " + " | ".join(self.vec(h) for h in heads)
                + f" = {self.vec(self.trace['concat'][r])}")

    def worked_projection_out(self, r: int, c: int) -> str:
        """'out(the, d1) = concat(the)·Wo(:, d1) = ...'."""
        concat, w_o, out = self.trace["concat"], self.trace["w_o"], self.trace["out"]
        return (f"out({self.labels[r]}, d{c + 1}) = concat({self.labels[r]})·Wo(:, d{c + 1}) = "
                + _dot_text(concat[r], w_o[:, c], out[r, c], self.precision))

    def worked_cell(self, key: str, r: int, c: int) -> list[str]:
        """The worked line(s) of cell (r, c) of the matrix recorded as ``key`` (a
        ``MatrixView.key`` of this walkthrough: ``x``, ``w_q``, ``head0.scores``, ...).
        Raises KeyError for a name this walkthrough does not show."""
        prefix = ""
        if key.startswith("with_scaling."):
            prefix, key = "with_scaling.", key[len("with_scaling."):]
        head = None
        match = re.fullmatch(r"head(\d+)\.(.+)", key)
        if match:
            head, key = int(match.group(1)), match.group(2)
        if key == "x":
            return [self.worked_input(r)]
        if key in ("input.pe", "input.out"):
            return [self.worked_posenc(r)]
        if key in self.WEIGHT_NAMES and head is None:
            return [self.worked_weight_entry(key, r, c)]
        if key in ("q", "k", "v"):
            return [self.worked_projection(head, key, r, c)]
        if key == "scores":
            return [self.worked_score(head, r, c)]
        if key == "scaled":
            return [self.worked_scaled(head, r, c)]
        if key == "masked":
            return [self.worked_masked(head, r, c)]
        if key == "weights":
            return self.worked_softmax(head, r, c, prefix)
        if key == "concat":
            return [self.worked_concat(r)]
        if key == "out":
            if head is None and self.per_head:
                return [self.worked_projection_out(r, c)]
            return [self.worked_output(head, r, c)]
        raise KeyError(f"no worked line for {prefix + key!r}")

    # --- steps -------------------------------------------------------------------------
    def step_inputs(self) -> Step:
        x = self.trace["x"]
        n, d_model = x.shape
        mats = [self.token_matrix("X", "x")]
        worked = [self.worked_input(0)]
        if self.posenc != "none":
            pe = self.trace["input.pe"]
            mats.append(MatrixView("PE", "input.pe", pe, [f"pos {i}" for i in range(n)],
                                   dim_labels(d_model)))
            mats.append(self.token_matrix("X + PE", "input.out"))
            worked.append(self.worked_posenc(min(1, n - 1)))
        names = [("Wq", "w_q"), ("Wk", "w_k"), ("Wv", "w_v")]
        if self.per_head:
            names.append(("Wo", "w_o"))
        hidden = []
        for name, key in names:
            w = self.trace[key]
            if self.kinds.get(key) == "identity" and min(w.shape) > MAX_WEIGHT_SHOWN:
                hidden.append(f"{name} = the {w.shape[0]}×{w.shape[1]} identity (not drawn)")
                continue
            if self.max_columns is not None and min(w.shape) > MAX_WEIGHT_SHOWN:
                hidden.append(f"{name} = a {w.shape[0]}×{w.shape[1]} {self.kinds.get(key, '')} "
                              f"matrix (not drawn; --format json has it)")
                continue
            mats.append(MatrixView(name, key, w, dim_labels(w.shape[0]), dim_labels(w.shape[1])))
        worked += hidden
        kinds = [self.kinds.get(k, "") for _, k in names[:3]]
        if all(k == "identity" for k in kinds) and self.trace["w_q"].shape[0] == self.trace["w_q"].shape[1]:
            weights_text = ("Here they are the identity, so Q, K and V will equal "
                            + ("X + PE." if self.posenc != "none" else "X."))
        else:
            weights_text = ("Here they are " + ", ".join(f"{nm} {kd}" for (nm, _), kd in
                                                            zip(names, kinds)) + ".")
        rows = "The one token is" if n == 1 else f"Each of the {n} tokens is"
        meaning = (f"{rows} one row of X, a vector of d_model = {d_model} "
                   f"numbers. The weight matrices Wq, Wk, Wv come first: they are learned in "
                   f"training, and step 2 multiplies X by them. {weights_text}")
        if self.posenc != "none":
            meaning += (" Sinusoidal positional encodings are added to X first, so the same "
                        "word at another position gets another vector.")
        if "glove" in self.sources:
            meaning += (" X holds real word vectors: GloVe 6B, 50 numbers per word, learned "
                        "from how often words occur near each other in 6 billion words of "
                        "text.")
        formula = "X (one row per token),  Wq, Wk, Wv"
        if self.posenc != "none":
            formula = "X + PE (one row per token),  Wq, Wk, Wv"
        if self.per_head:
            formula += ", Wo"
        return self.step("Inputs: embeddings and weights", formula,
                    r"X \in \mathbb{R}^{n \times d_{model}},\; W_q, W_k, W_v",
                    [Part("", mats, worked, meaning)], key="inputs")

    def step_projections(self) -> Step:
        parts = []
        x = self.trace[self.x_name]
        for head in self.head_list():
            s = self.scope(head)
            q = self.trace[s + "q"]
            mats = [self.token_matrix(self.sub(head, "Q"), s + "q"),
                    self.token_matrix(self.sub(head, "K"), s + "k"),
                    self.token_matrix(self.sub(head, "V"), s + "v")]
            worked = [self.worked_projection(head, "q", 0, 0)]
            if head is None and all(self.kinds.get(k) == "identity" for k in ("w_q", "w_k", "w_v")) \
                    and q.shape == x.shape:
                meaning = (f"With identity weights each token's query, key and value are its "
                           f"embedding unchanged: q({self.labels[0]}) = k({self.labels[0]}) = "
                           f"v({self.labels[0]}) = {short_vector(q[0], self.precision)}.")
            else:
                meaning = ("Each token now has a query (what it looks for), a key (what it is "
                           "matched on) and a value (what it passes on).")
                if head is not None:
                    meaning += (f" Head {head + 1} sees only its own "
                                f"{q.shape[1]} columns of the projections.")
            parts.append(Part(self.head_heading(head), mats, worked, meaning))
        formula = "Q = X·Wq,  K = X·Wk,  V = X·Wv"
        if self.per_head:
            formula = "Qi = X·Wq,i,  Ki = X·Wk,i,  Vi = X·Wv,i  (i = head)"
        return self.step("Queries, keys and values", formula,
                    r"Q = XW_q,\quad K = XW_k,\quad V = XW_v", parts, key="projections")

    def step_scores(self) -> Step:
        parts = []
        for head in self.head_list():
            s = self.scope(head)
            scores = self.trace[s + "scores"]
            allowed = self.allowed(head)
            r, c = _pick_pair(scores, allowed)
            view = MatrixView(self.sub(head, "scores"), s + "scores", scores, self.labels,
                              self.labels)
            worked = [self.worked_score(head, r, c)]
            fav = _favourites(scores, allowed, self.labels, self.precision, is_integral(scores))
            meaning = ("A higher score means a query and a key point the same way. Highest "
                       "score per query: " + "; ".join(fav) + ".")
            if allowed is not None:
                meaning += " (Only keys the causal mask allows are counted.)"
            if "glove" in self.sources and head is None and self.posenc == "none" and \
                    all(self.kinds.get(k) == "identity" for k in ("w_q", "w_k")):
                meaning += " " + GLOVE_MEANS.format(self_text=glove_self_text(
                    scores, self.labels, self.precision, allowed))
            parts.append(Part(self.head_heading(head), [view], worked, meaning))
        return self.step("Scores", "scores = Q·Kᵀ  (rows = queries, columns = keys)",
                    r"\mathrm{scores} = QK^{\top}", parts, key="scores")

    def step_scaled(self) -> Step:
        parts = []
        for head in self.head_list():
            s = self.scope(head)
            scores, scaled = self.trace[s + "scores"], self.trace[s + "scaled"]
            d_k = self.trace[s + "k"].shape[1]
            allowed = self.allowed(head)
            r, c = _pick_pair(scores, allowed)
            mats = [MatrixView(self.sub(head, "scaled"), s + "scaled", scaled, self.labels,
                               self.labels)]
            per_head = " of each head" if head is not None else ""
            worked = [self.worked_scaled(head, r, c)]
            if self.scaled:
                meaning = (f"dk = {d_k} is the width of the query and key vectors{per_head} "
                           f"(the columns of Wq and Wk{' per head' if head is not None else ''}). "
                           f"A dot product of dk terms grows with dk; dividing by √dk prevents "
                           f"large scores, which would make the softmax give nearly all the "
                           f"weight to one key. The order within each row does not change.")
            else:
                meaning = (f"With --no-scale the scores go into the softmax as they are "
                           f"(dk = {d_k}, the width of the query and key vectors{per_head}). "
                           f"Step {len(self.steps) + 2} compares the weights with and "
                           f"without scaling.")                   # the softmax step, next
            if allowed is not None:
                masked = self.trace[s + "masked"]
                mats.append(MatrixView(self.sub(head, "masked"), s + "masked", masked,
                                       self.labels, self.labels, masked=~allowed,
                                       masked_text=MASKED_LOGIT,
                                       caption="-inf: a later key"))
                worked.append(self.worked_masked(head, 0, self.n - 1)
                              if self.n > 1 else "nothing is masked in a one-token sentence")
                meaning += (" The causal mask then adds -inf where a query would see a later "
                            "key, so the softmax gives those keys no weight.")
            formula = "scaled = scores ÷ √dk" if self.scaled else "scaled = scores  (--no-scale)"
            if allowed is not None:
                formula += ",  masked = scaled + M"
            parts.append(Part(self.head_heading(head), mats, worked, meaning))
        latex = r"\mathrm{scaled} = \frac{QK^{\top}}{\sqrt{d_k}}" if self.scaled else \
            r"\mathrm{scaled} = QK^{\top}"
        title = "Scaled scores" if self.scaled else "Scores, not scaled"
        return self.step(title, formula, latex, parts, key="scaled")

    def step_softmax(self) -> Step:
        parts = []
        for head in self.head_list():
            s = self.scope(head)
            weights = self.trace[s + "weights"]
            allowed = self.allowed(head)
            masked = None if allowed is None else ~allowed
            label = "weights (no scaling)" if not self.scaled else "weights"
            mats = [MatrixView(self.sub(head, label) if head is not None else label,
                               s + "weights", weights, self.labels, self.labels, heat=True,
                               masked=masked, row_scaled=True,
                               caption=weights_caption(weights))]
            r, c = _pick_pair(self.trace[s + "scores"], allowed)
            worked = self.worked_softmax(head, r, c)
            fav = _favourites(weights, allowed, self.labels, self.precision, False)
            meaning = ("Each row is now a set of weights that add up to 1"
                       + ("" if row_sum_caption(weights) == "each row sums to 1" else
                          " (a row whose keys are all masked is all 0)")
                       + ". Each query attends most to: " + "; ".join(fav) + ".")
            if not self.scaled:
                key = "with_scaling." + s + "weights"
                compare = self.trace[key]
                mats.append(MatrixView("weights (scaled)", key, compare, self.labels,
                                       self.labels, heat=True, masked=masked, row_scaled=True,
                                       caption="for comparison: with ÷ √dk"))
                top_now = [self.fmt(np.max(weights[i][allowed[i] if allowed is not None else
                                                      slice(None)]), False)
                           for i in range(min(self.n, MAX_LISTED))]
                top_scaled = [self.fmt(np.max(compare[i][allowed[i] if allowed is not None else
                                                         slice(None)]), False)
                              for i in range(min(self.n, MAX_LISTED))]
                pairs = "; ".join(f"{self.labels[i]} {a} instead of {b}"
                                  for i, (a, b) in enumerate(zip(top_now, top_scaled)))
                meaning += (" Without scaling the largest weight of each row is: " + pairs +
                            ". Large scores push the softmax towards one key; scaling "
                            "prevents that as dk grows.")
            parts.append(Part(self.head_heading(head), mats, worked, meaning))
        formula = "weights = softmax(" + ("masked" if self.causal else "scaled") + "), row by row"
        return self.step("Softmax per row", formula,
                    r"\mathrm{weights} = \mathrm{softmax}\!\left(\frac{QK^{\top}}{\sqrt{d_k}}\right)"
                    if self.scaled else r"\mathrm{weights} = \mathrm{softmax}(QK^{\top})",
                    parts, key="softmax")

    def step_output(self) -> Step:
        parts = []
        for head in self.head_list():
            s = self.scope(head)
            weights = self.trace[s + "weights"]
            allowed = self.allowed(head)
            r = 0
            mats = [self.token_matrix(self.sub(head, "Z"), s + "out")]
            worked = [self.worked_output(head, r, 0)]
            terms = [f"{self.fmt(weights[r, j], False)}·v({self.labels[j]})" for j in range(self.n)
                     if allowed is None or allowed[r, j]]
            if len(terms) > MAX_SPELLED:
                terms = terms[:2] + ["…"] + terms[-1:]
            meaning = (f"Each row of Z is the token's contextual vector: the value vectors "
                       f"mixed by its weights, z({self.labels[r]}) = {' + '.join(terms)}. "
                       f"Each value vector counts in proportion to its weight.")
            parts.append(Part(self.head_heading(head), mats, worked, meaning))
        formula = "Zi = weights_i·Vi" if self.per_head else "Z = weights·V"
        return self.step("Contextual vectors", formula, r"Z = \mathrm{weights}\,V", parts,
                    key="output")

    def step_concat(self) -> Step:
        worked = [self.worked_concat(0)]
        meaning = (f"The {self.heads} heads' outputs are placed side by side: each head "
                   f"attended in its own way, on its own columns, and all of it is kept."
                   if self.heads > 1 else
                   "With one head there is nothing to place beside it: the concatenation is "
                   "that head's output unchanged, and Wo still mixes its columns.")
        return self.step("Concatenate the heads", "Concat(Z1, …, Zh)",
                    r"\mathrm{Concat}(Z_1, \dots, Z_h)",
                    [Part("", [self.token_matrix("Concat", "concat")], worked, meaning)],
                    key="concat")

    def step_projection(self) -> Step:
        w_o = self.trace["w_o"]
        worked = [self.worked_projection_out(0, 0)]
        meaning = "Wo mixes the heads' columns back into d_model numbers per token."
        if self.kinds.get("w_o") == "identity" and w_o.shape[0] == w_o.shape[1]:
            meaning += " Here Wo is the identity, so the output equals the concatenation."
        return self.step("Output projection", "MultiHead(X) = Concat·Wo",
                    r"\mathrm{MultiHead}(X) = \mathrm{Concat}(Z_1,\dots,Z_h)\,W_O",
                    [Part("", [self.token_matrix("output", "out")], worked, meaning)],
                    key="projection")

    def build(self, after_inputs=None) -> list[Step]:
        """Add every step in order; ``after_inputs(self)`` may add steps after the inputs."""
        self.step_inputs()
        if after_inputs is not None:
            after_inputs(self)
        for add in (self.step_projections, self.step_scores, self.step_scaled,
                    self.step_softmax, self.step_output):
            add()
        if self.per_head:
            self.step_concat()
            self.step_projection()
        return self.steps


def attention_document(trace, tokens: list[str], *, precision: int = 2, heads: int = 1,
                       causal: bool = False, scaled: bool = True, posenc: str = "none",
                       sources: list[str] | None = None,
                       weight_kinds: dict[str, str] | None = None, after_inputs=None,
                       command: str = "attention", title: str = "") -> Document:
    """The walkthrough of self-attention for ``tokens`` from a trace holding ``x``, ``w_q``,
    ``w_k``, ``w_v`` (``w_o``), ``input.*`` (with positional encoding) and what
    ``attention_head`` or ``multi_head_attention_xw`` recorded. ``after_inputs(builder)``
    may add steps after the inputs (the multi-head walkthrough's split)."""
    builder = AttentionBuilder(trace, tokens, precision=precision, heads=heads, causal=causal,
                       scaled=scaled, posenc=posenc,
                       sources=sources or ["derived"] * len(tokens),
                       weight_kinds=weight_kinds or {})
    builder.build(after_inputs)
    x = trace["x"]
    settings = {"d_model": int(x.shape[1]), "d_k": int(trace["w_q"].shape[1]),
                "d_k_per_head": int(trace["w_q"].shape[1]) // heads,
                "d_v": int(trace["w_v"].shape[1]), "heads": heads, "causal": causal,
                "scaled": scaled, "posenc": posenc}
    title = title or f"Self-attention on \"{' '.join(tokens)}\""
    return builder.document(command, title, tokens, settings)


def attention_worked_cell(trace, tokens: list[str], key: str, row: int, col: int, *,
                          precision: int = 2, heads: int = 1, causal: bool = False,
                          scaled: bool = True, posenc: str = "none",
                          sources: list[str] | None = None,
                          weight_kinds: dict[str, str] | None = None) -> list[str]:
    """The worked line(s) of cell (``row``, ``col``) of the matrix a self-attention
    walkthrough shows under trace name ``key`` (``MatrixView.key``), in the words the
    walkthrough's own worked cells use: the dot product spelled out, the division by √dk,
    the softmax of the row. The arguments are :func:`attention_document`'s. Raises KeyError
    for a name the walkthrough does not show."""
    builder = AttentionBuilder(trace, tokens, precision=precision, heads=heads, causal=causal,
                               scaled=scaled, posenc=posenc,
                               sources=sources or ["derived"] * len(tokens),
                               weight_kinds=weight_kinds or {})
    return builder.worked_cell(key, row, col)
