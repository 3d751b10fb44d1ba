"""Checkpoints: one .npz file, written atomically (a temporary file, then a rename), read
without pickle.

Layout of the archive (every entry a plain NumPy array; no object arrays, so
``np.load(..., allow_pickle=False)`` reads it):

- ``param/<name>``: the model's parameters under ``Seq2Seq.state_dict()`` names: the kept
  weights, those of the run's best held-out evaluation so far;
- ``last/<name>``: the weights of the last step, when they are not the kept ones (a resumable
  checkpoint only: training goes on from them);
- ``optim/<path>``: the optimizer's arrays (Adam's moments, ...), when the checkpoint can resume;
- ``history/<name>``: the loss of every step, the steps and accuracies of every evaluation;
- ``meta.json``: a 0-d string array holding one JSON object: ``format``, ``version``, ``step``,
  ``command`` (the exact command line, a JSON array of strings), ``config`` (every setting of the
  run), ``rng`` (the training data generator's ``bit_generator.state``), ``optimizer`` (the
  optimizer's state dict with each array replaced by ``{"array": "optim/<path>"}``),
  ``resumable``, and when known ``best`` (``{"step", "accuracy"}`` of the kept weights) and
  ``seconds`` (training time of every run so far, resumed ones included).

A weights-only file (the shipped models) has the parameters, the history and ``meta.json``
without ``rng`` and ``optimizer``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import FileReadError, TutorError
from ..files import atomic_write, parse_json
from ..limits import MAX_CHECKPOINT_BYTES, MAX_META_BYTES
from ..weightfiles import load_npz

FORMAT = "tutor-checkpoint"
VERSION = 1
MAX_COMMAND_WORDS = 200                    # words of the recorded command line


@dataclass
class Checkpoint:
    """Everything needed to continue a run, or to use the trained model."""

    params: dict[str, np.ndarray]
    config: dict[str, Any]
    step: int
    command: list[str] = field(default_factory=list)
    history: dict[str, np.ndarray] = field(default_factory=dict)
    optimizer: dict[str, Any] | None = None      # the optimizer's state_dict(), arrays inside
    rng_state: dict[str, Any] | None = None      # numpy Generator.bit_generator.state
    last_params: dict[str, np.ndarray] | None = None   # the last step's, when not ``params``
    best_step: int | None = None                 # the evaluation whose weights ``params`` are
    best_accuracy: float | None = None
    seconds: float = 0.0                         # training time so far, every run together

    @property
    def resumable(self) -> bool:
        return self.optimizer is not None and self.rng_state is not None


# -- nested state <-> (JSON skeleton, arrays) -----------------------------------------------

def _flatten(value, path: str, arrays: dict[str, np.ndarray]):
    """JSON-able skeleton of ``value``; every array (NumPy scalars too, to keep their dtype)
    goes into ``arrays`` under ``path`` and is replaced by ``{"array": path}``."""
    if isinstance(value, (np.ndarray, np.generic)):
        arrays[path] = np.asarray(value)
        return {"array": path}
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str) or "/" in key:
                raise TutorError(f"optimizer state key {key!r} under {path!r} cannot be saved "
                                 f"(expected a string without '/')")
        return {"dict": {key: _flatten(item, f"{path}/{key}", arrays) for key, item in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"list": [_flatten(item, f"{path}/{i}", arrays) for i, item in enumerate(value)],
                "tuple": isinstance(value, tuple)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    raise TutorError(f"optimizer state {path!r} has a value of type {type(value).__name__} "
                     f"that cannot be saved without pickle")


def _unflatten(skeleton, arrays: dict[str, np.ndarray], source: str):
    try:
        if "array" in skeleton:
            return arrays[skeleton["array"]]
        if "dict" in skeleton:
            return {key: _unflatten(item, arrays, source) for key, item in skeleton["dict"].items()}
        if "list" in skeleton:
            items = [_unflatten(item, arrays, source) for item in skeleton["list"]]
            return tuple(items) if skeleton.get("tuple") else items
        return skeleton["value"]
    except (KeyError, TypeError, AttributeError):
        raise TutorError(f"{source}: the optimizer state in meta.json does not match the "
                         f"file's arrays") from None


# -- writing and reading --------------------------------------------------------------------

class CheckpointWriteError(TutorError):
    """A checkpoint file could not be written (a full disk, a folder gone): ``path`` and the
    OSError's reason, so that a front end can tell it from its own output failing."""

    def __init__(self, path, exc: OSError):
        super().__init__(f"{os.fspath(path)}: cannot write it ({exc.strerror or exc})")
        self.path = os.fspath(path)


