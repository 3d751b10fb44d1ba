"""The backpropagation walkthrough, built from what the engine recorded in a trace.

The six forward steps are the self-attention walkthrough's own (:class:`AttentionBuilder`);
the steps after them read the loss, every gradient and the gradient-descent step from the
trace by name (``out.grad``, ``weights.grad``, ..., ``step.loss``) and never compute them:
the worked cells spell out recorded numbers.
"""

from __future__ import annotations

import math

import numpy as np

from .arithmetic import adding_up, shown_value
from .attention import AttentionBuilder, _dot_text
from .document import (Document, MatrixView, Part, Step, difference_precision, dim_labels,
                       factor, format_number, is_integral)

MAX_TERMS = 4           # squared entries written out in the loss before "…"
MAX_COLUMNS_SHOWN = 6   # columns of a wide (GloVe) matrix drawn, so that one fits in 80 columns


def _largest(values: np.ndarray) -> tuple[int, int]:
    """The cell with the largest absolute value (the first one on a tie): the worked cell."""
    flat = int(np.argmax(np.abs(np.nan_to_num(values))))
    return divmod(flat, values.shape[1])


def _finite(value) -> float | None:
    """A number for the settings (JSON has no inf or NaN: those become None)."""
    value = float(value)
    return value if math.isfinite(value) else None


