"""The scaling experiment (the library behind `tutor scaling --train`), over several seeds.

    python benchmarks/bench_scaling_train.py [--d-k 4 16 64] [--d-model 64] [--steps 300]
        [--seeds 0 1] [--gain 1.0] [--target 0.5]

For each d_k (heads = d_model / d_k, so every run has the same parameters), trains the same
model on `reverse` with and without attention's 1/sqrt(d_k), from the same initial weights and
batches, and prints per seed and as medians: the first step whose 20-step mean loss is at or
below --target, the mean loss of the last 20 steps, the held-out exact-sequence accuracy, and
how peaked attention is before training (mean of each query's largest weight).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tutor.training.scaling_training import compare, scaling_experiment  # noqa: E402


def fmt_steps(values):
    return "/".join("-" if v is None else str(v) for v in values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d-k", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--gain", type=float, default=1.0, help="qk_init_gain")
    parser.add_argument("--target", type=float, default=0.5)
    parser.add_argument("--layers", type=int, default=1)
    args = parser.parse_args()
    start = time.perf_counter()
    table: dict[int, list[dict]] = {}
    for seed in args.seeds:
        runs = scaling_experiment(args.d_k, d_model=args.d_model, steps=args.steps, seed=seed,
                                  qk_init_gain=args.gain, num_layers=args.layers,
                                  dim_feedforward=2 * args.d_model)
        for row in compare(runs, target_loss=args.target):
            table.setdefault(row["d_k"], []).append(row)
    print(f"reverse, d_model {args.d_model}, {args.layers}+{args.layers} layers, {args.steps} "
          f"steps, initial q/k gain {args.gain}, seeds {args.seeds}; steps to a 20-step mean "
          f"loss <= {args.target} (per seed), final loss and accuracy (medians)")
    for d_k, rows in table.items():
        line = [f"d_k {d_k:4d} ({rows[0]['nhead']:2d} heads)"]
        for key in ("scaled", "unscaled"):
            runs = [row[key] for row in rows]
            line.append(f"{key}: steps {fmt_steps([r['steps_to_target'] for r in runs])}, "
                        f"loss {statistics.median(r['final_loss'] for r in runs):.3f}, "
                        f"acc {statistics.median(r['accuracy'] for r in runs):.1%}, "
                        f"peak0 {statistics.median(r['initial_max_weight'] for r in runs):.2f}"
                        + (", DIVERGED" if any(r["diverged"] for r in runs) else ""))
        print("  " + " | ".join(line))
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