def write_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint, *,
                     weights_only: bool = False) -> None:
    """:func:`save_checkpoint`, with an OSError raised as CheckpointWriteError."""
    try:
        save_checkpoint(path, checkpoint, weights_only=weights_only)
    except OSError as exc:
        raise CheckpointWriteError(path, exc) from None


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint, *,
                    weights_only: bool = False) -> None:
    """Write ``checkpoint`` to ``path`` atomically (a temporary file beside it, then a rename),
    so an interrupted write leaves the previous file whole. ``weights_only`` leaves out the
    optimizer and RNG states (a smaller file that cannot resume)."""
    arrays: dict[str, np.ndarray] = {f"param/{k}": np.asarray(v) for k, v in checkpoint.params.items()}
    arrays.update({f"history/{k}": np.asarray(v) for k, v in checkpoint.history.items()})
    meta = {"format": FORMAT, "version": VERSION, "step": int(checkpoint.step),
            "command": [str(part) for part in checkpoint.command],
            "config": checkpoint.config, "resumable": False,
            "seconds": float(checkpoint.seconds)}
    if checkpoint.best_step is not None:
        meta["best"] = {"step": int(checkpoint.best_step),
                        "accuracy": float(checkpoint.best_accuracy)}
    if not weights_only and checkpoint.resumable:
        if checkpoint.last_params is not None:
            arrays.update({f"last/{k}": np.asarray(v) for k, v in checkpoint.last_params.items()})
        meta["optimizer"] = _flatten(checkpoint.optimizer, "optim", arrays)
        meta["rng"] = checkpoint.rng_state
        meta["resumable"] = True
    arrays["meta.json"] = np.array(json.dumps(meta))                   # 0-d <U string, no pickle
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def read_meta(arrays: dict[str, np.ndarray], source: str) -> dict[str, Any]:
    """The parsed ``meta.json`` of a checkpoint's arrays, checked for format and version."""
    raw = arrays.get("meta.json")
    if raw is None or raw.dtype.kind != "U" or raw.ndim != 0:
        raise TutorError(f"{source}: not a tutor checkpoint (no meta.json entry)")
    if raw.nbytes > 4 * MAX_META_BYTES:                                # 4 bytes a character
        raise TutorError(f"{source}: meta.json of {raw.nbytes // 4:,} characters, expected at "
                         f"most {MAX_META_BYTES:,}")
    try:
        meta = parse_json(str(raw), "meta.json")
    except FileReadError as exc:
        raise TutorError(f"{source}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise TutorError(f"{source}: not a tutor checkpoint (format {meta.get('format')!r})"
                         if isinstance(meta, dict) else f"{source}: meta.json is not an object")
    if meta.get("version") != VERSION:
        raise TutorError(f"{source}: checkpoint version {meta.get('version')!r}, expected {VERSION}")
    for key, kind in (("step", int), ("config", dict), ("command", list)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise TutorError(f"{source}: meta.json has no valid {key!r}")
    from .loop import MAX_STEPS

    if not 0 <= meta["step"] <= MAX_STEPS:
        raise TutorError(f"{source}: meta.json's step must be 0 to {MAX_STEPS:,}, got "
                         f"{meta['step']:,}")
    command = meta["command"]
    if len(command) > MAX_COMMAND_WORDS or not all(isinstance(w, str) for w in command):
        raise TutorError(f"{source}: meta.json's command must be at most {MAX_COMMAND_WORDS} "
                         f"strings")
    if not isinstance(meta.get("resumable", False), bool):
        raise TutorError(f"{source}: meta.json's resumable must be true or false, got "
                         f"{meta.get('resumable')!r}")
    return meta


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (never unpickles), checking every
    field before it is used: the arrays' sizes (``MAX_CHECKPOINT_BYTES``, before any is
    read), meta.json (at most ``MAX_META_BYTES``, nested at most ``MAX_NESTING``), ``step``
    (0 to MAX_STEPS), ``command``, every training setting's type and range
    (:meth:`TrainConfig.from_dict`), the parameters against the settings (names, shapes,
    dtype, finite), the history (1-d numbers, one loss a step), and for a resumable file the
    optimizer state (names, shapes, dtypes, its step) and the random state (a PCG64 state).

    Raises TutorError naming the file and the field when it is missing, not an .npz, not a
    tutor checkpoint, of another version, or inconsistent.
    """
    from .loop import TrainConfig, _new_optimizer

    source = os.fspath(path)
    arrays = load_npz(path, max_bytes=MAX_CHECKPOINT_BYTES)
    meta = read_meta(arrays, source)
    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    if not params:
        raise TutorError(f"{source}: the checkpoint holds no parameters")
    config = TrainConfig.from_dict(meta["config"], source=source)
    _check_params(params, config, source)
    history = {k[len("history/"):]: v for k, v in arrays.items() if k.startswith("history/")}
    _check_history(history, meta["step"], source)
    optimizer = rng_state = last = None
    best_step = best_accuracy = None
    best = meta.get("best")
    if best is not None:
        if not (isinstance(best, dict) and isinstance(best.get("step"), int)
                and not isinstance(best.get("step"), bool) and 0 <= best["step"] <= meta["step"]
                and isinstance(best.get("accuracy"), (int, float))
                and 0.0 <= best["accuracy"] <= 1.0):
            raise TutorError(f"{source}: meta.json has no valid 'best' (expected a step and an "
                             f"accuracy from 0 to 1)")
        best_step, best_accuracy = best["step"], float(best["accuracy"])
    seconds = meta.get("seconds", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or \
            not 0.0 <= seconds < 1e9:
        raise TutorError(f"{source}: meta.json has no valid 'seconds' (expected a number of "
                         f"seconds >= 0)")
    if meta.get("resumable"):
        last = {k[len("last/"):]: v for k, v in arrays.items() if k.startswith("last/")} or None
        if last is not None and (set(last) != set(params) or any(
                last[k].shape != params[k].shape or last[k].dtype != params[k].dtype
                for k in params)):
            raise TutorError(f"{source}: the last step's weights (last/) do not match the "
                             f"parameters (param/)")
        if last is not None:
            for name, value in last.items():
                if not np.isfinite(value).all():
                    raise TutorError(f"{source}: last/{name} holds NaN or infinite values")
        if not isinstance(meta.get("optimizer"), dict) or not isinstance(meta.get("rng"), dict):
            raise TutorError(f"{source}: marked resumable but the optimizer or RNG state is missing")
        optimizer = _unflatten(meta["optimizer"], arrays, source)
        _check_optimizer_arrays(arrays, source)
        try:
            _new_optimizer({k: v.copy() for k, v in params.items()}, config).load_state_dict(
                optimizer)
        except (TutorError, TypeError, ValueError, KeyError, AttributeError) as exc:
            raise TutorError(f"{source}: the optimizer state in meta.json does not fit the "
                             f"parameters ({exc})") from None
        rng_state = meta["rng"]
        rng_from_state(rng_state, source)                              # checked, then dropped
    return Checkpoint(params=params, config=meta["config"], step=meta["step"],
                      command=list(meta["command"]), history=history,
                      optimizer=optimizer, rng_state=rng_state, last_params=last,
                      best_step=best_step, best_accuracy=best_accuracy, seconds=float(seconds))


def _check_params(params: dict[str, np.ndarray], config, source: str) -> None:
    """The parameters are exactly those of a model of ``config`` (:func:`loop.param_shapes`):
    every name, its shape, the config's dtype, finite numbers."""
    from .loop import param_shapes

    expected = param_shapes(config)
    missing = sorted(set(expected) - set(params))
    extra = sorted(set(params) - set(expected))
    if missing or extra:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {extra[0]!r}"
        raise TutorError(f"{source}: the parameters do not fit the checkpoint's settings "
                         f"({what})")
    for name, value in params.items():
        if value.shape != expected[name] or value.dtype != np.dtype(config.dtype):
            raise TutorError(f"{source}: parameter {name!r} is {value.dtype}"
                             f"{list(value.shape)}, expected {config.dtype}"
                             f"{list(expected[name])}")
        if not np.isfinite(value).all():
            raise TutorError(f"{source}: parameter {name!r} holds NaN or infinite values")


