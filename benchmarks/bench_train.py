"""Time to 99% held-out exact-sequence accuracy with `tutor train`'s defaults.

    python benchmarks/bench_train.py [--task reverse] [--seeds 0 1 2] [--max-steps 4000]

For each seed, trains with the default TrainConfig (what `tutor train --task TASK --seed S`
runs) and stops at the first evaluation (every 100 steps, 500 held-out sequences, greedy
decoding) at or above 99%. Reports each seed's steps and seconds (wall clock, evaluations
included) and the median seconds over the seeds; the issue's target is <= 180 s on a 2-core
machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tutor.training.loop import TrainConfig, train  # noqa: E402


def time_to(task: str, seed: int, target: float, max_steps: int):
    reached = {}

    def callback(progress):
        if progress.evaluated and progress.accuracy >= target and not reached:
            reached.update(step=progress.step, seconds=time.perf_counter() - start)

    start = time.perf_counter()
    result = train(TrainConfig(task=task, seed=seed, steps=max_steps), callback=callback,
                   should_stop=lambda: bool(reached))
    return reached.get("step"), reached.get("seconds"), result.accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="reverse")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--max-steps", type=int, default=4000)
    args = parser.parse_args()
    defaults = TrainConfig(task=args.task)
    print(f"{args.task}: d_model {defaults.d_model}, {defaults.nhead} heads, {defaults.num_layers}"
          f"+{defaults.num_layers} layers, ff {defaults.dim_feedforward}, batch "
          f"{defaults.batch_size}, lr {defaults.lr}, warm-up {defaults.warmup}, "
          f"{defaults.dtype}; target {args.target:.0%} on {defaults.eval_size} held-out sequences")
    seconds = []
    for seed in args.seeds:
        step, took, acc = time_to(args.task, seed, args.target, args.max_steps)
        if step is None:
            print(f"  seed {seed}: not reached in {args.max_steps} steps (final {acc:.1%})")
            seconds.append(float("inf"))
        else:
            print(f"  seed {seed}: {acc:.1%} at step {step}, {took:.1f} s")
            seconds.append(took)
    print(f"median time to {args.target:.0%}: {statistics.median(seconds):.1f} s "
          f"over {len(args.seeds)} seeds (target <= 180 s)")


if __name__ == "__main__":
    main()