class BackwardBuilder(AttentionBuilder):
    """The forward steps of one head, then the way back: loss, dL/dZ, the product with V, the
    softmax, the scale, Q and K, the weight matrices, X, and one gradient-descent step."""

    def __init__(self, trace, tokens, *, precision, lr, target_kind, lowered,
                 advised_lr=None, rates_tried=(), below_rounding=False, **attention):
        super().__init__(trace, tokens, precision=precision, per_head=False, **attention)
        self.advised_lr = advised_lr
        self.rates_tried = list(rates_tried)
        if self.max_columns is not None:                               # real word vectors:
            self.max_columns = min(self.max_columns, MAX_COLUMNS_SHOWN)  # one table per matrix
        self.lr = lr
        self.target_kind = target_kind
        self.lowered = lowered
        self.below_rounding = below_rounding
        self.input_name = "X + PE" if self.posenc != "none" else "X"

    # --- helpers -----------------------------------------------------------------------
    def shown_shape(self, values, weight: bool = False) -> tuple[int, int]:
        """The rows and columns drawn: all of them, or with wide real word vectors (GloVe)
        the first ``max_columns`` columns (and rows, for a d_model × d_k weight matrix)."""
        n_rows, n_cols = values.shape
        if self.max_columns is None:
            return n_rows, n_cols
        return (min(n_rows, self.max_columns) if weight else n_rows), min(n_cols, self.max_columns)

    def worked_cell(self, values, weight: bool = False) -> tuple[int, int]:
        """The worked cell: the largest of the cells drawn."""
        r, c = self.shown_shape(values, weight)
        return _largest(np.asarray(values)[:r, :c])

    def grad_view(self, name, key, rows=None, cols=None, *, weight: bool = False,
                  **kw) -> MatrixView:
        """The recorded gradient ``key`` labelled by tokens (or ``rows``) and d1.. (or
        ``cols``); wide ones draw their first columns (and rows, for a weight matrix) and the
        title says which (JSON has them all)."""
        values = self.trace[key]
        rows = list(rows or self.labels)
        cols = list(cols or dim_labels(values.shape[1]))
        r, c = self.shown_shape(values, weight)
        if (r, c) != values.shape:
            kw["caption"] = "; ".join(filter(None, [kw.get("caption"), "--format json has them all"]))
            kw["window"] = (r, c)
        return MatrixView(name, key, values, rows, cols, **kw)

    def weight_labels(self, key):
        w = self.trace[key]
        return dim_labels(w.shape[0]), dim_labels(w.shape[1])

    def masked_cells(self) -> dict:
        """With a causal mask: its cells shown as masked (their gradient is 0), captioned."""
        allowed = self.allowed(None)
        if allowed is None:
            return {}
        return {"masked": ~allowed, "caption": "—: a masked key, gradient 0"}

    def number(self, value) -> str:
        """A value as a factor: '(-0.16)', '0.58', and '0' for a whole number."""
        return factor(self.fmt(value))

    def cell(self, r, c) -> str:
        return f"({self.labels[r]}, d{c + 1})"

    def step_number(self, key: str) -> int:
        return next(s.number for s in self.steps if s.key == key)

    # --- the way back ------------------------------------------------------------------
    def step_loss(self) -> Step:
        error, loss = self.trace["error"], self.trace["loss"]
        entries = [f"{self.number(e)}²" for e in error.reshape(-1)]
        if len(entries) > MAX_TERMS:
            entries = entries[:MAX_TERMS - 1] + ["…", entries[-1]]
        worked = [f"L = ½ × ({' + '.join(entries)}) = {self.fmt(loss, False)}"
                  f"  ({error.size} squared entries of Z − T)"]
        kind = self.target_kind
        if kind == "zeros (the default)":
            source = (f"No --target was given, and Z has {error.shape[1]} columns where "
                      f"{self.input_name} has {self.trace[self.x_name].shape[1]}, so T = 0: "
                      f"the head should learn to output nothing.")
        elif kind.endswith("(the default)"):
            source = (f"No --target was given, so T = {self.input_name}, the head's own input: "
                      f"each token should come out as the vector it went in as.")
        else:
            source = "T is the --target given."
        meaning = (f"The target T says what Z should have been. {source} L adds up the squared "
                   f"differences; the ½ makes its gradient simply Z − T. Training changes Wq, "
                   f"Wk and Wv to make L smaller, and the next steps find the direction by the "
                   f"chain rule, from the output back to the inputs.")
        mats = [self.token_matrix("T (target)", "target"), self.token_matrix("Z − T", "error")]
        return self.step("Loss against a target", "L = ½‖Z − T‖² = ½ Σ (Z − T)²",
                         r"L = \tfrac12 \lVert Z - T \rVert^2", Part("", mats, worked, meaning),
                         key="loss")

    def step_grad_out(self) -> Step:
        grad, out, target = self.trace["out.grad"], self.trace["out"], self.trace["target"]
        r, c = self.worked_cell(grad)
        worked = [f"dL/dZ{self.cell(r, c)} = Z{self.cell(r, c)} − T{self.cell(r, c)} = "
                  f"{self.fmt(out[r, c])} − {self.number(target[r, c])} = {self.fmt(grad[r, c])}"]
        meaning = ("Each entry says how fast L grows when that entry of Z grows: positive where "
                   "Z is above T, negative where it is below. From here the gradient goes back "
                   "through the forward steps in reverse order; at each one, the chain rule "
                   "multiplies it by that step's own derivative.")
        return self.step("Gradient at the output", "dL/dZ = Z − T", r"\partial L/\partial Z = Z - T",
                         Part("", [self.grad_view("dL/dZ", "out.grad")], worked, meaning),
                         key="grad_out")

    def step_grad_product(self) -> Step:
        g_w, g_v = self.trace["weights.grad"], self.trace["v.grad"]
        g_out, v, weights = self.trace["out.grad"], self.trace["v"], self.trace["weights"]
        allowed = self.allowed(None)
        r, c = self.worked_cell(g_w if allowed is None else np.where(allowed, g_w, 0))
        rv, cv = self.worked_cell(g_v)
        lab = self.labels
        worked = [f"dL/dweights({lab[r]}, {lab[c]}) = dL/dZ({lab[r]})·v({lab[c]}) = "
                  + _dot_text(g_out[r], v[c], g_w[r, c], self.precision),
                  f"dL/dV{self.cell(rv, cv)} = weights(:, {lab[rv]})·dL/dZ(:, d{cv + 1}) = "
                  + _dot_text(weights[:, rv], g_out[:, cv], g_v[rv, cv], self.precision)]
        meaning = ("Z = weights·V is a product, so the gradient goes two ways. dL/dweights(q, k) "
                   "says how L would change if query q took a little more of key k's value; "
                   "dL/dV gathers, for each value vector, the gradient of every query that used "
                   "it, in proportion to how much it used it.")
        if allowed is not None:
            meaning += (" The causal mask's zero weights pass nothing to later keys' values.")
        mats = [self.grad_view("dL/dweights", "weights.grad", cols=lab, masked=None),
                self.grad_view("dL/dV", "v.grad")]
        return self.step("Back through Z = weights·V", "dL/dweights = dL/dZ·Vᵀ,  dL/dV = weightsᵀ·dL/dZ",
                         r"\frac{\partial L}{\partial W} = \frac{\partial L}{\partial Z}V^{\top},\;"
                         r"\frac{\partial L}{\partial V} = W^{\top}\frac{\partial L}{\partial Z}",
                         Part("", mats, worked, meaning), key="grad_product")

    def step_grad_softmax(self) -> Step:
        g_s, g_w = self.trace["scaled.grad"], self.trace["weights.grad"]
        mean, weights = self.trace["softmax.grad_mean"], self.trace["weights"]
        allowed = self.allowed(None)
        lab = self.labels
        r, c = self.worked_cell(g_s)
        worked = [f"Σ({lab[r]}) = weights({lab[r]})·dL/dweights({lab[r]}) = "
                  + _dot_text(weights[r], g_w[r], mean[r, 0], self.precision),
                  f"dL/dscaled({lab[r]}, {lab[c]}) = w × (dL/dw − Σ) = "
                  f"{self.fmt(weights[r, c], False)} × ({self.fmt(g_w[r, c], False)} − "
                  f"{self.number(mean[r, 0])}) = {self.fmt(g_s[r, c], False)}"]
        meaning = ("The softmax ties a row together: raising one score takes weight from the "
                   "others. So each score's gradient is its weight times how much its key beats "
                   "the row's average gradient Σ (the average taken with the weights). Each row "
                   "of dL/dscaled adds up to 0, since adding one number to a whole row of scores "
                   "changes nothing; and a key with almost no weight gets almost no gradient, "
                   "so a saturated softmax passes little back.")
        mats = [self.grad_view("Σ = weights·dL/dweights", "softmax.grad_mean", cols=["Σ"]),
                self.grad_view("dL/dscaled", "scaled.grad", cols=lab, **self.masked_cells())]
        formula = "dL/dscaled = weights ⊙ (dL/dweights − Σ),  Σ = Σⱼ weightsⱼ·dL/dweightsⱼ"
        if allowed is not None:
            meaning += (" Masked keys have weight 0 and get 0; the mask itself is a constant, "
                        "so dL/dmasked is the same matrix.")
        return self.step("Back through the softmax", formula,
                         r"\frac{\partial L}{\partial s_{ij}} = w_{ij}\Big(\frac{\partial L}"
                         r"{\partial w_{ij}} - \sum_k w_{ik}\frac{\partial L}{\partial w_{ik}}\Big)",
                         Part("", mats, worked, meaning), key="grad_softmax")

    def step_grad_scale(self) -> Step:
        g_scores, g_scaled = self.trace["scores.grad"], self.trace["scaled.grad"]
        d_k = self.trace["k"].shape[1]
        lab = self.labels
        r, c = self.worked_cell(g_scores)
        pair = f"({lab[r]}, {lab[c]})"
        softmax_step = self.step_number("softmax")
        if self.scaled:
            worked = [f"dL/dscores{pair} = dL/dscaled{pair} ÷ √{d_k} = "
                      f"{self.fmt(g_scaled[r, c], False)} ÷ {self.fmt(math.sqrt(d_k))} = "
                      f"{self.fmt(g_scores[r, c], False)}"]
            meaning = (f"scaled = scores ÷ √dk multiplies every score by one constant, so the "
                       f"gradient is multiplied by it too: the chain rule's simplest case. The "
                       f"scale helps the way back twice: it makes this gradient √{d_k} times "
                       f"smaller, and it keeps the softmax of step {softmax_step} from "
                       f"saturating, where its gradient would vanish.")
            formula, latex = "dL/dscores = dL/dscaled ÷ √dk", \
                r"\frac{\partial L}{\partial\,\mathrm{scores}} = \frac{1}{\sqrt{d_k}}" \
                r"\frac{\partial L}{\partial\,\mathrm{scaled}}"
        else:
            worked = [f"dL/dscores{pair} = dL/dscaled{pair} = {self.fmt(g_scores[r, c], False)}"
                      f"  (--no-scale: × 1, not ÷ √{d_k})"]
            meaning = ("With --no-scale the scores went into the softmax unchanged, so their "
                       "gradient passes through unchanged too. Without the scale, larger dk "
                       "saturates the softmax and its gradient shrinks towards zero.")
            formula, latex = "dL/dscores = dL/dscaled  (--no-scale)", \
                r"\frac{\partial L}{\partial\,\mathrm{scores}} = \frac{\partial L}{\partial\,\mathrm{scaled}}"
        return self.step("Back through the 1/√dk scale", formula, latex,
                         Part("", [self.grad_view("dL/dscores", "scores.grad", cols=lab,
                                                  **self.masked_cells())],
                              worked, meaning), key="grad_scale")

    def step_grad_qk(self) -> Step:
        g_s, q, k = self.trace["scores.grad"], self.trace["q"], self.trace["k"]
        g_q, g_k = self.trace["q.grad"], self.trace["k.grad"]
        rq, cq = self.worked_cell(g_q)
        rk, ck = self.worked_cell(g_k)
        worked = [f"dL/dQ{self.cell(rq, cq)} = dL/dscores({self.labels[rq]}, :)·K(:, d{cq + 1}) = "
                  + _dot_text(g_s[rq], k[:, cq], g_q[rq, cq], self.precision),
                  f"dL/dK{self.cell(rk, ck)} = dL/dscores(:, {self.labels[rk]})·Q(:, d{ck + 1}) = "
                  + _dot_text(g_s[:, rk], q[:, ck], g_k[rk, ck], self.precision)]
        meaning = ("scores = Q·Kᵀ: a query's gradient is the keys it was compared with, each "
                   "weighted by how L wants that score to move; a key's gradient gathers the "
                   "queries that looked at it in the same way.")
        mats = [self.grad_view("dL/dQ", "q.grad"), self.grad_view("dL/dK", "k.grad")]
        return self.step("Gradients of the queries and keys",
                         "dL/dQ = dL/dscores·K,  dL/dK = dL/dscoresᵀ·Q",
                         r"\frac{\partial L}{\partial Q} = \frac{\partial L}{\partial S}K,\;"
                         r"\frac{\partial L}{\partial K} = \frac{\partial L}{\partial S}^{\top}Q",
                         Part("", mats, worked, meaning), key="grad_qk")

    def weight_grad_parts(self, which) -> tuple[list[MatrixView], list[str]]:
        """dL/dW for each (name, key, projection) in ``which``: views and worked cells."""
        inputs = self.trace[self.x_name]
        mats, worked = [], []
        for name, key, via in which:
            grad, g_via = self.trace[f"{key}.grad"], self.trace[f"{via}.grad"]
            rows, cols = self.weight_labels(key)
            mats.append(self.grad_view(f"dL/d{name}", f"{key}.grad", rows=rows, cols=cols,
                                       weight=True))
            r, c = self.worked_cell(grad, weight=True)
            worked.append(f"dL/d{name}(d{r + 1}, d{c + 1}) = {self.x_text}(:, d{r + 1})·"
                          f"dL/d{via.upper()}(:, d{c + 1}) = "
                          + _dot_text(inputs[:, r], g_via[:, c], grad[r, c], self.precision))
        return mats, worked

    @property
    def x_text(self) -> str:
        return "(X + PE)" if self.posenc != "none" else "X"

    def step_grad_wq_wk(self) -> Step:
        mats, worked = self.weight_grad_parts((("Wq", "w_q", "q"), ("Wk", "w_k", "k")))
        meaning = (f"Q = {self.x_text}·Wq, so each entry of Wq met every token's input: its "
                   f"gradient adds, over the tokens, the input times the gradient of the query "
                   f"it helped make; likewise Wk with the keys. These matrices are what training "
                   f"needs: the direction in which L grows fastest. Step {len(self.steps) + 4} "
                   f"moves the other way.")
        return self.step("Gradients of Wq and Wk",
                         f"dL/dWq = {self.x_text}ᵀ·dL/dQ,  dL/dWk = {self.x_text}ᵀ·dL/dK",
                         r"\frac{\partial L}{\partial W_q} = X^{\top}\frac{\partial L}{\partial Q},"
                         r"\;\frac{\partial L}{\partial W_k} = X^{\top}\frac{\partial L}{\partial K}",
                         Part("", mats, worked, meaning), key="grad_wq_wk")

    def step_grad_wv(self) -> Step:
        mats, worked = self.weight_grad_parts((("Wv", "w_v", "v"),))
        meaning = (f"V = {self.x_text}·Wv: the same rule with the values' gradient from step "
                   f"{self.step_number('grad_product')}. The value path is the shortest way "
                   f"back: it skips the softmax, so it does not depend on how saturated the "
                   f"softmax is.")
        return self.step("Gradient of Wv", f"dL/dWv = {self.x_text}ᵀ·dL/dV",
                         r"\frac{\partial L}{\partial W_v} = X^{\top}\frac{\partial L}{\partial V}",
                         Part("", mats, worked, meaning), key="grad_wv")

    def step_grad_x(self) -> Step:
        grad = self.trace["x.grad"]
        via = {p: self.trace[f"x.grad.via_{p}"] for p in "qkv"}
        r, c = self.worked_cell(grad)
        lab = self.labels
        w_q, g_q = self.trace["w_q"], self.trace["q.grad"]
        worked = [f"dL/dX{self.cell(r, c)} = via Q + via K + via V = "
                  f"{self.fmt(via['q'][r, c], False)} + {self.number(via['k'][r, c])} + "
                  f"{self.number(via['v'][r, c])} = {self.fmt(grad[r, c], False)}",
                  f"via Q: dL/dQ({lab[r]})·Wq(d{c + 1}, :) = "
                  + _dot_text(g_q[r], w_q[c], via["q"][r, c], self.precision)]
        meaning = ("Each token's vector was used three times, as a query, a key and a value, so "
                   "its gradient comes back along three paths, which add up. X is not trained "
                   "here; in a whole Transformer this gradient flows on to the layer below and "
                   "at last to the word embeddings.")
        if self.posenc != "none":
            meaning += " PE is a constant, so this is also the gradient of the word vectors X."
        name = "dL/d(X + PE)" if self.posenc != "none" else "dL/dX"
        return self.step("Gradient of the input", "dL/dX = dL/dQ·Wqᵀ + dL/dK·Wkᵀ + dL/dV·Wvᵀ",
                         r"\frac{\partial L}{\partial X} = \frac{\partial L}{\partial Q}W_q^{\top}"
                         r" + \frac{\partial L}{\partial K}W_k^{\top} + \frac{\partial L}"
                         r"{\partial V}W_v^{\top}",
                         Part("", [self.grad_view(name, "x.grad")], worked, meaning), key="grad_x")

    def step_descent(self) -> Step:
        t = self.trace
        loss, new_loss = float(t["loss"]), float(t["step.loss"])
        sq_norm, predicted = float(t["step.sq_norm"]), float(t["step.predicted_decrease"])
        grad, w_q, new_w_q = t["w_q.grad"], t["w_q"], t["step.w_q"]
        r, c = self.worked_cell(grad, weight=True)
        lr = f"{self.lr:g}"
        p = self.precision
        shown_new = self.fmt(new_w_q[r, c])                # more decimals where the line needs
        d = adding_up(p, shown_new, lambda d: shown_value(w_q[r, c], d, is_integral([w_q[r, c]]))
                      - float(lr) * shown_value(grad[r, c], d), is_integral([new_w_q[r, c]]))
        # (d, e: the decimals at which each line adds up as printed)
        shown_drop = self.fmt(predicted, False)
        e = adding_up(p, shown_drop, lambda e: float(lr) * shown_value(sq_norm, e))
        # L before and after at the decimals that show their difference to two significant
        # digits (0.8055445422 to 0.8055445342, not 0.81 to 0.81)
        places = difference_precision([new_loss], loss, p) if math.isfinite(new_loss) else p
        before, after = (format_number(v, places, False) for v in (loss, new_loss))
        change = new_loss - loss
        if change != 0 and before == after:             # closer than any decimals shown:
            before, after = repr(float(loss)), repr(float(new_loss))  # every float64 digit
        by = (f" (by {format_number(abs(change), p, False)})"
              if math.isfinite(change) and change != 0 else "")
        worked = [f"Wq(d{r + 1}, d{c + 1}) = "
                  f"{format_number(w_q[r, c], d, is_integral([w_q[r, c]]))} − {lr} × "
                  f"{factor(format_number(grad[r, c], d))} = {shown_new}",
                  f"L before: {before}; after: {after}" + ("  (unchanged)" if change == 0
                                                           else by),
                  f"first-order estimate of the drop: lr·‖g‖² = {lr} × "
                  f"{format_number(sq_norm, e, False)} = {shown_drop}"]
        if sq_norm == 0:
            meaning = ("The gradient is zero: nothing about Wq, Wk or Wv can lower L here (Z "
                       "already equals T, or cannot move), so the step changes nothing.")
        elif not math.isfinite(new_loss):
            meaning = (f"The step was far too long: with lr = {self.lr:g} the numbers overflowed "
                       f"and the new loss is not a number. {self.advice()}")
        elif self.below_rounding:
            outcome = ("L did not change at all" if change == 0 else
                       f"L went {'down' if change < 0 else 'up'} from {before} to {after}, "
                       f"by rounding alone")
            meaning = (f"{outcome}: lr = {self.lr:g} is too small, not too large. The drop it "
                       f"should give, lr·‖g‖² = {shown_drop}, is below what float64 can show "
                       f"at L = {self.fmt(loss, False)} (neighbouring float64 numbers there are "
                       f"{float(np.spacing(abs(loss))):.2g} apart, and the forward pass rounds "
                       f"by a few of those). Try a larger --lr.")
        elif self.lowered:
            meaning = (f"Every weight moved a little against its gradient, and the same forward "
                       f"pass now gives a Z nearer T as a whole (single entries may move away): "
                       f"L went down from {before} to {after}{by}. For a small step the drop is "
                       f"about lr·‖g‖²; training repeats this step many times.")
        else:
            meaning = (f"L did not go down ({before} before, {after} after): lr = {self.lr:g} "
                       f"is too large here. The gradient only describes L near the current "
                       f"weights, and a step this long overshoots. {self.advice()}")
        mats = [self.token_matrix("new Z", "step.out"), self.token_matrix("new Z − T", "step.error")]
        return self.step("One step of gradient descent",
                         f"W ← W − lr·dL/dW  (lr = {self.lr:g}),  then Z and L again",
                         r"W \leftarrow W - \eta\,\frac{\partial L}{\partial W}",
                         Part("", mats, worked, meaning), key="descent")

    def advice(self) -> str:
        """The smaller --lr the walkthrough checked (its ``advised_lr``), and which it tried."""
        tried = self.rates_tried
        if self.advised_lr is None:
            return (f"No smaller rate tried ({tried[0]:g} down to {tried[-1]:g}) lowered L "
                    f"either." if tried else "Try a smaller --lr.")
        others = [f"{rate:g}" for rate in tried[:-1]]
        if len(others) > 4:
            others = [f"the rates from {others[0]} down to {others[-1]}"]
            verb = "do"
        else:
            verb = "does" if len(others) == 1 else "do"
        checked = f"; {', '.join(others)} {verb} not" if others else ""
        return (f"Try --lr {self.advised_lr:g}: this walkthrough ran the same step with it and "
                f"L goes down{checked}.")

    def build_backward(self) -> list[Step]:
        self.build()
        for add in (self.step_loss, self.step_grad_out, self.step_grad_product,
                    self.step_grad_softmax, self.step_grad_scale, self.step_grad_qk,
                    self.step_grad_wq_wk, self.step_grad_wv, self.step_grad_x, self.step_descent):
            add()
        return self.steps


