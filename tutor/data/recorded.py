"""Recorded runs of a real model, for a course that must work where the model is absent.

``recorded/minilm.json`` holds what the lesson computations ``model-head``, ``model-heads``
and ``model-context`` recorded from all-MiniLM-L6-v2 (float64, tutor's own forward pass), made
by ``scripts/record_minilm_lesson.py``; ``tests/test_lessons_part2.py`` checks that it equals a
fresh run when the model is installed. File layout::

    {"model": "...", "made_by": "...", "runs": [
        {"computation": "model-head", "args": {...}, "tokens": [...], "info": {...},
         "arrays": {"weights": {"shape": [n, n], "data": [...]}, ...}}, ...]}
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from ..errors import TutorError

FILE = Path(__file__).resolve().parent / "recorded" / "minilm.json"
_MAX_BYTES = 1 << 20           # the file is about 100 KB; a larger one is not ours


def _damaged(what: str) -> TutorError:
    return TutorError(f"the recorded model runs shipped with tutor are damaged: {FILE}: {what}; "
                      f"reinstall tutor")


@functools.lru_cache(maxsize=1)
def recordings() -> dict:
    """The parsed file (checked: size, JSON, every array's data matches its shape)."""
    if not FILE.is_file():
        raise TutorError(f"the recorded model runs are missing from this installation of tutor: "
                         f"expected {FILE}; reinstall tutor")
    if FILE.stat().st_size > _MAX_BYTES:
        raise _damaged(f"expected at most {_MAX_BYTES} bytes, got {FILE.stat().st_size}")
    try:
        data = json.loads(FILE.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _damaged(f"not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise _damaged("expected an object with a list of runs")
    for run in data["runs"]:
        if not isinstance(run, dict) or not isinstance(run.get("arrays"), dict):
            raise _damaged("expected each run to be an object with arrays")
        for name, entry in run["arrays"].items():
            shape, values = entry.get("shape"), entry.get("data")
            if (not isinstance(shape, list) or not isinstance(values, list)
                    or int(np.prod(shape)) != len(values)):
                raise _damaged(f"array {name!r}: its data does not match its shape {shape}")
    return data


def recorded_run(computation: str, args: dict) -> tuple[dict, dict[str, np.ndarray]] | None:
    """The recorded run of ``computation`` with exactly ``args`` (with defaults filled in):
    (its entry: tokens, info, ...; its arrays as float64), or None when none was recorded."""
    data = recordings()
    for run in data["runs"]:
        if run.get("computation") == computation and run.get("args") == args:
            arrays = {name: np.array(entry["data"], dtype=np.float64).reshape(entry["shape"])
                      for name, entry in run["arrays"].items()}
            return run, arrays
    return None


def recorded_args(computation: str) -> list[dict]:
    """The argument sets recorded for ``computation`` (what a course without the model can
    show)."""
    return [run["args"] for run in recordings()["runs"] if run.get("computation") == computation]


def model_name() -> str:
    return str(recordings().get("model", "all-MiniLM-L6-v2"))
