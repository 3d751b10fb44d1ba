"""The training loop: teacher forcing, Adam with warm-up, exact-sequence accuracy on held-out
sequences, atomic checkpoints, bit-identical resume. It prints nothing: progress goes to a
callback, and the caller decides what to show.

Determinism: everything random in a run comes from one ``numpy.random.Generator`` seeded
with ``config.seed`` (the initial weights, then the training batches, in that order); the
held-out set has a generator of its own (:func:`~tutor.training.tasks.held_out_set`). A
checkpoint stores the parameters, the optimizer's state, the generator's state and the step, so
a resumed run performs exactly the operations the uninterrupted run would have, on the same
numbers: the weights are equal bit for bit.

Kept weights: a run keeps the weights of its best held-out evaluation (the latest of equal
ones), not necessarily the last step's: Adam at a constant-ish rate has loss spikes, and a
run of the defaults could pass 99% and end lower. The accuracy reported is the kept weights'
(measured on the held-out set that chose them); the last step's weights stay in the checkpoint
to resume from (``Checkpoint.last_params``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import numpy as np

from ..errors import TutorError
from ..nn.model import Seq2Seq
from ..nn.optim import NoamSchedule
from ..nn.params import TransformerConfig
from . import tasks
from .checkpoint import Checkpoint, CheckpointWriteError, rng_from_state, save_checkpoint
from .threads import blas_threads

MAX_STEPS = 1_000_000


def _save(path, checkpoint) -> None:
    """save_checkpoint, with an OSError (a full disk) raised as CheckpointWriteError."""
    try:
        save_checkpoint(path, checkpoint)
    except OSError as exc:
        raise CheckpointWriteError(path, exc) from None


class StopNow(Exception):
    """Raised by a front end's Ctrl-C handler while ``Trainer.abortable`` is true: the step
    (its forward and backward pass, or an evaluation) is abandoned at once, with nothing of it
    kept, and the run ends as if ``should_stop`` had said so before it. A step at the largest
    settings takes many seconds; this is how Ctrl-C is answered within one."""


class TrainingDiverged(TutorError):
    """The loss became NaN or infinite; training stopped without writing the bad weights."""


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run, in one place (saved in each checkpoint as JSON).

    The defaults reach >= 99% held-out exact-sequence accuracy on ``reverse`` (see
    ``benchmarks/bench_train.py``). ``lr`` is the peak learning rate: it rises linearly for
    ``warmup`` steps, then falls as 1/sqrt(step), the schedule of Vaswani et al. (2017),
    section 5.3, with the peak given directly instead of through d_model^-0.5.
    ``unscaled_attention`` trains attention without its 1/sqrt(d_k) (see
    :func:`effective_params`); ``qk_init_gain`` multiplies the initial query and key weights.
    """

    task: str = "reverse"
    steps: int = 1500
    seed: int = 0
    batch_size: int = 64
    d_model: int = 32
    nhead: int = 2
    num_layers: int = 2
    dim_feedforward: int = 64
    norm_first: bool = False
    activation: str = "relu"
    dtype: str = "float32"
    lr: float = 2e-3
    warmup: int = 200
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-9
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    eval_every: int = 100
    eval_size: int = 500
    eval_seed: int = 0
    checkpoint_every: int = 500
    unscaled_attention: bool = False
    qk_init_gain: float = 1.0

    def __post_init__(self):
        tasks.check_task(self.task)
        for name, (kind, low, high) in SETTING_RANGES.items():
            _check_setting(name, getattr(self, name), kind, low, high)
        if self.dtype not in ("float32", "float64"):
            raise TutorError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not isinstance(self.activation, str):
            raise TutorError(f"activation must be a name, got {self.activation!r}")
        if self.nhead > self.d_model:
            raise TutorError(f"nhead must be at most d_model={self.d_model}, got {self.nhead}")
        self.model_config()                                            # checks d_model, nhead, ...

    def model_config(self) -> TransformerConfig:
        return TransformerConfig(self.d_model, self.nhead, self.num_layers, self.num_layers,
                                 self.dim_feedforward, self.norm_first, self.activation)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "checkpoint") -> "TrainConfig":
        """The settings saved in a checkpoint, each checked (type and range, as
        :data:`SETTING_RANGES`). Raises TutorError naming ``source`` and the setting."""
        if not isinstance(values, dict):
            raise TutorError(f"{source}: the training settings are not a table")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TutorError(f"{source}: unknown training setting {unknown[0]!r}")
        try:
            return cls(**values)
        except TutorError as exc:
            raise TutorError(f"{source}: training setting {exc}") from None
        except (TypeError, ValueError) as exc:
            raise TutorError(f"{source}: invalid training settings ({exc})") from None


