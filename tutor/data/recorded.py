"""Recorded runs of a real model, for a course that must work where the model is absent.

``recorded/scaling-training.json`` holds the scaling-and-training experiment (minutes of
training) as ``scripts/record_scaling_training.py`` measured it.

``recorded/minilm.json`` holds what the lesson computations ``model-head``, ``model-heads``
and ``model-context`` recorded from all-MiniLM-L6-v2 (float64, tutor's own forward pass), made
by ``scripts/record_minilm_lesson.py``; ``tests/test_lesson_computations.py`` checks that it equals a
fresh run when the model is installed.

``recorded/smollm2.json`` holds what the lesson computations ``llm-generate`` and
``llm-quantize`` recorded from SmolLM2-135M-Instruct (float32, tutor's own forward pass and
GGUF reader), made by ``scripts/record_smollm2_lesson.py``; only the arrays the lessons show
are kept (no [V] distributions), and ``tests/test_lesson_llm.py`` checks it equals a fresh
run when the model is installed. File layout (both)::

    {"model": "...", "made_by": "...", "runs": [
        {"computation": "model-head", "args": {...}, "tokens": [...], "info": {...},
         "arrays": {"weights": {"shape": [n, n], "data": [...]}, ...}}, ...]}

An array may be kept in part (SmolLM2's [1, V] next-token distributions, V = 49,152: only
the entries the lesson shows): ``{"shape": [1, V], "index": [i, ...], "data": [...],
"fill": null}`` holds the values at those flat indices, and every other entry is ``fill``
(null: NaN, not recorded).
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np

from ..errors import TutorError

FOLDER = Path(__file__).resolve().parent / "recorded"
FILE = FOLDER / "minilm.json"                      # the real-model runs (all-MiniLM-L6-v2)
SMOLLM2_FILE = FOLDER / "smollm2.json"             # the real LLM's runs (SmolLM2-135M)
SCALING_FILE = FOLDER / "scaling-training.json"    # the scaling-and-training experiment
_MAX_BYTES = 1 << 20           # each file is under 100 KB; a larger one is not ours
MAX_RECORDED_ELEMENTS = 1 << 20  # numbers in one array (a partial one: [1, V], V 49,152)


def _damaged(path: Path, what: str) -> TutorError:
    return TutorError(f"the recorded runs shipped with tutor are damaged: {path}: {what}; "
                      f"reinstall tutor")


@functools.lru_cache(maxsize=4)
def recordings(path: Path = FILE) -> dict:
    """The parsed file (checked: size, JSON, every array's data matches its shape). Arrays
    hold numbers or null (NaN, e.g. a step never reached)."""
    if not path.is_file():
        raise TutorError(f"the recorded runs are missing from this installation of tutor: "
                         f"expected {path}; reinstall tutor")
    if path.stat().st_size > _MAX_BYTES:
        raise _damaged(path, f"expected at most {_MAX_BYTES} bytes, got {path.stat().st_size}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _damaged(path, f"not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise _damaged(path, "expected an object with a list of runs")
    for run in data["runs"]:
        if not isinstance(run, dict) or not isinstance(run.get("arrays"), dict):
            raise _damaged(path, "expected each run to be an object with arrays")
        for name, entry in run["arrays"].items():
            shape, values = entry.get("shape"), entry.get("data")
            index = entry.get("index")
            size = math.prod(shape) if isinstance(shape, list) and all(
                isinstance(n, int) and n >= 0 for n in shape) else -1
            if (size < 0 or size > MAX_RECORDED_ELEMENTS or not isinstance(values, list)
                    or (index is None and size != len(values))
                    or (index is not None and not (
                        isinstance(index, list) and len(index) == len(values)
                        and all(isinstance(i, int) and 0 <= i < size for i in index)
                        and (entry.get("fill") is None
                             or isinstance(entry["fill"], (int, float)))))
                    or not all(v is None or isinstance(v, (int, float)) for v in values)):
                raise _damaged(path, f"array {name!r}: its data does not match its shape "
                                     f"{shape} (at most {MAX_RECORDED_ELEMENTS:,} numbers)")
    return data


def array_entry(value, index=None, fill=None, digits: int | None = None) -> dict:
    """An array as the files hold it: shape and flat data (NaN and infinities as null); with
    ``index`` (flat indices) only those entries, every other one being ``fill`` (None: NaN);
    with ``digits``, each number that is not whole to that many significant digits (float32
    runs: 7)."""
    value = np.asarray(value, dtype=np.float64)
    flat = value.ravel()
    keep = range(flat.size) if index is None else sorted({int(i) for i in index})

    def number(v):
        if not np.isfinite(v):
            return None
        return float(f"{v:.{digits}g}") if digits and v != int(v) else float(v)  # counts exact

    entry = {"shape": list(value.shape), "data": [number(flat[i]) for i in keep]}
    if index is not None:
        entry.update(index=list(keep), fill=fill)
    return entry


def _array(entry: dict) -> np.ndarray:
    """The float64 array an entry holds (null as NaN; a partial one filled)."""
    data = np.array([np.nan if v is None else v for v in entry["data"]], dtype=np.float64)
    if "index" not in entry:
        return data.reshape(entry["shape"])
    fill = np.nan if entry.get("fill") is None else float(entry["fill"])
    out = np.full(int(np.prod(entry["shape"])), fill, dtype=np.float64)
    out[np.asarray(entry["index"], dtype=np.int64)] = data
    return out.reshape(entry["shape"])


def recorded_run(computation: str, args: dict,
                 path: Path = FILE) -> tuple[dict, dict[str, np.ndarray]] | None:
    """The recorded run of ``computation`` with exactly ``args`` (with defaults filled in):
    (its entry: tokens, info, ...; its arrays as float64, null as NaN), or None when none
    was recorded."""
    data = recordings(path)
    for run in data["runs"]:
        if run.get("computation") == computation and run.get("args") == args:
            arrays = {name: _array(entry) for name, entry in run["arrays"].items()}
            return run, arrays
    return None


def model_name() -> str:
    return str(recordings().get("model", "all-MiniLM-L6-v2"))
