"""Write tutor/data/recorded/scaling-training.json: the scaling-and-training experiment
(``tutor scaling --train``: the same encoder-decoder trained on ``reverse`` with and without
1/√dk at several dk) as the lesson "How a Transformer learns" shows it. Training takes tens of
seconds, too long for a lesson step, so the lesson shows this measurement, marked as recorded.

    python scripts/record_scaling_training.py

Settings: SETTINGS below (the command's defaults). Everything the walkthrough
(tutor.walkthroughs.scaling_training.scaling_training) recorded is kept, with its info.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor.data.recorded import SCALING_FILE, array_entry  # noqa: E402
from tutor.walkthroughs.scaling_training import scaling_training  # noqa: E402

SETTINGS = {"d_ks": [4, 16, 64], "d_model": 64, "steps": 300, "seed": 0, "qk_init_gain": 1.0}


def main() -> None:
    start = time.perf_counter()
    recording = scaling_training(SETTINGS["d_ks"], d_model=SETTINGS["d_model"],
                                 steps=SETTINGS["steps"], seed=SETTINGS["seed"],
                                 qk_init_gain=SETTINGS["qk_init_gain"])
    info = dict(recording.info)
    info["ratios"] = {str(k): v for k, v in info["ratios"].items()}
    run = {"computation": "scaling-training", "args": SETTINGS, "tokens": info["labels"],
           "info": info, "arrays": {name: array_entry(recording.trace[name])
                                    for name in recording.trace}}
    data = {"made_by": "scripts/record_scaling_training.py",
            "command": "tutor scaling --train (d_model 64, 300 steps, dk 4 16 64, seed 0)",
            "seconds": round(time.perf_counter() - start, 1), "runs": [run]}
    SCALING_FILE.parent.mkdir(parents=True, exist_ok=True)
    SCALING_FILE.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {SCALING_FILE} ({SCALING_FILE.stat().st_size:,} bytes) in {data['seconds']} s")


if __name__ == "__main__":
    main()
