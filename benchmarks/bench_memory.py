"""Every big command at its limits (tutor/limits.py), each in a fresh subprocess: wall time,
peak resident memory, and how long until it first said anything (standard error or output).
The issue's targets: within 60 s and 2 GB, something said within about a second.

    PYTHONPATH=. python benchmarks/bench_memory.py [--only encode ...] [--formats rich json]

Peak memory is the child's own ru_maxrss (os.wait4 returns each child's rusage). Output goes to a file, COLUMNS=100. The inputs
(weights of d_model MAX_MODEL_DIM, MAX_LAYERS+MAX_LAYERS layers, 16 heads and the widest
feed-forward that fits MAX_WEIGHTS_BYTES in float32; MAX_BATCH x MAX_SEQ vectors) are written to
a temporary folder first. `train` runs 2 steps at every option's maximum and is then sent
SIGINT in the middle of its third: the time from the signal to its exit is "Ctrl-C".
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tutor import limits  # noqa: E402

WORDS = " ".join(f"w{i}" for i in range(limits.MAX_TOKENS))


def make_inputs(folder: str) -> dict[str, str]:
    import numpy as np

    from tutor.nn.model import Transformer

    d, layers = limits.MAX_MODEL_DIM, limits.MAX_LAYERS
    # parameters: enc 4d²+2d·ff, dec 8d²+2d·ff per layer (+ biases and norms): the widest ff
    per_ff = 4 * d * layers
    fixed = 12 * d * d * layers
    ff = max(1, int((limits.MAX_WEIGHTS_BYTES / 4 - fixed) / per_ff * 0.97))
    model = Transformer.random(d, 16, layers, layers, ff, seed=0, dtype=np.float32)
    weights = os.path.join(folder, "w.npz")
    model.save(weights)
    rng = np.random.default_rng(0)
    shape = (limits.MAX_BATCH, limits.MAX_SEQ, d)
    paths = {"weights": weights, "ff": str(ff),
             "mib": f"{sum(v.nbytes for v in model.params.values()) / 2**20:.0f}"}
    for name in ("src", "tgt"):
        paths[name] = os.path.join(folder, f"{name}.npy")
        np.save(paths[name], rng.standard_normal(shape, dtype=np.float32))
    return paths


def cases(paths: dict[str, str], formats: list[str]):
    random_model = ["--dim", str(limits.MAX_DIM), "--heads", str(limits.MAX_HEADS), "--layers",
                    str(limits.MAX_LAYERS), "--ff", str(limits.MAX_FF), "--detail", "full"]
    weights = ["--weights", paths["weights"], "--heads", "16", "--detail", "full"]
    for fmt in formats:
        yield (f"encode, random model, 32 words ({fmt})",
               ["encode", WORDS, *random_model, "--format", fmt])
        yield (f"transformer, random model, 32+32 words ({fmt})",
               ["transformer", "--src", WORDS, "--tgt", WORDS, *random_model, "--format", fmt])
        yield (f"encode --weights --src-vectors ({fmt})",
               ["encode", *weights, "--src-vectors", paths["src"], "--format", fmt])
        yield (f"transformer --weights, both vectors ({fmt})",
               ["transformer", *weights, "--src-vectors", paths["src"], "--tgt-vectors",
                paths["tgt"], "--causal", "--format", fmt])


def run(args: list[str], folder: str, interrupt_after_output: int | None = None):
    """(seconds, peak MiB, seconds to the first byte said, seconds from SIGINT to exit, code)."""
    env = dict(os.environ, COLUMNS="100", PYTHONPATH=ROOT)
    out_path = os.path.join(folder, "out.txt")
    start = time.perf_counter()
    first = {}
    with open(out_path, "wb") as out:
        child = subprocess.Popen([sys.executable, "-m", "tutor", *args], stdout=out,
                                 stderr=subprocess.PIPE, cwd=folder, env=env)

        def read_stderr():
            while True:
                chunk = child.stderr.read1(4096)
                if not chunk:
                    return
                now = time.perf_counter()
                first.setdefault("stderr", now - start)
                first["text"] = first.get("text", b"") + chunk
                if b"Interrupted" in first["text"] or b"Aborted" in first["text"]:
                    first.setdefault("interrupted", now)

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        stopped = None
        while True:                    # os.wait4: this child's own rusage (its peak RSS)
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
            if "stdout" not in first and os.path.getsize(out_path):
                first["stdout"] = time.perf_counter() - start
            if interrupt_after_output is not None and stopped is None and \
                    time.perf_counter() - start > interrupt_after_output:
                stopped = time.perf_counter()
                child.send_signal(signal.SIGINT)
        child.returncode = code = os.waitstatus_to_exitcode(status)
        reader.join(timeout=5)
    elapsed = time.perf_counter() - start
    if "stdout" not in first and os.path.getsize(out_path):
        first["stdout"] = elapsed
    peak = usage.ru_maxrss                                             # KiB on Linux
    said = min([first.get("stderr", elapsed), first.get("stdout", elapsed)])
    to_exit = None
    if stopped is not None:        # (seconds to the word "Interrupted"/"Aborted", to the exit)
        to_exit = (first.get("interrupted", float("nan")) - stopped, start + elapsed - stopped)
    return elapsed, peak / 1024, said, to_exit, code, first.get("text", b"")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", nargs="+", default=["rich", "json"])
    parser.add_argument("--only", nargs="*", default=None,
                        help="run only the cases whose name contains one of these words")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f} (a shared machine: times "
          f"rise with it)")
    with tempfile.TemporaryDirectory() as folder:
        paths = make_inputs(folder)
        print(f"--weights: d_model {limits.MAX_MODEL_DIM}, 16 heads, {limits.MAX_LAYERS}+"
              f"{limits.MAX_LAYERS} layers, ff {paths['ff']}, float32, {paths['mib']} MiB; "
              f"vectors {limits.MAX_BATCH}x{limits.MAX_SEQ}x{limits.MAX_MODEL_DIM}")
        print(f"{'command at its limits':<50} {'seconds':>7} {'peak MiB':>8} "
              f"{'first said':>10} {'exit':>4}")
        todo = list(cases(paths, args.formats))
        train = ["train", "--steps", "1000", "--batch-size", str(limits.MAX_RUN_BATCH), "--dim",
                 str(limits.MAX_RUN_DIM), "--heads", str(limits.MAX_HEADS), "--layers",
                 str(limits.MAX_RUN_LAYERS), "--ff", str(limits.MAX_RUN_FF), "--format", "plain",
                 "--output", os.path.join(folder, "t.npz")]
        todo.append(("train, every option at its maximum, Ctrl-C at 25 s", train))
        todo.append(("transformer --weights, Ctrl-C at 5 s", todo[3][1]))
        for name, command in todo:
            if args.only and not any(word in name for word in args.only):
                continue
            interrupt = 25.0 if command[0] == "train" else 5.0 if "Ctrl-C" in name else None
            seconds, peak, said, to_exit, code, text = run(command, folder, interrupt)
            note = (f"  Ctrl-C: 'Interrupted' after {to_exit[0]:.1f} s, exit after "
                    f"{to_exit[1]:.1f} s" if to_exit is not None else "")
            print(f"{name:<50} {seconds:>7.1f} {peak:>8.0f} {said:>9.1f}s {code:>4}{note}",
                  flush=True)
            if code not in (0, 130):
                print("   ", text.decode(errors="replace").strip().splitlines()[-1:])


if __name__ == "__main__":
    main()