#: Every numeric or true/false setting of :class:`TrainConfig`: (type, smallest, largest),
#: checked whenever a config is made (a checkpoint's too): the command line's own limits
#: (``tutor train --help``) and those of ``tutor scaling --train`` (nhead up to d_model).
SETTING_RANGES: dict[str, tuple[type, float | None, float | None]] = {
    "steps": (int, 1, MAX_STEPS), "seed": (int, 0, 2**32 - 1), "batch_size": (int, 1, 1024),
    "d_model": (int, 2, 256), "nhead": (int, 1, 256), "num_layers": (int, 1, 6),
    "dim_feedforward": (int, 1, 1024), "norm_first": (bool, None, None),
    "lr": (float, 0, 1), "warmup": (int, 0, 100_000), "beta1": (float, 0, 1),
    "beta2": (float, 0, 1), "eps": (float, 0, 1), "weight_decay": (float, 0, 1),
    "label_smoothing": (float, 0, 1), "eval_every": (int, 1, MAX_STEPS),
    "eval_size": (int, 1, 10_000), "eval_seed": (int, 0, 2**32 - 1),
    "checkpoint_every": (int, 1, MAX_STEPS), "unscaled_attention": (bool, None, None),
    "qk_init_gain": (float, 0, 100),
}
#: settings whose range excludes its ends: lr, eps and qk_init_gain > 0; betas and label
#: smoothing < 1
_OPEN_LOW = frozenset({"lr", "eps", "qk_init_gain"})
_OPEN_HIGH = frozenset({"beta1", "beta2", "label_smoothing"})


def _check_setting(name: str, value, kind: type, low, high) -> None:
    """One setting's type and range; TutorError naming it ("batch_size must be ...")."""
    if kind is bool:
        if not isinstance(value, (bool, np.bool_)):
            raise TutorError(f"{name} must be true or false, got {value!r}")
        return
    whole = kind is int
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, np.integer) if whole else (int, float, np.integer, np.floating)):
        raise TutorError(f"{name} must be {'a whole number' if whole else 'a number'}, got "
                         f"{value!r}")
    below = value <= low if name in _OPEN_LOW else value < low
    above = value >= high if name in _OPEN_HIGH else value > high
    if not math.isfinite(value) or below or above:
        left = "(" if name in _OPEN_LOW else "["
        right = ")" if name in _OPEN_HIGH else "]"
        raise TutorError(f"{name} must be in {left}{low:,}, {high:,}{right}, got {value!r}")


def learning_rate(config: TrainConfig, step: int) -> float:
    """The learning rate of ``step`` (1-based): lr * min(step / warmup, sqrt(warmup / step)),
    the paper's schedule (Vaswani et al. 2017, eq. 3, :class:`tutor.nn.optim.NoamSchedule`)
    with its peak lr at step = warmup; the paper's own rates are lr = (d_model * warmup)^-0.5.
    With warmup = 0 the rate is lr at every step.
    """
    if config.warmup == 0:
        return config.lr
    return NoamSchedule.with_peak(config.lr, config.warmup, config.d_model)(step)


# -- attention without 1/sqrt(d_k), by an exact change of variables -------------------------

def _query_rows(params: dict[str, np.ndarray], config: TransformerConfig):
    """(name, slice of the query rows) of every attention's packed in-projection."""
    rows = slice(0, config.d_model)
    return [(name, rows) for name in params if name.endswith(("in_proj_weight", "in_proj_bias"))]


