"""The scaling experiment behind ``tutor scaling --train``: the same model trained on the same
task with and without attention's 1/sqrt(d_k), at several d_k, side by side.

d_k changes while everything else stays: d_model is fixed and the number of heads is
d_model / d_k, so every run has the same parameters, the same initial weights (same seed) and
the same batches; only the attention's scale differs between a pair. Without the scale, the
model computes softmax(q k^T) (see tutor.training.loop.effective_params: an exact change of
variables, so the engine's one attention formula serves both). ``qk_init_gain`` multiplies the
initial query and key weights, which makes the dot products larger still.

Measured (``python benchmarks/bench_scaling_train.py ...``, task reverse, 1+1 layers, Adam with
warm-up; "steps" is the first step whose 20-step mean loss is <= 0.5, one per seed):

- d_model 64, 1000 steps, seeds 0-2: scaled needs 137-161 steps at every d_k; unscaled needs
  145-158 at d_k 4, 228-243 at d_k 16 and 439-549 at d_k 64 (x1.1, x1.7, x3.4 slower). Before
  training, attention is far more peaked without the scale (mean largest weight 0.59, 0.73,
  0.83 against 0.48). After 1000 steps the unscaled runs have caught up at d_k 4 and 16
  (final loss 0.026 and 0.009 against 0.029) but not at d_k 64 (held-out accuracy 84% against
  96.5%).
- d_model 128, 600 steps, seeds 0-1: at d_k 8 unscaled is a little slower (155-174 steps
  against 132-134) and ends level; at d_k 128 it never gets there (final loss 1.26, accuracy
  12.8%, against 148-161 steps, loss 0.029, accuracy 94.2% scaled).
- initial q/k weights x3 (``--gain 3``), d_model 64, 1000 steps, seeds 0-1: scaled still
  learns (332-499 steps, accuracy 88-91%); unscaled never reaches loss 0.5 (final 0.61 at d_k
  16, 1.52 at d_k 64; accuracy 37% and 12%).

So at these small sizes the scale buys speed early in training, more the wider the head; it
becomes the difference between learning and not learning once d_k or the initial weights are
large. No run diverged (NaN): Adam's per-parameter step size keeps the unscaled updates
bounded, so the failure is saturation (a near one-hot softmax passes back little gradient),
not overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import TutorError
from .loop import Progress, TrainConfig, Trainer, TrainingDiverged
from .threads import blas_threads

MAX_RUNS = 16


@dataclass
class ScalingRun:
    """One training run of the experiment."""

    d_k: int
    nhead: int
    scaled: bool                 # True: softmax(q k^T / sqrt(d_k)); False: softmax(q k^T)
    qk_init_gain: float
    losses: np.ndarray           # [steps] training loss of every step (shorter if it diverged)
    accuracy: float              # held-out exact-sequence accuracy at the end (0 if diverged)
    diverged: bool
    initial_max_weight: float    # mean over queries of the largest attention weight at step 0
    seconds: float

    def final_loss(self, last: int = 20) -> float:
        """The mean loss of the last ``last`` steps (inf if the run diverged)."""
        return math.inf if self.diverged or not self.losses.size else float(self.losses[-last:].mean())

    def steps_to(self, loss: float) -> int | None:
        """The first step whose 20-step running mean loss is at or below ``loss`` (or None)."""
        if self.losses.size < 20:
            return None
        running = np.convolve(self.losses, np.ones(20) / 20, mode="valid")  # [steps - 19]
        hits = np.flatnonzero(running <= loss)
        return int(hits[0]) + 20 if hits.size else None


def _initial_max_weight(trainer: Trainer) -> float:
    """How peaked attention is before training: the mean, over every query of every head of
    every attention (encoder, decoder, cross), of its largest weight (1/n_keys = uniform,
    1 = one-hot, i.e. a saturated softmax)."""
    from ..trace import AttentionWeights
    from . import tasks

    src, tgt = tasks.training_batch(trainer.config.task, np.random.default_rng(12345), 32)
    kept = AttentionWeights()                                          # the attention weights only
    trainer.model().logits(src, tgt[:, :-1], src_key_padding_mask=src == tasks.PAD_ID,
                           trace=kept)
    peaks = [float(weights.max(axis=-1).mean()) for weights in kept.store.values()]
    return float(np.mean(peaks))


def scaling_experiment(d_ks: Sequence[int] = (4, 16, 64), *, d_model: int = 64,
                       task: str = "reverse", steps: int = 400, seed: int = 0,
                       qk_init_gain: float = 1.0, lr: float = 2e-3, warmup: int = 100,
                       num_layers: int = 1, dim_feedforward: int = 128, batch_size: int = 64,
                       eval_size: int = 200,
                       callback: Callable[[int, Progress], None] | None = None) -> list[ScalingRun]:
    """Train with and without 1/sqrt(d_k) for each d_k in ``d_ks``; returns the runs in the
    order (d_k, scaled), (d_k, unscaled), ...

    Every run: a Seq2Seq of ``num_layers`` encoder and decoder layers, d_model ``d_model``,
    d_model / d_k heads, trained ``steps`` steps on ``task`` from the same ``seed``.
    ``callback(run_index, progress)`` is called after every step. A run whose loss becomes NaN
    or infinite stops there and is marked ``diverged``.

    Raises TutorError when a d_k does not divide d_model or there are too many runs.
    """
    d_ks = [int(d) for d in d_ks]
    if not d_ks or 2 * len(d_ks) > MAX_RUNS:
        raise TutorError(f"expected 1 to {MAX_RUNS // 2} values of d_k, got {len(d_ks)}")
    for d_k in d_ks:
        if d_k < 1 or d_model % d_k:
            raise TutorError(f"d_k must divide d_model={d_model}, got {d_k}")
    runs = []
    with blas_threads(1):
        for d_k in d_ks:
            for scaled in (True, False):
                config = TrainConfig(task=task, steps=steps, seed=seed, batch_size=batch_size,
                                     d_model=d_model, nhead=d_model // d_k, num_layers=num_layers,
                                     dim_feedforward=dim_feedforward, lr=lr, warmup=warmup,
                                     eval_every=steps, eval_size=eval_size,
                                     checkpoint_every=steps, unscaled_attention=not scaled,
                                     qk_init_gain=qk_init_gain)
                runs.append(_one_run(config, d_k, scaled, len(runs), callback))
    return runs


def _one_run(config: TrainConfig, d_k: int, scaled: bool, index: int, callback) -> ScalingRun:
    import time

    start = time.perf_counter()
    trainer = Trainer(config)
    peak = _initial_max_weight(trainer)
    report = None if callback is None else (lambda progress: callback(index, progress))
    try:
        result = trainer.run(callback=report)
        losses, acc, diverged = result.losses, result.accuracy, False
    except TrainingDiverged:
        losses, acc, diverged = trainer.history["loss"], 0.0, True
    return ScalingRun(d_k=d_k, nhead=config.nhead, scaled=scaled,
                      qk_init_gain=config.qk_init_gain, losses=np.asarray(losses),
                      accuracy=float(acc), diverged=diverged, initial_max_weight=peak,
                      seconds=time.perf_counter() - start)


def compare(runs: Sequence[ScalingRun], *, target_loss: float = 0.5,
            last: int = 20) -> list[dict]:
    """One row per (d_k, qk_init_gain): the scaled and the unscaled run side by side.

    Each row: ``d_k``, ``nhead``, ``qk_init_gain``, and for ``scaled`` and ``unscaled``:
    ``final_loss`` (mean of the last ``last`` steps; inf if diverged), ``accuracy``,
    ``steps_to_target`` (first step whose 20-step mean loss <= ``target_loss``, or None),
    ``initial_max_weight``, ``diverged``; then ``loss_ratio`` = unscaled / scaled final loss.
    """
    pairs: dict[tuple[int, float], dict[bool, ScalingRun]] = {}
    for run in runs:
        pairs.setdefault((run.d_k, run.qk_init_gain), {})[run.scaled] = run
    rows = []
    for (d_k, gain), pair in pairs.items():
        if set(pair) != {True, False}:
            continue
        row = {"d_k": d_k, "nhead": pair[True].nhead, "qk_init_gain": gain}
        for key, run in (("scaled", pair[True]), ("unscaled", pair[False])):
            row[key] = {"final_loss": run.final_loss(last), "accuracy": run.accuracy,
                        "steps_to_target": run.steps_to(target_loss),
                        "initial_max_weight": run.initial_max_weight,
                        "diverged": run.diverged}
        scaled_loss = row["scaled"]["final_loss"]
        row["loss_ratio"] = (row["unscaled"]["final_loss"] / scaled_loss
                             if 0 < scaled_loss < math.inf else math.nan)
        rows.append(row)
    return rows
