"""A walkthrough's recording read back from a file: the real-model lessons ship what
all-MiniLM-L6-v2 recorded (:mod:`tutor.data.recorded`) for a machine without the model, and
show it through the same renderers and references as a live run."""

from __future__ import annotations

from . import Recording, new_trace


def replay(walkthrough: str, tokens: list[str], info: dict, arrays: dict) -> Recording:
    """A :class:`Recording` of ``walkthrough`` ("pretrained.model_heads", ...) holding the
    recorded ``arrays`` under their recorded names, with ``info`` marked ``recorded``; the
    facts a file cannot hold (each head's pattern, an object) are found again."""
    trace = new_trace()
    for name, value in arrays.items():
        trace.record(name, value)
    info = {**info, "recorded": True}
    if walkthrough == "pretrained.model_heads" and "patterns" not in info:
        from tutor.nn.analysis import head_patterns

        info["patterns"] = head_patterns(arrays["attentions"], list(tokens))
    return Recording(trace, None, list(tokens), info, walkthrough=walkthrough)