#: the history's arrays: the loss of every step, the steps and accuracies of evaluations
_HISTORY = {"loss": "f", "eval_step": "iu", "eval_accuracy": "f"}


def _check_history(history: dict[str, np.ndarray], step: int, source: str) -> None:
    for name, value in history.items():
        if name not in _HISTORY or value.ndim != 1 or value.dtype.kind not in _HISTORY[name]:
            raise TutorError(f"{source}: history/{name} must be one of "
                             f"{', '.join(_HISTORY)}, a 1-d array of numbers; got "
                             f"{value.dtype}{list(value.shape)}")
        if len(value) > step + 1:
            raise TutorError(f"{source}: history/{name} has {len(value):,} entries, more than "
                             f"the checkpoint's step {step:,}")
    if "eval_step" in history and "eval_accuracy" in history and \
            len(history["eval_step"]) != len(history["eval_accuracy"]):
        raise TutorError(f"{source}: history/eval_step and history/eval_accuracy differ in "
                         f"length")
    if "loss" in history and not (np.isfinite(history["loss"]).all()
                                  and (history["loss"] >= 0).all()):
        raise TutorError(f"{source}: history/loss must hold finite losses >= 0 (a run stops "
                         f"at a NaN loss); it holds {_first_bad(history['loss'])}")
    accuracy = history.get("eval_accuracy")
    if accuracy is not None and not (np.isfinite(accuracy).all() and (accuracy >= 0).all()
                                     and (accuracy <= 1).all()):
        raise TutorError(f"{source}: history/eval_accuracy must hold accuracies from 0 to 1; "
                         f"it holds {_first_bad(accuracy, 0, 1)}")
    steps = history.get("eval_step")
    if steps is not None and len(steps):
        if steps.min() < 0 or steps.max() > step:
            raise TutorError(f"{source}: history/eval_step must hold steps from 0 to the "
                             f"checkpoint's step {step:,}; it holds {int(steps.max()):,}"
                             if steps.max() > step else
                             f"{source}: history/eval_step must hold steps from 0 to the "
                             f"checkpoint's step {step:,}; it holds {int(steps.min()):,}")
        if (np.diff(steps.astype(np.int64)) <= 0).any():
            raise TutorError(f"{source}: history/eval_step must be increasing (one "
                             f"evaluation a step, in order)")


