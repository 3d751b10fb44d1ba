"""One training step (forward + backward + Adam) of a Seq2Seq model: tutor's NumPy engine, and
the same model in PyTorch (autograd + torch.optim.Adam, same weights) when torch is installed,
timed alternately in the same run.

    python benchmarks/bench_train_step.py [--repeats 15] [--batch 32] [--seq 32] [--threads N]

``--threads N`` limits both sides to N threads (OpenBLAS/OpenMP through the environment,
set before NumPy is imported, and ``torch.set_num_threads``); by default each uses its own
default (all cores).

Configuration (issue 14, section 5): d_model 256, 4 heads, feed-forward 1024, 2 + 2 layers,
vocabulary 1000, batch 32 x 32 tokens (source 32, decoder input 32), float32, ReLU, post-norm,
padding id 0 with a few padded positions, Adam(lr=1e-4). Prints the median (min, max) time per
step of each and the ratio tutor / torch of the medians, and checks that both start from the
same loss and how far apart the weights are after that first step (see weight_drift).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

if __name__ == "__main__" and "--threads" in sys.argv:              # before NumPy starts its pool
    _n = sys.argv[sys.argv.index("--threads") + 1]
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _n

import numpy as np  # noqa: E402

from tutor.nn import Seq2Seq  # noqa: E402
from tutor.nn.optim import Adam  # noqa: E402


def make_batch(rng, batch, seq, vocab, pad_id=0):
    src = rng.integers(1, vocab, (batch, seq))                        # [B, S]
    tgt = rng.integers(1, vocab, (batch, seq + 1))                     # [B, T+1]: BOS .. labels
    for b in range(0, batch, 4):                                       # every 4th row padded
        src[b, seq - 1 - b % 7:] = pad_id
        tgt[b, seq - b % 5:] = pad_id
    return src, tgt


def torch_runner(model: Seq2Seq, src, tgt, pad_id, lr, threads=None):
    import torch
    if threads:
        torch.set_num_threads(threads)
    import torch.nn.functional as F
    from torch import nn

    cfg = model.config
    torch.manual_seed(0)

    class TorchSeq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_embedding = nn.Embedding(model.vocab_size, cfg.d_model)
            self.tgt_embedding = nn.Embedding(model.vocab_size, cfg.d_model)
            self.transformer = nn.Transformer(
                cfg.d_model, cfg.nhead, cfg.num_encoder_layers, cfg.num_decoder_layers,
                cfg.dim_feedforward, dropout=0.0, activation=cfg.activation, batch_first=True,
                norm_first=cfg.norm_first, layer_norm_eps=cfg.layer_norm_eps)
            self.generator = nn.Linear(cfg.d_model, model.vocab_size)

    net = TorchSeq2Seq()
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    from tutor.nn.posenc import sinusoidal_encoding
    pe = torch.from_numpy(sinusoidal_encoding(src.shape[1] + tgt.shape[1], cfg.d_model,
                                              dtype=np.float32))
    src_t, tgt_t = torch.from_numpy(src), torch.from_numpy(tgt)
    tgt_in, labels = tgt_t[:, :-1], tgt_t[:, 1:]
    src_pad, tgt_pad = src_t == pad_id, tgt_in == pad_id
    causal = torch.triu(torch.ones(tgt_in.shape[1], tgt_in.shape[1], dtype=torch.bool), 1)
    scale = math.sqrt(cfg.d_model)
    opt = torch.optim.Adam(net.parameters(), lr=lr)

    def step():
        opt.zero_grad()
        x = net.src_embedding(src_t) * scale + pe[: src_t.shape[1]]
        y = net.tgt_embedding(tgt_in) * scale + pe[: tgt_in.shape[1]]
        out = net.transformer(x, y, tgt_mask=causal, src_key_padding_mask=src_pad,
                              tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=src_pad)
        logits = net.generator(out)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                               ignore_index=pad_id)
        loss.backward()
        opt.step()
        return loss.item()

    step.params = lambda: {k: v.detach().numpy() for k, v in net.state_dict().items()}
    return step, torch.__version__, torch.get_num_threads()


def weight_drift(ours, theirs, lr):
    """How far the weights are apart after the first step. Adam scales every entry by its own
    gradient's size, so an entry whose gradient is near float32 rounding (~1e-9) may move by a
    different fraction of lr on each side; over more steps such differences grow, as they do
    between float32 and float64 runs of the same code."""
    drift = {k: float(np.max(np.abs(v - theirs[k]))) for k, v in ours.items()}
    worst = max(drift, key=drift.get)
    big = sum(int(np.sum(np.abs(v - theirs[k]) > lr / 10)) for k, v in ours.items())
    total = sum(v.size for v in ours.values())
    return (f"after one step each, largest |weight difference| {drift[worst]:.1e} ({worst}); "
            f"{big} of {total:,} weights differ by > lr/10")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    vocab, pad_id, lr = 1000, 0, 1e-4
    model = Seq2Seq.random(vocab, 256, 4, 2, 1024, seed=0, dtype=np.float32)
    src, tgt = make_batch(np.random.default_rng(0), args.batch, args.seq, vocab, pad_id)
    opt = Adam(model.params, lr=lr)

    def tutor_step():
        loss, grads = model.loss_and_grads(src, tgt, pad_id=pad_id)
        opt.step(grads)
        return float(loss)

    runners = {}
    try:
        torch_step, version, threads = torch_runner(model, src, tgt, pad_id, lr, args.threads)
        runners["torch " + version + f" ({threads} threads)"] = torch_step
    except ImportError:
        print("torch is not installed: timing tutor only")
    runners = {"tutor (NumPy)": tutor_step, **runners}

    first = {name: run() for name, run in runners.items()}             # warm-up, same start
    if len(first) == 2:
        a, b = first.values()
        print(f"first-step loss: tutor {a:.6f}, torch {b:.6f} (|diff| {abs(a - b):.2e})")
        print(weight_drift(model.params, list(runners.values())[1].params(), lr))
    for run in runners.values():
        run()
    times = {name: [] for name in runners}
    for _ in range(args.repeats):                                      # alternately, one run
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    tokens = args.batch * args.seq
    print(f"one training step: d_model 256, 4 heads, ff 1024, 2+2 layers, vocab {vocab}, "
          f"batch {args.batch} x {args.seq} tokens, float32, {args.repeats} repeats")
    medians = {}
    for name, ts in times.items():
        medians[name] = statistics.median(ts)
        print(f"  {name:28s} median {medians[name] * 1e3:8.1f} ms  (min {min(ts) * 1e3:.1f}, "
              f"max {max(ts) * 1e3:.1f})  {tokens / medians[name]:,.0f} tokens/s")
    if len(medians) == 2:
        ours, theirs = medians.values()
        print(f"  ratio tutor / torch: {ours / theirs:.2f}x (target <= 1.2x)")

    assert all(v.dtype == np.float32 for v in model.params.values())


if __name__ == "__main__":
    main()
