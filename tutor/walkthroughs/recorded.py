"""A walkthrough's recording read back from a file: the real-model lessons ship what
all-MiniLM-L6-v2 and SmolLM2-135M recorded (:mod:`tutor.data.recorded`) for a machine
without the model, and show it through the same renderers and references as a live run."""

from __future__ import annotations

import numpy as np

from . import Recording, new_trace

_WHOLE = (".prefix", ".candidates", ".choice", "output")    # generation's token ids (int)


def replay(walkthrough: str, tokens: list[str], info: dict, arrays: dict) -> Recording:
    """A :class:`Recording` of ``walkthrough`` ("pretrained.model_heads", ...) holding the
    recorded ``arrays`` under their recorded names, with ``info`` marked ``recorded``; the
    facts a file cannot hold (each head's pattern, an object; integer keys and ids) are
    found again."""
    trace = new_trace()
    generation = walkthrough == "generation.generate"
    for name, value in arrays.items():
        if generation and name.endswith(_WHOLE):
            value = np.asarray(value).astype(np.int64)                  # ids, as recorded
        trace.record(name, value)
    info = {**info, "recorded": True}
    output = None
    if walkthrough == "pretrained.model_heads" and "patterns" not in info:
        from tutor.nn.analysis import head_patterns

        info["patterns"] = head_patterns(arrays["attentions"], list(tokens))
    if generation:                                  # JSON keys are text: the ids again
        info["tokens"] = {int(k): v for k, v in info["tokens"].items()}
        output = np.asarray(trace["output"])[0]                         # [n0 + n]
    return Recording(trace, output, list(tokens), info, walkthrough=walkthrough)