def effective_params(params: dict[str, np.ndarray], config: TrainConfig,
                     out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The parameters the (scaled) engine runs with; written into ``out`` when given.

    With ``unscaled_attention``, the trained parameters are those of a model whose attention
    computes softmax(q k^T) without the 1/sqrt(d_k). That model equals the engine's scaled one
    with the query projection (weights and bias) multiplied by sqrt(d_k) (d_k = d_model / nhead,
    per head): (sqrt(d_k) q) k^T / sqrt(d_k) = q k^T. So the engine runs on these effective
    parameters, and the chain rule gives the trained parameters' gradients:
    dL/dW_q = sqrt(d_k) dL/dW_q' (:func:`trained_grads`). Exact, up to rounding.
    """
    if not config.unscaled_attention:
        return params
    gain = math.sqrt(config.d_model // config.nhead)
    query_rows = _query_rows(params, config.model_config())
    if out is None:                          # the other arrays are shared, not copied
        out = dict(params)
        out.update({name: params[name].copy() for name, _ in query_rows})
    for name, rows in query_rows:
        np.copyto(out[name], params[name])
        out[name][rows] *= out[name].dtype.type(gain)
    return out


def trained_grads(grads: dict[str, np.ndarray], config: TrainConfig) -> dict[str, np.ndarray]:
    """Gradients with respect to the trained parameters (see :func:`effective_params`);
    updates ``grads`` in place."""
    if not config.unscaled_attention:
        return grads
    gain = math.sqrt(config.d_model // config.nhead)
    for name, rows in _query_rows(grads, config.model_config()):
        grads[name][rows] *= grads[name].dtype.type(gain)
    return grads


def param_shapes(config: TrainConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter of the task model ``config`` describes."""
    from ..nn.params import transformer_shapes

    shapes = Seq2Seq.head_shapes(tasks.vocab_size(config.task), config.d_model)
    shapes.update({f"transformer.{k}": v
                   for k, v in transformer_shapes(config.model_config()).items()})
    return shapes


def initial_params(config: TrainConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """PyTorch-style initialisation (see ``tutor.nn.params.init_params``) drawn from ``rng``;
    ``qk_init_gain`` then multiplies the query and key rows of every in-projection."""
    from ..nn.params import init_params

    params = init_params(param_shapes(config), rng, dtype=np.dtype(config.dtype))
    if config.qk_init_gain != 1.0:
        gain = np.dtype(config.dtype).type(config.qk_init_gain)
        for name in params:
            if name.endswith("in_proj_weight"):
                params[name][:2 * config.d_model] *= gain
    return params


def build_model(params: dict[str, np.ndarray], config: TrainConfig) -> Seq2Seq:
    """The Seq2Seq model the engine runs for these trained parameters."""
    return Seq2Seq(effective_params(params, config), config.model_config())


# -- evaluation ---------------------------------------------------------------------------

def predict(model: Seq2Seq, src_ids: np.ndarray, task: str = "reverse") -> np.ndarray:
    """Greedy decoding of padded source ids [batch, n]: [batch, <= n + 3] ids starting with
    ``<bos>`` ([batch, <= 12] for dates: tasks.answer_tokens); a finished row repeats
    ``<eos>``."""
    padding = src_ids == tasks.PAD_ID                                  # [B, n], True = padding
    return model.generate(src_ids, max_new_tokens=tasks.answer_tokens(task, src_ids.shape[1]),
                          bos_id=tasks.BOS_ID,
                          eos_id=tasks.EOS_ID, src_key_padding_mask=padding)


def _until_eos(row: np.ndarray) -> tuple[int, ...]:
    ends = np.flatnonzero(row == tasks.EOS_ID)
    return tuple(int(i) for i in (row[:ends[0] + 1] if ends.size else row))


def exact_match(predicted: np.ndarray, tgt_ids: np.ndarray) -> np.ndarray:
    """Whether each predicted sequence equals its target up to and including ``<eos>``:
    [batch, m], [batch, n] -> [batch] bool (a prediction without ``<eos>`` is wrong)."""
    return np.array([_until_eos(p[1:]) == _until_eos(t[1:]) and tasks.EOS_ID in p[1:]
                     for p, t in zip(predicted, tgt_ids)], dtype=bool)


def accuracy(model: Seq2Seq, src_ids: np.ndarray, tgt_ids: np.ndarray,
             task: str = "reverse") -> float:
    """Exact-sequence accuracy with greedy decoding: the fraction of sequences whose every
    output token (and the ``<eos>`` after them) is right."""
    return float(exact_match(predict(model, src_ids, task), tgt_ids).mean())


# -- the loop -----------------------------------------------------------------------------

@dataclass
class Progress:
    """What a progress callback receives after every step."""

    step: int                   # steps done so far (1-based, counting earlier runs when resumed)
    total_steps: int
    loss: float                 # this step's training loss (mean over non-padding labels)
    accuracy: float | None      # the latest held-out exact-sequence accuracy (None before any)
    evaluated: bool             # whether the accuracy was measured at this step
    tokens_per_second: float    # non-padding target tokens trained on per second (recent steps)
    elapsed: float              # seconds in this run (not counting earlier runs)
    seconds_left: float         # an estimate from the recent speed
    learning_rate: float


@dataclass
class TrainResult:
    checkpoint: Checkpoint      # the final state (resumable); its params are the kept weights
    accuracy: float             # held-out exact-sequence accuracy of the kept weights
    interrupted: bool           # stopped early by ``should_stop``
    elapsed: float              # seconds of this run (not counting earlier runs)
    last_accuracy: float | None = None   # the accuracy of the last step's weights
    kept_step: int | None = None         # the step whose weights were kept (the best evaluated)

    @property
    def total_seconds(self) -> float:
        """Seconds of training in every run of this checkpoint, resumed ones included."""
        return self.checkpoint.seconds

    @property
    def losses(self) -> np.ndarray:
        return self.checkpoint.history["loss"]


# settings that do not change what a step computes, so a resumed run may set them anew
_MAY_CHANGE_ON_RESUME = frozenset({"steps", "eval_every", "eval_size", "eval_seed",
                                   "checkpoint_every"})


class Trainer:
    """One training run, new or resumed. Use :func:`train` unless you need the pieces."""

    def __init__(self, config: TrainConfig, *, resume: Checkpoint | None = None,
                 command: list[str] | None = None):
        self.config = config
        self.command = list(command or [])
        if resume is None:
            self.rng = np.random.default_rng(config.seed)
            self.params = initial_params(config, self.rng)
            self.optimizer = _new_optimizer(self.params, config)
            self.step = 0
            self.history = {"loss": np.zeros(0), "eval_step": np.zeros(0, dtype=np.int64),
                            "eval_accuracy": np.zeros(0)}
            self.best = None
            self.seconds = 0.0
        else:
            if not resume.resumable:
                raise TutorError("the checkpoint holds weights only (no optimizer or random "
                                 "state), so training cannot resume from it")
            saved = TrainConfig.from_dict(resume.config).to_dict()
            for name, value in config.to_dict().items():
                if name not in _MAY_CHANGE_ON_RESUME and saved[name] != value:
                    raise TutorError(f"the checkpoint was trained with {name}={saved[name]!r}; "
                                     f"a resumed run keeps it, got {name}={value!r}")
            self.rng = rng_from_state(resume.rng_state)
            current = resume.params if resume.last_params is None else resume.last_params
            self.params = {k: v.copy() for k, v in current.items()}
            self.best = (None if resume.best_step is None else
                         _Best(resume.best_step, resume.best_accuracy,
                               {k: v.copy() for k, v in resume.params.items()}))
            self.seconds = resume.seconds
            self.optimizer = _new_optimizer(self.params, config)
            self.optimizer.load_state_dict(resume.optimizer)
            self.step = resume.step
            self.history = {k: np.asarray(v).copy() for k, v in resume.history.items()}
            if resume.step > config.steps:
                raise TutorError(f"the checkpoint is at step {resume.step}, past --steps "
                                 f"{config.steps}")
        self.abortable = False      # True while a StopNow may abandon the work (see StopNow)
        # the engine's model: over the trained arrays themselves (updated in place by the
        # optimizer), or over their effective copies for unscaled attention
        self._model = build_model(self.params, config)
        self.eval_src, self.eval_tgt = tasks.held_out_set(config.task, config.eval_size,
                                                          seed=config.eval_seed)

    def checkpoint(self) -> Checkpoint:
        """The state now: ``params`` are the kept weights (the best evaluated so far, the
        latest of equals), ``last_params`` the step's own when they differ (to resume)."""
        current = {k: v.copy() for k, v in self.params.items()}
        best = self.best
        kept, last = current, None
        if best is not None and best.step != self.step:
            kept, last = {k: v.copy() for k, v in best.params.items()}, current
        return Checkpoint(params=kept, last_params=last,
                          config=self.config.to_dict(), step=self.step, command=self.command,
                          history={k: v.copy() for k, v in self.history.items()},
                          optimizer=self.optimizer.state_dict(),
                          rng_state=self.rng.bit_generator.state,
                          best_step=None if best is None else best.step,
                          best_accuracy=None if best is None else best.accuracy,
                          seconds=self.seconds)

    def _evaluated(self, accuracy: float) -> None:
        """Keep these weights if they are the best evaluated so far (or as good: later)."""
        if self.best is None or accuracy >= self.best.accuracy:
            self.best = _Best(self.step, accuracy, {k: v.copy() for k, v in self.params.items()})

    def model(self) -> Seq2Seq:
        """The model with the current weights (shares their arrays: do not modify them)."""
        if self.config.unscaled_attention:
            effective_params(self.params, self.config, out=self._model.params)
        return self._model

    def evaluate(self) -> float:
        return accuracy(self.model(), self.eval_src, self.eval_tgt, self.config.task)

    def _abortable(self, work):
        """``work()`` with ``abortable`` set: a StopNow raised meanwhile propagates."""
        self.abortable = True
        try:
            return work()
        finally:
            self.abortable = False

    def train_step(self) -> tuple[float, int]:
        """One step: a batch, the loss and gradients, the update. Returns (loss, labels).
        Raises TrainingDiverged, before updating, if the loss or a gradient is not finite."""
        config = self.config
        src_ids, tgt_ids = tasks.training_batch(config.task, self.rng, config.batch_size)
        model = self.model()
        loss, grads = self._abortable(lambda: model.loss_and_grads(
            src_ids, tgt_ids, pad_id=tasks.PAD_ID, label_smoothing=config.label_smoothing))
        loss = float(loss)
        if not math.isfinite(loss):
            raise TrainingDiverged(f"the loss became {loss} at step {self.step + 1}")
        for name, grad in grads.items():
            if not np.isfinite(grad).all():                            # the weights would follow
                raise TrainingDiverged(f"the gradient of {name} became NaN or infinite at "
                                       f"step {self.step + 1}")
        grads = trained_grads(grads, config)
        self.optimizer.step(grads)                                     # in place, lr of step + 1
        self.step += 1
        return loss, int((tgt_ids[:, 1:] != tasks.PAD_ID).sum())

    def run(self, *, checkpoint_path=None, callback: Callable[[Progress], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> TrainResult:
        """Train up to ``config.steps`` with one BLAS thread (see tutor.training.threads);
        see :func:`train`."""
        with blas_threads(1):
            return self._run(checkpoint_path, callback, should_stop)

    def _run(self, checkpoint_path, callback, should_stop) -> TrainResult:
        config = self.config
        start = time.perf_counter()
        recent: list[tuple[float, int]] = []                           # (seconds, labels) per step
        latest = (float(self.history["eval_accuracy"][-1])
                  if self.history["eval_accuracy"].size else None)
        losses = list(self.history["loss"])
        eval_steps, eval_accs = list(self.history["eval_step"]), list(self.history["eval_accuracy"])
        saved_step = self.step if checkpoint_path else None
        run_seconds = self.seconds                                     # of the earlier runs
        interrupted = False
        if (0 < self.step and self.step % config.eval_every == 0
                and (not eval_steps or eval_steps[-1] != self.step)):
            try:                         # the evaluation a StopNow abandoned: as it would be
                latest = self._abortable(self.evaluate)
                eval_steps.append(self.step)
                eval_accs.append(latest)
                self._evaluated(latest)
            except StopNow:
                interrupted = True
        while self.step < config.steps and not interrupted:
            if should_stop is not None and should_stop():
                interrupted = True
                break
            tick = time.perf_counter()
            rng_state = self.rng.bit_generator.state
            try:
                loss, labels = self.train_step()
            except StopNow:              # nothing of the step was applied; its batch is undrawn
                self.rng.bit_generator.state = rng_state
                interrupted = True
                break
            except TrainingDiverged as exc:
                self._sync_history(losses, eval_steps, eval_accs)
                where = (f"; the last good checkpoint, {checkpoint_path}, is at step {saved_step}"
                         if saved_step is not None and saved_step > 0
                         else "; no checkpoint was written")
                raise TrainingDiverged(f"{exc}{where}. Lower --lr or raise --warmup") from None
            losses.append(loss)
            evaluated = self.step % config.eval_every == 0 or self.step == config.steps
            if evaluated:
                try:
                    latest = self._abortable(self.evaluate)
                except StopNow:          # the step stays; its evaluation comes on resuming
                    interrupted, evaluated = True, False
                else:
                    eval_steps.append(self.step)
                    eval_accs.append(latest)
                    self._evaluated(latest)
            self.seconds = run_seconds + time.perf_counter() - start
            recent.append((time.perf_counter() - tick, labels))
            del recent[:-50]
            seconds = sum(s for s, _ in recent)
            if checkpoint_path and self.step % config.checkpoint_every == 0:
                self._sync_history(losses, eval_steps, eval_accs)
                _save(checkpoint_path, self.checkpoint())
                saved_step = self.step
            if callback is not None:
                per_step = seconds / len(recent)
                callback(Progress(
                    step=self.step, total_steps=config.steps, loss=loss, accuracy=latest,
                    evaluated=evaluated,
                    tokens_per_second=sum(n for _, n in recent) / seconds if seconds else 0.0,
                    elapsed=time.perf_counter() - start,
                    seconds_left=per_step * (config.steps - self.step),
                    learning_rate=learning_rate(config, self.step)))
        self._sync_history(losses, eval_steps, eval_accs)
        if not interrupted and (latest is None or (eval_steps and eval_steps[-1] != self.step)):
            latest = self.evaluate()
        if latest is None:                            # stopped before its first evaluation
            latest = math.nan
        elapsed = time.perf_counter() - start                          # this run's
        self.seconds = run_seconds + elapsed
        final = self.checkpoint()
        if checkpoint_path:
            _save(checkpoint_path, final)
        best = self.best
        kept = best.accuracy if best is not None else latest
        return TrainResult(checkpoint=final, accuracy=kept, interrupted=interrupted,
                           elapsed=elapsed, last_accuracy=latest,
                           kept_step=best.step if best is not None else self.step)

    def _sync_history(self, losses, eval_steps, eval_accs):
        self.history = {"loss": np.array(losses, dtype=np.float64),
                        "eval_step": np.array(eval_steps, dtype=np.int64),
                        "eval_accuracy": np.array(eval_accs, dtype=np.float64)}


@dataclass
class _Best:
    """The best evaluated weights so far: their step, held-out accuracy and a copy."""

    step: int
    accuracy: float
    params: dict[str, np.ndarray]


class _Schedule:
    """``config``'s learning rate as a function of the step, for the optimizer."""

    def __init__(self, config: TrainConfig):
        self.config = config

    def __call__(self, step: int) -> float:
        return learning_rate(self.config, step)


def _new_optimizer(params, config: TrainConfig):
    """Adam (AdamW when ``weight_decay`` > 0) over ``params``, updating them in place."""
    from ..nn.optim import Adam, AdamW

    kind = AdamW if config.weight_decay > 0 else Adam
    return kind(params, lr=_Schedule(config), betas=(config.beta1, config.beta2), eps=config.eps,
                weight_decay=config.weight_decay)


def train(config: TrainConfig, *, resume: Checkpoint | None = None, checkpoint_path=None,
          command: list[str] | None = None, callback: Callable[[Progress], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train a Seq2Seq model on ``config.task`` until step ``config.steps``.

    A new run draws its initial weights and then its batches from
    ``numpy.random.default_rng(config.seed)``; ``resume`` (a resumable
    :class:`~tutor.training.checkpoint.Checkpoint`) continues one bit for bit. Every
    ``config.checkpoint_every`` steps, and at the end, the state is written to
    ``checkpoint_path`` atomically. ``callback(progress)`` is called after every step (see
    :class:`Progress`); ``should_stop()`` is asked before every step, and a true answer ends
    the run early (``result.interrupted``) with its checkpoint written.

    Raises TrainingDiverged when the loss becomes NaN or infinite (nothing is written then:
    the file at ``checkpoint_path`` keeps the last good state), TutorError for bad settings or
    a checkpoint that cannot resume.
    """
    return Trainer(config, resume=resume, command=command).run(
        checkpoint_path=checkpoint_path, callback=callback, should_stop=should_stop)
