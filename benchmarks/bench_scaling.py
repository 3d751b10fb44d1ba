"""How one attention layer grows with the sequence length: time and peak memory of
multi-head self-attention (d_model 512, 8 heads, batch 1, float32) for 128 to 8192 tokens,
computed in one pass and in key blocks (online softmax).

    python benchmarks/bench_scaling.py [--max-len 8192] [--chunk 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

from tutor.nn import Transformer
from tutor.nn.attention import multi_head_attention
from tutor.nn.params import ParamView

MiB = 2 ** 20


def measure(run, repeats):
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    out = run()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), peak, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-len", type=int, default=8192)
    parser.add_argument("--chunk", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = Transformer.random(512, 8, 1, 1, 2048, seed=0, dtype=np.float32)
    params = ParamView(model.params, "encoder.layers.0.self_attn.")
    rng = np.random.default_rng(0)
    print(f"one self-attention layer, d_model 512, 8 heads, batch 1, float32; chunk {args.chunk}")
    print(f"{'tokens':>7} {'one pass':>10} {'peak':>10} {'chunked':>10} {'peak':>10} {'max diff':>9}")
    previous = None
    n = 128
    while n <= args.max_len:
        x = rng.standard_normal((1, n, 512), dtype=np.float32)
        t_full, m_full, out_full = measure(lambda: multi_head_attention(x, x, x, params, 8)[0], args.repeats)
        t_chunk, m_chunk, out_chunk = measure(
            lambda: multi_head_attention(x, x, x, params, 8, chunk_size=args.chunk)[0], args.repeats)
        diff = float(np.max(np.abs(out_full - out_chunk)))
        growth = "" if previous is None else \
            f"  x{t_full / previous[0]:.1f} time, x{m_full / previous[1]:.1f} memory (one pass)"
        print(f"{n:7d} {t_full * 1000:8.1f}ms {m_full / MiB:7.1f}MiB {t_chunk * 1000:8.1f}ms "
              f"{m_chunk / MiB:7.1f}MiB {diff:9.1e}{growth}")
        previous = (t_full, m_full)
        n *= 2


if __name__ == "__main__":
    main()
