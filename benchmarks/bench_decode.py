"""Greedy decoding on the base configuration, with and without the key/value cache.

    python benchmarks/bench_decode.py [--repeats 3] [--batch 8] [--src-len 128]

Reports the median time for 128 new tokens both ways (and their ratio), then the cached
run's time per token for 32, 64, 128 and 256 new tokens: total / n, and the marginal time of
each further token, which stays flat when the cache does its job.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tutor import Seq2Seq


def median_time(run, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--src-len", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=1000)
    args = parser.parse_args()
    model = Seq2Seq.random(args.vocab, 512, 8, 6, 2048, seed=0, dtype=np.float32)
    src = np.random.default_rng(0).integers(1, args.vocab, size=(args.batch, args.src_len))

    def generate(n, use_cache=True):
        return model.generate(src, n, bos_id=0, use_cache=use_cache)

    same = np.array_equal(generate(128), generate(128, use_cache=False))
    print(f"base config, float32, batch {args.batch}, source length {args.src_len}, "
          f"{args.repeats} repeats; cached and uncached tokens identical: {same}")
    cached = median_time(lambda: generate(128), args.repeats)
    uncached = median_time(lambda: generate(128, use_cache=False), args.repeats)
    print(f"  128 new tokens: cached {cached:.2f} s, uncached {uncached:.2f} s, "
          f"speed-up {uncached / cached:.1f}x")
    totals = {n: median_time(lambda n=n: generate(n), args.repeats) for n in (32, 64, 128, 256)}
    previous = None
    for n, total in totals.items():
        marginal = "" if previous is None else \
            f", marginal {(total - totals[previous]) / (n - previous) * 1000:.1f} ms/token"
        print(f"  cached, {n:3d} new tokens: {total:.2f} s = {total / n * 1000:.1f} ms/token{marginal}")
        previous = n


if __name__ == "__main__":
    main()
