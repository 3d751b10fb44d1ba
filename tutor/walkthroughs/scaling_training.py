"""The scaling experiment as a learner sees it (``tutor scaling --train``): the same model
trained on the same task with and without attention's 1/√dk at several dk
(:func:`tutor.training.scaling_training.scaling_experiment`), its loss curves and what was
measured, recorded under declared names. (The untrained statistics of ``tutor scaling`` are
:func:`tutor.walkthroughs.softmax.scaling`.)"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from . import Recording, new_trace

CURVE_POINTS = 60          # columns of a drawn loss curve (each the mean of a bucket of steps)
CHECKPOINTS = 6            # steps at which the loss table shows the curves
TARGET_LOSS = 0.5          # "steps to reach": the first step whose 20-step mean loss is below
RUNNING = 20               # steps in the running mean of the table and of "steps to reach"


def _bucket_means(losses: np.ndarray, points: int, steps: int) -> np.ndarray:
    """The curve as ``points`` means of equal buckets of the ``steps`` planned steps; the
    buckets after a run stopped (diverged) hold NaN."""
    curve = np.full(points, np.nan)                                    # [points]
    edges = np.linspace(0, steps, points + 1).round().astype(int)      # [points + 1]
    for i in range(points):
        chunk = losses[edges[i]:edges[i + 1]]
        if chunk.size and np.all(np.isfinite(chunk)):
            curve[i] = chunk.mean()
    return curve


def _running_at(losses: np.ndarray, marks: list[int]) -> np.ndarray:
    """The mean loss of the ``RUNNING`` steps ending at each of ``marks`` (NaN past the end)."""
    out = np.full(len(marks), np.nan)                                  # [checkpoints]
    for i, mark in enumerate(marks):
        if mark <= losses.size:
            window = losses[max(0, mark - RUNNING):mark]
            if np.all(np.isfinite(window)):
                out[i] = window.mean()
    return out


def scaling_training(d_ks: Sequence[int], *, d_model: int = 64, steps: int = 300, seed: int = 0,
                     qk_init_gain: float = 1.0,
                     callback: Callable[[int, object], None] | None = None) -> Recording:
    """Train a Seq2Seq on ``reverse`` with and without 1/√dk for each dk in ``d_ks``
    (d_model / dk heads, so every run has the same parameters; same seed, same batches) and
    record what was measured.

    Records, per run under ``dk{d}.scaled.`` and ``dk{d}.unscaled.``: ``loss`` [steps] (every
    step's training loss; shorter if the run diverged), ``final_loss`` (mean of the last 20
    steps; inf if diverged), ``accuracy`` (held-out exact-sequence accuracy),
    ``initial_max_weight`` (mean largest attention weight before training),
    ``steps_to_target`` (first step whose 20-step mean loss is at most 0.5; NaN if never).
    Then ``curves`` [2·n_dk, 60] (bucket means of each curve), ``checkpoints`` [2·n_dk, 6]
    (20-step mean loss at six steps) and ``table`` [2·n_dk, 5] (heads, peak₀, steps→0.5,
    final loss, accuracy), one row per run in the order (dk, scaled), (dk, unscaled), ...
    ``info`` holds the row labels, the steps of the checkpoints and the settings.
    ``callback(run_index, progress)`` is called after every training step. Raises TutorError
    (from the library) when a dk does not divide d_model.
    """
    from tutor.training.scaling_training import compare, scaling_experiment

    runs = scaling_experiment(d_ks, d_model=d_model, steps=steps, seed=seed,
                              qk_init_gain=qk_init_gain, dim_feedforward=2 * d_model,
                              callback=callback)
    trace = new_trace()
    marks = sorted({max(1, round(steps * (i + 1) / CHECKPOINTS)) for i in range(CHECKPOINTS)})
    labels, curves, checkpoints, table = [], [], [], []
    for run in runs:
        kind = "scaled" if run.scaled else "unscaled"
        scope = trace.scope(f"dk{run.d_k}.{kind}")
        losses = np.asarray(run.losses, dtype=np.float64)              # [steps run]
        reached = run.steps_to(TARGET_LOSS)
        scope.record("loss", losses)
        scope.record("final_loss", np.asarray(run.final_loss(RUNNING)))
        scope.record("accuracy", np.asarray(run.accuracy))
        scope.record("initial_max_weight", np.asarray(run.initial_max_weight))
        scope.record("steps_to_target", np.asarray(np.nan if reached is None else reached))
        labels.append(f"dk {run.d_k} " + ("÷√dk" if run.scaled else "no ÷"))
        curves.append(_bucket_means(losses, min(CURVE_POINTS, steps), steps))
        checkpoints.append(_running_at(losses, marks))
        table.append([run.nhead, run.initial_max_weight, np.nan if reached is None else reached,
                      run.final_loss(RUNNING), run.accuracy])
    trace.record("curves", np.array(curves))                          # [runs, points]
    trace.record("checkpoints", np.array(checkpoints))                # [runs, marks]
    trace.record("table", np.array(table, dtype=np.float64))          # [runs, 5]
    rows = compare(runs, target_loss=TARGET_LOSS, last=RUNNING)
    info = {"labels": labels, "marks": marks, "d_ks": [int(d) for d in d_ks],
            "d_model": d_model, "steps": steps, "seed": seed, "qk_init_gain": qk_init_gain,
            "target_loss": TARGET_LOSS, "running": RUNNING,
            "diverged": {f"dk{r.d_k}.{'scaled' if r.scaled else 'unscaled'}": r.diverged
                         for r in runs},
            "seconds": float(sum(r.seconds for r in runs)),
            "ratios": {row["d_k"]: (None if math.isnan(row["loss_ratio"]) else row["loss_ratio"])
                       for row in rows}}
    return Recording(trace, runs, labels, info, walkthrough="scaling_training.scaling_training")
