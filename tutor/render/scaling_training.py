"""The scaling experiment's document (``tutor scaling --train``): the loss curves of the runs
with and without 1/√dk side by side, then what was measured and what it shows. Reads the
trace of :func:`tutor.walkthroughs.scaling_training.scaling_training` by name; computes nothing."""

from __future__ import annotations

import math

import numpy as np

from .builder import DocumentBuilder
from .document import Document, MatrixView, Part

CLEAR = 1.2            # a final-loss ratio beyond this (either way) counts as a difference


def _dks(values) -> str:
    """[4] -> '4'; [4, 16, 64] -> '4, 16 and 64'."""
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _steps_text(value) -> str:
    value = float(value)
    return "never" if math.isnan(value) else f"step {value:.0f}"


def scaling_training_document(recording, *, precision: int = 2) -> Document:
    """A ``scaling_training.scaling_training`` recording (its ``info`` the run's settings and
    measurements), live or replayed from a file."""
    info = {k: v for k, v in recording.info.items() if k != "recorded"}
    return _scaling_training_document(recording.trace, precision=precision, **info)


def _scaling_training_document(trace, *, labels, marks, d_ks, d_model, steps, seed,
                              qk_init_gain, target_loss, running, diverged, ratios,
                              seconds=0.0, precision: int = 2) -> Document:
    """The document of the scaling experiment; the keywords are the walkthrough's ``info``."""
    builder = DocumentBuilder(trace, precision)

    def percent(share) -> str:                       # as the table's "accuracy %" shows it
        return f"{builder.fmt(float(share) * 100, False)}%"

    curves = np.asarray(trace["curves"], dtype=np.float64)
    finite = curves[np.isfinite(curves)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    drawn = np.where(np.isfinite(curves), curves, high)                # a diverged run: darkest
    per_column = steps / curves.shape[1]
    columns = [str(i + 1) for i in range(curves.shape[1])]
    each = "one column per step" if per_column == 1 else \
        f"one column per {per_column:g} steps (their mean loss)"
    caption = f"{each}, step 1 on the left; taller and darker = higher loss"
    if any(diverged.values()):
        caption += "; after a run diverged its columns are drawn darkest"
    picture = MatrixView("training loss", "curves", drawn, list(labels), columns, heat=True,
                         compact=True, heat_range=(low, high), caption=caption)
    table = MatrixView(f"loss at step … (mean of the {running} steps up to it)", "checkpoints",
                       trace["checkpoints"], list(labels), [str(m) for m in marks])
    last = marks[-1]
    worked = []
    for d_k in d_ks:
        a, b = (trace[f"dk{d_k}.{kind}.final_loss"] for kind in ("scaled", "unscaled"))
        worked.append(f"dk {d_k}, loss at step {last}: {builder.fmt(a, False)} with ÷√dk, "
                      f"{builder.fmt(b, False)} without")
    heads = ", ".join(f"dk {d} → {d_model // d} head{'s' if d_model // d > 1 else ''}"
                      for d in d_ks)
    meaning = (f"The same encoder-decoder (d_model = {d_model}, one encoder and one decoder "
               f"layer) learns to reverse digit sequences for {steps} steps, twice for each dk: "
               f"with attention's ÷√dk and without it. The heads are d_model / dk ({heads}), so "
               f"every run has the same parameters; each pair starts from the same weights "
               f"(seed {seed}) and sees the same batches. Only the scale differs.")
    if qk_init_gain != 1:
        meaning += (f" The initial query and key weights are {qk_init_gain:g} times the usual "
                    f"ones (--gain), which makes the first dot products larger.")
    builder.step("Loss curves, side by side",
                 "softmax(Q·Kᵀ ÷ √dk)  beside  softmax(Q·Kᵀ), trained the same way",
                 r"\mathrm{softmax}\!\left(\frac{QK^{\top}}{\sqrt{d_k}}\right)\ \text{vs}\ "
                 r"\mathrm{softmax}(QK^{\top})",
                 Part("", [picture, table], worked, meaning), key="curves")

    rows = np.asarray(trace["table"], dtype=np.float64)
    counts = MatrixView("heads, steps to loss ≤ " + f"{target_loss:g}", "table", rows[:, [0, 2]],
                        list(labels), ["heads", f"steps→{target_loss:g}"],
                        masked=np.isnan(rows[:, [0, 2]]), masked_text="never")
    shown = rows[:, [1, 3, 4]] * np.array([1.0, 1.0, 100.0])         # accuracy in %
    figures = MatrixView("before and after training", "table", shown, list(labels),
                         ["peak₀", "loss", "accuracy %"],
                         caption="peak₀: each query's largest weight before training; "
                                 "accuracy %: held-out sequences exactly right")
    worked, differ, reverse, same = [], [], [], []
    for d_k in d_ks:
        s, u = f"dk{d_k}.scaled", f"dk{d_k}.unscaled"
        ratio = ratios.get(d_k)
        if diverged.get(u) and not diverged.get(s):
            differ.append(d_k)
            verdict = "without ÷√dk the loss became NaN or infinite"
        elif ratio is None:
            verdict = "no ratio (a run diverged or reached 0)"
        else:
            verdict = f"final loss ×{ratio:.2f} without ÷√dk"
            (differ if ratio > CLEAR else reverse if ratio < 1 / CLEAR else same).append(d_k)
        worked.append(f"dk {d_k}: {verdict}; accuracy {percent(trace[s + '.accuracy'])} with, "
                      f"{percent(trace[u + '.accuracy'])} without; loss ≤ {target_loss:g}: "
                      f"{_steps_text(trace[s + '.steps_to_target'])} with, "
                      f"{_steps_text(trace[u + '.steps_to_target'])} without")
    widest = max(d_ks)
    peak_s = float(trace[f"dk{widest}.scaled.initial_max_weight"])
    peak_u = float(trace[f"dk{widest}.unscaled.initial_max_weight"])
    parts = []
    if differ:
        grows = [ratios.get(d) for d in d_ks if d in differ and ratios.get(d) is not None]
        parts.append(f"Without the scale, training was slower at dk "
                     f"{_dks(differ)} (a final loss more than "
                     f"{CLEAR:g} times the scaled run's).")
        if len(grows) > 1 and all(a <= b for a, b in zip(grows, grows[1:])):
            parts.append("The gap grows with dk.")
    if same:
        parts.append(f"At dk {_dks(same)} the two runs ended within a "
                     f"factor {CLEAR:g} of each other: no clear difference.")
    if reverse:
        parts.append(f"At dk {_dks(reverse)} the run without the scale did "
                     f"better: measured, and reported as it is.")
    peaks = (f"Before any training, at dk {widest}, each query gave its largest key "
             f"{peak_u:.2f} of its weight without the scale and {peak_s:.2f} with it")
    parts.append(peaks + (": q·k grows like √dk, so the unscaled softmax starts nearer "
                          "one-hot, where its gradient is smaller (tutor backward --no-scale "
                          "shows that gradient)." if peak_u > peak_s else "."))
    if not differ:
        parts.append("The difference shows with wider heads and larger initial weights: "
                     "with d_model 64 and 300 steps this engine measured a clear gap at dk 64 "
                     "(tutor scaling --train --dk 64), and with the initial query and key "
                     "weights ×3 (--gain 3 --steps 1000) the unscaled runs never reached a "
                     "loss of 0.5 while the scaled ones did.")
    builder.step("What was measured", "per dk: final loss, accuracy, steps to a loss of "
                 f"{target_loss:g}, with and without ÷√dk", r"\text{measured}",
                 Part("", [counts, figures], worked, " ".join(parts)), key="measured")
    settings = {"d_model": d_model, "d_ks": list(d_ks), "steps": steps, "seed": seed,
                "qk_init_gain": qk_init_gain, "task": "reverse", "target_loss": target_loss,
                "rows": list(labels), "checkpoint_steps": list(marks),
                "loss_ratio_unscaled_over_scaled": {str(d): ratios.get(d) for d in d_ks},
                "seconds": round(float(seconds), 1)}
    title = "Training with and without the 1/√dk scale"
    subtitle = (f"reverse, d_model = {d_model}, dk = {', '.join(str(d) for d in d_ks)}, "
                f"{steps} steps, seed {seed}" + (f", gain {qk_init_gain:g}"
                                                 if qk_init_gain != 1 else ""))
    return builder.document("scaling", title, [], settings, subtitle=subtitle)
