"""Step-by-step generation (tutor.nn.decoding) with the key/value cache and without it.

    PYTHONPATH=. python benchmarks/bench_generate.py [--repeats 5] [--tokens 128] [--threads 1]

``--threads N`` sets the BLAS threads before NumPy loads (0: leave the environment alone). On a
machine whose cores are shared, multi-threaded BLAS on these small matrices measures the
scheduler more than the work; pass ``--threads 1`` there.

1. Generating ``--tokens`` new tokens (greedy, one source sequence, as ``tutor generate`` does),
   cached and uncached runs alternating side by side: the median time of each and the median
   of the per-pair ratios. Both runs must give the same tokens.
2. The time of each step as the output grows, measured around the model's step (the choice
   of the token is not included), median over the repeats, grouped by output length: flat
   with the cache, growing without it. Beside it, the counted multiply-adds of the same
   steps (tutor.nn.decoding.decoder_step_macs), so measured and counted ratios can be compared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

if __name__ == "__main__" and "--threads" in sys.argv:                # before NumPy loads BLAS
    _threads = sys.argv[sys.argv.index("--threads") + 1]
    if _threads != "0":
        for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[_name] = _threads

import numpy as np  # noqa: E402

from tutor.nn import Seq2Seq  # noqa: E402
from tutor.nn.decoding import Seq2SeqStepper, decoder_step_macs, generate  # noqa: E402


class TimedStepper:
    """Wraps a stepper and keeps the wall time of each of its steps."""

    def __init__(self, stepper):
        self.stepper, self.vocab_size, self.seconds = stepper, stepper.vocab_size, []

    def step(self, prefix, **kw):
        begin = time.perf_counter()
        logits = self.stepper.step(prefix, **kw)
        self.seconds.append(time.perf_counter() - begin)
        return logits

    def select(self, rows):
        self.stepper.select(rows)


def run(model, src, n_tokens, use_cache):
    timed = TimedStepper(Seq2SeqStepper(model, src, use_cache=use_cache))
    begin = time.perf_counter()
    out = generate(timed, [0], n_tokens)
    return time.perf_counter() - begin, timed.seconds, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--nhead", type=int, default=4)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--d-ff", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--src-len", type=int, default=32)
    parser.add_argument("--threads", default="0", help="BLAS threads (0: as the environment says)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args()
    model = Seq2Seq.random(args.vocab, args.d_model, args.nhead, args.layers, args.d_ff, seed=0,
                           dtype=np.dtype(args.dtype))
    src = np.random.default_rng(0).integers(1, args.vocab, size=args.src_len)
    print(f"Seq2Seq d_model {args.d_model}, {args.nhead} heads, {args.layers}+{args.layers} "
          f"layers, d_ff {args.d_ff}, vocab {args.vocab}, {args.dtype}; one source of "
          f"{args.src_len} tokens; {args.tokens} new tokens, greedy; {args.repeats} repeats, "
          f"cached and uncached alternating; BLAS threads: "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}")
    run(model, src, 8, True), run(model, src, 8, False)                # warm up
    totals = {True: [], False: []}
    steps = {True: [], False: []}
    ratios = []
    for _ in range(args.repeats):
        pair = {}
        for use_cache in (True, False):
            total, seconds, out = run(model, src, args.tokens, use_cache)
            totals[use_cache].append(total)
            steps[use_cache].append(seconds)
            pair[use_cache] = (total, out)
        assert np.array_equal(pair[True][1], pair[False][1]), "cached and uncached tokens differ"
        ratios.append(pair[False][0] / pair[True][0])
    cached, uncached = statistics.median(totals[True]), statistics.median(totals[False])
    print(f"  {args.tokens} new tokens: cached {cached:.3f} s, uncached {uncached:.3f} s; "
          f"median ratio uncached/cached {statistics.median(ratios):.1f}x "
          f"(pairs: {', '.join(f'{r:.1f}' for r in ratios)}); same tokens: yes")
    print("  time per step (median over repeats) by output length, and counted multiply-adds:")
    print(f"  {'steps':>9} {'cached ms':>10} {'uncached ms':>12} {'measured x':>11} "
          f"{'cached MMAC':>12} {'uncached MMAC':>14} {'counted x':>10}")
    per_step = {c: np.median(np.array(steps[c]), axis=0) for c in (True, False)}  # [tokens]
    edges = [1, 2, 9, 17, 33, 65, 97, 129, 193, 257, 385]
    edges = [e for e in edges if e <= args.tokens] + [args.tokens + 1]
    config, n_src = model.config, args.src_len
    for lo, hi in zip(edges, edges[1:]):
        rows = slice(lo - 1, hi - 1)                                   # steps lo..hi-1 (1-based)
        c_ms = float(np.mean(per_step[True][rows])) * 1e3
        u_ms = float(np.mean(per_step[False][rows])) * 1e3
        c_mac = np.mean([decoder_step_macs(config, args.vocab, n_src, 1, t, cross_kv=t == 1)
                         for t in range(lo, hi)]) / 1e6
        u_mac = np.mean([decoder_step_macs(config, args.vocab, n_src, t, t, cross_kv=True)
                         for t in range(lo, hi)]) / 1e6
        print(f"  {f'{lo}-{hi - 1}':>9} {c_ms:10.2f} {u_ms:12.2f} {u_ms / c_ms:11.1f} "
              f"{c_mac:12.2f} {u_mac:14.2f} {u_mac / c_mac:10.1f}")
    later = per_step[True][1:]                                         # after the first step
    half = len(later) // 2
    print(f"  cached step time, second half / first half of the output (after step 1): "
          f"{np.median(later[half:]) / np.median(later[:half]):.2f} "
          f"(uncached: {np.median(per_step[False][1:][half:]) / np.median(per_step[False][1:][:half]):.2f})")


if __name__ == "__main__":
    main()
