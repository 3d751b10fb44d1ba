"""Training the toy models: the tasks (``reverse``, ``copy``, ``sort`` on digit sequences), the
training loop, checkpoints, the scaling experiment, and the trained models shipped with tutor.

Uses ``tutor.nn`` only (no Rich, no Click); the loop prints nothing and reports progress to a
callback. Names are re-exported lazily, so importing this package is cheap.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "TASKS": "tasks", "VOCAB": "tasks", "held_out_set": "tasks", "training_batch": "tasks",
    "Checkpoint": "checkpoint", "load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint",
    "Progress": "loop", "TrainConfig": "loop", "TrainResult": "loop", "Trainer": "loop",
    "TrainingDiverged": "loop", "accuracy": "loop", "train": "loop",
    "load_shipped_model": "shipped", "shipped_models": "shipped", "load_model": "shipped",
    "ScalingRun": "scaling_training", "scaling_experiment": "scaling_training",
    "compare": "scaling_training",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