def backward_document(recording, *, precision: int = 2) -> Document:
    """A ``backward.backpropagation`` recording, step by step (its ``info`` the facts)."""
    return _backward_document(recording.trace, recording.tokens, precision=precision,
                              **recording.info)


def _backward_document(trace, tokens: list[str], *, precision: int = 2, lr: float,
                      target_kind: str, lowered: bool, advised_lr: float | None = None,
                      rates_tried=(), below_rounding: bool = False, causal: bool = False,
                      scaled: bool = True, posenc: str = "none", sources: list[str] | None = None,
                      weight_kinds: dict[str, str] | None = None, heads: int = 1,
                      command: str = "backward") -> Document:
    """The backpropagation walkthrough for ``tokens`` from the trace of
    :func:`tutor.walkthroughs.backward.backpropagation` (its ``info`` gives the keywords)."""
    builder = BackwardBuilder(trace, tokens, precision=precision, lr=lr,
                              target_kind=target_kind, lowered=lowered, advised_lr=advised_lr,
                              rates_tried=rates_tried, below_rounding=below_rounding,
                              heads=heads,
                              causal=causal, scaled=scaled, posenc=posenc,
                              sources=sources or ["derived"] * len(tokens),
                              weight_kinds=weight_kinds or {})
    builder.build_backward()
    x = trace["x"]
    settings = {"d_model": int(x.shape[1]), "d_k": int(trace["w_q"].shape[1]),
                "d_v": int(trace["w_v"].shape[1]), "heads": 1, "causal": causal,
                "scaled": scaled, "posenc": posenc, "lr": lr, "target": target_kind,
                "loss": _finite(trace["loss"]), "loss_after_step": _finite(trace["step.loss"]),
                "loss_lowered": lowered, "advised_lr": advised_lr}
    title = f"Backpropagation through one attention head on \"{' '.join(tokens)}\""
    subtitle = (f"{len(tokens)} tokens, d_model = {settings['d_model']}, d_k = {settings['d_k']}; "
                f"loss ½‖Z − T‖², T: {target_kind}; lr = {lr:g}")
    return builder.document(command, title, tokens, settings, subtitle=subtitle)
