"""A model file's sizes for the weight-tying table of ``tutor decoder-only --model``: read from
a llama GGUF file's tensor table (nothing is dequantized)."""

from __future__ import annotations

from ..errors import TutorError


def gguf_tying_sizes(path, name: str) -> dict:
    """``{"name", "vocab", "d_model", "total", "tied"}`` of the GGUF file at ``path``:
    vocabulary and d_model from ``token_embd.weight`` [V, d_model] (NumPy order), ``total``
    the numbers in all its tensors, ``tied`` True when it has no ``output.weight`` (the head
    is the embedding matrix). TutorError naming the file without ``token_embd.weight``."""
    from ..gguf import read_gguf

    gguf = read_gguf(path)
    info = gguf.tensors.get("token_embd.weight")
    if info is None or len(info.shape) != 2:
        raise TutorError(f"{path}: no token_embd.weight [vocab, d_model]; not a llama model file")
    vocab, d_model = info.shape
    total = sum(t.n_elements for t in gguf.tensors.values())
    return {"name": name, "vocab": int(vocab), "d_model": int(d_model), "total": int(total),
            "tied": "output.weight" not in gguf.tensors}
