"""Peak memory of the float32 forward pass of the base configuration, with tracemalloc
(NumPy reports its array buffers to it).

    python benchmarks/bench_forward_memory.py

Reports the weights, the largest single layer's own activations (peak while one encoder or
decoder layer runs alone, on inputs already allocated), the whole forward pass's peak, and
the ratio of that peak to weights + largest layer (the target is at most 1.5).
"""

from __future__ import annotations

import tracemalloc

import numpy as np

from tutor import Transformer
from tutor.nn import causal_mask
from tutor.nn.layers import decoder_layer, encoder_layer
from tutor.nn.params import ParamView

MiB = 2 ** 20


def peak_of(run):
    """Peak traced bytes allocated by run() above what was allocated before it."""
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    result = run()
    _, peak = tracemalloc.get_traced_memory()
    return peak - before, result


def main():
    tracemalloc.start()
    model = Transformer.random(512, 8, 6, 6, 2048, seed=0, dtype=np.float32)
    rng = np.random.default_rng(0)
    src = rng.standard_normal((8, 128, 512), dtype=np.float32)
    tgt = rng.standard_normal((8, 128, 512), dtype=np.float32)
    mask = causal_mask(128)
    weights = sum(v.nbytes for v in model.params.values())
    view = ParamView(model.params, "")
    enc_peak, memory = peak_of(lambda: encoder_layer(src, view.scope("encoder.layers.0"), model.config))
    dec_peak, _ = peak_of(lambda: decoder_layer(tgt, memory, view.scope("decoder.layers.0"),
                                                model.config, tgt_mask=mask))
    total_before, _ = tracemalloc.get_traced_memory()
    forward_extra, out = peak_of(lambda: model.forward(src, tgt, tgt_mask=mask))
    largest = max(enc_peak, dec_peak)
    peak = total_before + forward_extra
    print(f"float32 base forward (batch 8 x 128+128); output dtype {out.dtype}")
    print(f"  weights                           {weights / MiB:7.1f} MiB")
    print(f"  largest layer's activations       {largest / MiB:7.1f} MiB "
          f"(encoder layer {enc_peak / MiB:.1f}, decoder layer {dec_peak / MiB:.1f})")
    print(f"  everything allocated at the peak  {peak / MiB:7.1f} MiB "
          f"(inputs and weights included; the forward pass added {forward_extra / MiB:.1f})")
    print(f"  peak / (weights + largest layer)  {peak / (weights + largest):7.2f}")


if __name__ == "__main__":
    main()