def _first_bad(values: np.ndarray, low: float = 0.0, high: float = np.inf) -> str:
    """The first entry of ``values`` that is NaN, infinite or outside [low, high], as text."""
    bad = ~(np.isfinite(values) & (values >= low) & (values <= high))
    return f"{float(values[np.argmax(bad)])!r} at index {int(np.argmax(bad))}"


def _check_optimizer_arrays(arrays: dict[str, np.ndarray], source: str) -> None:
    """Every optimizer array finite; Adam's second moments (``optim/exp_avg_sq.*``, running
    means of squared gradients) >= 0, as their square roots are taken."""
    for key, value in arrays.items():
        if not key.startswith("optim/") or value.dtype.kind not in "fiub":
            continue
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise TutorError(f"{source}: {key} holds NaN or infinite values")
        if key.startswith("optim/exp_avg_sq.") and (value < 0).any():
            raise TutorError(f"{source}: {key} holds negative values (a running mean of "
                             f"squared gradients is >= 0)")


def rng_from_state(state: dict[str, Any], source: str = "checkpoint") -> np.random.Generator:
    """A Generator continuing exactly where the saved one stopped."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name != "PCG64":
        raise TutorError(f"{source}: expected a PCG64 random state, got {name!r}")
    inner = state.get("state")
    if set(state) != {"bit_generator", "state", "has_uint32", "uinteger"} \
            or not isinstance(inner, dict) or set(inner) != {"state", "inc"} \
            or not all(type(v) is int and 0 <= v < 2**128 for v in inner.values()) \
            or state["has_uint32"] not in (0, 1) or type(state["has_uint32"]) is not int \
            or type(state["uinteger"]) is not int or not 0 <= state["uinteger"] < 2**32:
        raise TutorError(f"{source}: the random state is not a PCG64 state (expected "
                         f"{{'state': {{'state', 'inc'}}, 'has_uint32', 'uinteger'}} of "
                         f"integers in range)")
    bit_generator = np.random.PCG64()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise TutorError(f"{source}: the random state cannot be restored ({exc})") from None
    return np.random.Generator(bit_generator)
