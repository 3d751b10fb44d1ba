"""``tutor scaling`` without ``--train``: how the spread of q·k grows with dk, and what
dividing by √dk does to the softmax and its gradient, built from what
:func:`tutor.walkthroughs.softmax.scaling` recorded. Nothing here computes. (The trained
experiment, ``--train``, is :mod:`tutor.render.scaling_training`.)"""

from __future__ import annotations

import numpy as np

from .document import Chart, Document, MatrixView, Part
from .builder import DocumentBuilder

# columns of the recorded ``table``: see tutor.nn.analysis.scaling_statistics
D_K, SQRT_D_K, STD, MAX_UNSCALED, MAX_SCALED, GRAD_UNSCALED, GRAD_SCALED = range(7)


STEADY = 0.1            # scaled values within 10% of each other "stay about the same"


def _steady(w: DocumentBuilder, what: str, scaled, unscaled, samples: int,
            verb: str = "") -> str:
    """The end of a sentence saying how ``what`` behaves as dk grows, true of the numbers
    shown: 'about the same' only when the scaled values lie within STEADY of each other."""
    lo, hi = float(np.min(scaled)), float(np.max(scaled))
    if hi - lo <= STEADY * max(abs(hi), 1e-300):
        return (f" {verb} {what} about the same for every dk." if verb else
                f": {what} stays about the same as dk grows.")
    moved = (f"{what} goes from {w.fmt(scaled[0], False)} to {w.fmt(scaled[-1], False)} "
             f"scaled, from {w.fmt(unscaled[0], False)} to {w.fmt(unscaled[-1], False)} "
             f"unscaled, from the smallest dk to the largest")
    noise = f" ({samples} samples per dk is few: the means are noisy)" if samples < 200 else ""
    return (f" change {what} less than unscaled ones: {moved}{noise}." if verb else
            f" in part: {moved}{noise}.")


def scaling_document(recording, *, precision: int, seed: int) -> Document:
    """A ``softmax.scaling`` recording: the spread of q·k, saturation, the gradient, by dk.
    ``seed``: the one the random queries and keys were drawn from, for the subtitle."""
    samples, keys = recording.info["samples"], recording.info["keys"]
    w = DocumentBuilder(recording.trace, precision)
    table = w["table"]                                                 # [n_dk, 7]
    labels = [f"dk={int(d)}" for d in table[:, D_K]]

    def columns(name, picks, names, caption=""):
        return MatrixView(name, "table", table[:, picks], labels, names, caption=caption)

    def paired(name, unscaled, scaled):
        """One chart, one scale: each dk's unscaled bar above its scaled bar."""
        pair_labels = [f"{label} {kind}" for label in labels for kind in ("unscaled", "scaled")]
        values = np.stack([table[:, unscaled], table[:, scaled]], axis=1).ravel()
        return Chart(name, "table", pair_labels, values)

    big, small = table[-1], table[0]
    w.step("The spread of q·k grows like √dk", "std(q·k) = √dk  for q, k ~ N(0, 1)",
           r"\mathrm{std}(q \cdot k) = \sqrt{d_k}",
           Part("", [columns("q·k", [SQRT_D_K, STD], ["√dk", "std(q·k)"],
                             caption=f"std of {samples} dot products")],
                [f"dk = {int(big[D_K])}: std(q·k) = {w.fmt(big[STD])}, √dk = {w.fmt(big[SQRT_D_K])}"],
                "q·k adds up dk products of independent numbers with mean 0 and variance 1, "
                "so its variance is dk and its typical size is √dk: the wider the vectors, "
                "the larger the scores.", charts=[w.chart("std(q·k)", "table", labels,
                                                          values=table[:, STD])]),
           key="spread")
    w.step("Unscaled softmax saturates", "max_j softmax(q·k_j)  vs  max_j softmax(q·k_j / √dk)",
           r"\max_j \mathrm{softmax}(q k_j^\top) \;\text{vs}\; \max_j \mathrm{softmax}(q k_j^\top/\sqrt{d_k})",
           Part("", [columns("largest weight", [MAX_UNSCALED, MAX_SCALED], ["unscaled", "scaled"],
                             caption=f"mean over {samples} queries, {keys} keys each")],
                [f"dk = {int(big[D_K])}: unscaled {w.fmt(big[MAX_UNSCALED])}, "
                 f"scaled {w.fmt(big[MAX_SCALED])}; an even split would give {w.fmt(1 / keys)}"],
                "Large scores make softmax put nearly all the weight on one key. Dividing by "
                "√dk brings the scores back to a spread of about 1 whatever dk is, which "
                "prevents that" + _steady(w, "the largest weight", table[:, MAX_SCALED],
                                          table[:, MAX_UNSCALED], samples),
                charts=[paired("largest weight", MAX_UNSCALED, MAX_SCALED)]),
           key="saturation")
    w.step("And its gradient vanishes", "‖J‖ of J = diag(p) − p pᵀ, the softmax Jacobian",
           r"\|J\|_F,\; J = \mathrm{diag}(p) - p p^\top",
           Part("", [columns("gradient size", [GRAD_UNSCALED, GRAD_SCALED], ["unscaled", "scaled"],
                             caption="mean Frobenius norm of the softmax Jacobian")],
                [f"dk = {int(small[D_K])} → {int(big[D_K])}: unscaled "
                 f"{w.fmt(small[GRAD_UNSCALED])} → {w.fmt(big[GRAD_UNSCALED])}, scaled "
                 f"{w.fmt(small[GRAD_SCALED])} → {w.fmt(big[GRAD_SCALED])}"],
                "When one weight is near 1 and the rest near 0, every entry of the Jacobian is "
                "near 0, so almost no gradient flows back into the scores and training stalls. "
                "Scaled scores" + _steady(w, "the gradient", table[:, GRAD_SCALED],
                                          table[:, GRAD_UNSCALED], samples, verb="keep"),
                charts=[paired("gradient size", GRAD_UNSCALED, GRAD_SCALED)]),
           key="gradient")
    dks = ", ".join(str(int(d)) for d in table[:, D_K])
    settings = {"dk": [int(d) for d in table[:, D_K]], "samples": samples, "keys": keys,
                "seed": seed}
    return w.document("scaling", "Why attention divides by √dk", [], settings,
                      subtitle=f"dk = {dks}; {samples} random queries, {keys} keys each, seed {seed}")


TABLE_COLUMNS = ["dk", "√dk", "sd", "top", "top ÷√", "grad", "grad ÷√"]   # the recorded table's


def table_rows(recording) -> list[str]:
    """The rows of the recorded table: dk4, dk64, ..."""
    return [f"dk{int(d)}" for d in np.asarray(recording.trace["table"])[:, D_K]]


def scaling_table_document(recording, *, precision: int = 2) -> Document:
    """The measurements of ``walkthroughs.softmax.scaling`` in one table, a row per width dk
    (step ``table``): the spread of q·k, the mean largest softmax weight and the mean size of
    the softmax's gradient, without and with ÷√dk."""
    w = DocumentBuilder(recording.trace, precision)
    samples, keys = recording.info["samples"], recording.info["keys"]
    w.matrices_step("table", w.first_matrix(
        "q·k and the softmax, by width", "table", table_rows(recording), TABLE_COLUMNS,
        caption="sd: spread of q·k; top: mean largest weight; grad: mean size of the "
                "softmax's gradient; ÷√: after dividing the scores by √dk"))
    facts = [f"{samples} random queries per width, each against {keys} random keys; every "
             "entry drawn from N(0, 1)."]
    return w.document("dot-growth", "dot-growth", [], {}, notes=facts)
