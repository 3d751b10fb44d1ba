"""Forward pass of the base configuration: tutor's NumPy stack, and PyTorch's nn.Transformer
when torch is installed, timed alternately in the same run.

    python benchmarks/bench_forward.py [--repeats 7] [--batch 8] [--seq 128] [--mask bool|float]

``--mask``: the causal target mask both sides get, boolean (True = hidden, the default) or
additive float (0 and -inf, as ``nn.Transformer.generate_square_subsequent_mask`` makes it).

Prints medians (and min/max) over the repeats, achieved GFLOP/s, and the ratio to NumPy's own
float32 matrix-product rate measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tutor import Transformer
from tutor.nn import causal_mask


def forward_flops(batch, n_src, n_tgt, d_model, d_ff, n_enc, n_dec):
    """Multiply-adds x 2 of the matrix products in one forward pass (softmax etc. left out)."""
    def attention(n_q, n_k, self_attn):
        proj = 2 * batch * (n_q * d_model * d_model + 2 * n_k * d_model * d_model)  # q, k, v
        return proj + 2 * 2 * batch * n_q * n_k * d_model + 2 * batch * n_q * d_model * d_model

    ff = lambda n: 2 * 2 * batch * n * d_model * d_ff                  # noqa: E731
    enc = n_enc * (attention(n_src, n_src, True) + ff(n_src))
    dec = n_dec * (attention(n_tgt, n_tgt, True) + attention(n_tgt, n_src, False) + ff(n_tgt))
    return enc + dec


def gemm_rate(n=2048, repeats=5):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--mask", choices=("bool", "float"), default="bool")
    args = parser.parse_args()
    d_model, nhead, layers, d_ff = 512, 8, 6, 2048
    model = Transformer.random(d_model, nhead, layers, layers, d_ff, seed=0, dtype=np.float32)
    rng = np.random.default_rng(0)
    src = rng.standard_normal((args.batch, args.seq, d_model)).astype(np.float32)
    tgt = rng.standard_normal((args.batch, args.seq, d_model)).astype(np.float32)
    mask = causal_mask(args.seq)                                       # [n, n], True = hidden
    if args.mask == "float":
        mask = np.where(mask, -np.inf, 0.0).astype(np.float32)         # additive

    runners = {"tutor (NumPy)": lambda: model.forward(src, tgt, tgt_mask=mask)}
    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not installed: reporting NumPy alone")
    if torch is not None:
        torch.manual_seed(0)
        ref = torch.nn.Transformer(d_model, nhead, layers, layers, d_ff, dropout=0.0,
                                   batch_first=True).eval()
        with torch.no_grad():
            for name, value in model.params.items():
                ref.state_dict()[name].copy_(torch.from_numpy(value))
        t_src, t_tgt = torch.from_numpy(src), torch.from_numpy(tgt)
        t_mask = torch.from_numpy(mask)

        def run_torch():
            with torch.inference_mode():
                return ref(t_src, t_tgt, tgt_mask=t_mask).numpy()

        runners["PyTorch nn.Transformer"] = run_torch
        diff = np.max(np.abs(runners["tutor (NumPy)"]() - run_torch()))
        print(f"max |tutor - torch| = {diff:.2e}")

    times = {name: [] for name in runners}
    for name, run in runners.items():                                  # warm-up
        run()
    for _ in range(args.repeats):                                      # alternate, same run
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)

    flops = forward_flops(args.batch, args.seq, args.seq, d_model, d_ff, layers, layers)
    gemm = gemm_rate()
    print(f"base config, batch {args.batch} x {args.seq}+{args.seq} tokens, float32, "
          f"{args.mask} causal mask, "
          f"{args.repeats} repeats; NumPy float32 GEMM: {gemm:.0f} GFLOP/s")
    for name, series in times.items():
        median = statistics.median(series)
        rate = flops / median / 1e9
        print(f"  {name:24s} median {median * 1000:7.1f} ms  (min {min(series) * 1000:.1f}, "
              f"max {max(series) * 1000:.1f})  {rate:6.1f} GFLOP/s = {rate / gemm:.0%} of GEMM")
    if len(times) == 2:
        ours, theirs = (statistics.median(s) for s in times.values())
        print(f"  ratio tutor / torch = {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
