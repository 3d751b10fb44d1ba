"""Generate the gradient golden files in tests/golden/grad/ with PyTorch autograd (float64).

Run from the repository root:

    pip install torch==2.13.0 && python tests/golden/make_grad_golden.py

Only this script imports torch. To stay small, each file holds the groups ``param``,
``grad`` and ``step3`` as one flat float64 vector each; ``meta.names[group]`` lists
[name, shape] in order (``tests/test_grad_golden.py`` unpacks them). Two kinds of file (``numpy.savez_compressed``, float64, int64
and bool arrays plus one 0-d unicode ``meta``; no pickles):

* ``seq2seq_*.npz``: the token model of ``tutor.nn.Seq2Seq`` rebuilt in torch
  (``nn.Embedding`` x sqrt(d_model) + sinusoidal PE, ``nn.Transformer(batch_first=True,
  dropout=0)``, ``nn.Linear`` generator), teacher forcing on ``in.tgt_ids``, loss
  ``F.cross_entropy(logits, labels, ignore_index=pad_id, label_smoothing=...)``.
  Keys: ``param.<name>`` (state dict), ``in.src_ids``, ``in.tgt_ids``, ``out.loss``,
  ``grad.<name>`` (``.grad`` after ``loss.backward()``), ``step3.<name>`` (the parameters
  after 3 optimizer steps on the same batch, starting from ``param.*``), ``out.losses`` (the
  loss before each of the 3 steps). ``meta.config`` holds the sizes, ``pad_id``,
  ``label_smoothing`` and the optimizer (name, lr or Noam schedule, betas, eps, weight_decay).
* ``transformer_*.npz``: ``nn.Transformer`` on float inputs with an upstream gradient.
  Keys: ``param.*``, ``in.src``, ``in.tgt``, ``in.grad_output``, ``in.<mask>``,
  ``out.output``, ``grad.<name>``, ``grad.src``, ``grad.tgt``.

Parameters and inputs are re-drawn at random (make_golden.randomize) and rounded to multiples
of 2^-12; every query keeps at least one key (PyTorch gives NaN for a fully masked row).
"""

from __future__ import annotations

import copy
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_golden import causal_bool, causal_float, quantize, randn, randomize  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent / "grad"
DTYPE = torch.float64


def activation_fn(name: str):
    return {"relu": "relu", "gelu": "gelu",
            "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}[name]


def sinusoidal(n: int, d: int) -> torch.Tensor:
    pos = torch.arange(n, dtype=DTYPE)[:, None]
    pair = torch.arange(d) // 2
    angles = pos / 10000.0 ** (2.0 * pair / d)
    even = torch.arange(d) % 2 == 0
    return torch.where(even, torch.sin(angles), torch.cos(angles))


class TorchSeq2Seq(nn.Module):
    """tutor.nn.Seq2Seq, in torch, with the same parameter names."""

    def __init__(self, vocab, d_model, nhead, n_enc, n_dec, d_ff, norm_first, activation):
        super().__init__()
        self.d_model = d_model
        self.src_embedding = nn.Embedding(vocab, d_model)
        self.tgt_embedding = nn.Embedding(vocab, d_model)
        self.transformer = nn.Transformer(d_model, nhead, n_enc, n_dec, d_ff, dropout=0.0,
                                          activation=activation_fn(activation),
                                          batch_first=True, norm_first=norm_first)
        self.generator = nn.Linear(d_model, vocab)

    def embed(self, table, ids):
        return table(ids) * math.sqrt(self.d_model) + sinusoidal(ids.shape[1], self.d_model)

    def loss(self, src_ids, tgt_ids, pad_id, label_smoothing):
        tgt_in, labels = tgt_ids[:, :-1], tgt_ids[:, 1:]
        src_pad = None if pad_id is None else src_ids == pad_id
        tgt_pad = None if pad_id is None else tgt_in == pad_id
        out = self.transformer(self.embed(self.src_embedding, src_ids),
                               self.embed(self.tgt_embedding, tgt_in),
                               tgt_mask=causal_bool(tgt_in.shape[1]),
                               src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad,
                               memory_key_padding_mask=src_pad)
        logits = self.generator(out)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                               ignore_index=-100 if pad_id is None else pad_id,
                               label_smoothing=label_smoothing)


def noam(d_model, warmup, factor):
    return lambda step: factor * d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def make_optimizer(params, spec):
    cls = {"Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}[spec["name"]]
    lr = spec["lr"] if isinstance(spec["lr"], float) else 1.0
    return cls(params, lr=lr, betas=tuple(spec["betas"]), eps=spec["eps"],
               weight_decay=spec["weight_decay"])


def np64(t: torch.Tensor) -> np.ndarray:
    a = t.detach().cpu().numpy()
    return a if a.dtype in (np.bool_, np.int64) else a.astype(np.float64)


def pack(arrays: dict) -> tuple[dict, dict]:
    """Every float64 group ``<group>.<name>`` (param, grad, step3) as one flat vector
    ``<group>`` (in the order of ``meta.names[group]``) to keep the archive small."""
    packed, names = {}, {}
    for key, a in arrays.items():
        group, _, rest = key.partition(".")
        if group in ("param", "grad", "step3"):
            names.setdefault(group, []).append([rest, list(a.shape)])
            packed.setdefault(group, []).append(a.reshape(-1))
    out = {k: v for k, v in arrays.items() if k.partition(".")[0] not in names}
    out.update({group: np.concatenate(parts) for group, parts in packed.items()})
    return out, names


def write(name: str, meta: dict, arrays: dict) -> Path:
    arrays, names = pack(arrays)
    meta = {**meta, "torch_version": torch.__version__, "names": names}
    arrays = {"meta": np.array(json.dumps(meta, sort_keys=True)), **arrays}
    for key, a in arrays.items():
        assert key == "meta" or a.dtype in (np.float64, np.int64, np.bool_), (key, a.dtype)
        if a.dtype == np.float64 and "mask" not in key:
            assert np.isfinite(a).all(), f"{name}: {key} is not finite"
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / f"{name}.npz"
    np.savez_compressed(path, **arrays)
    return path


def right_padded(gen, batch, length, vocab, pad_id, lengths, first=None):
    ids = torch.randint(1, vocab, (batch, length), generator=gen)
    if first is not None:
        ids[:, 0] = first
    if pad_id is not None:
        for b, n in enumerate(lengths):
            ids[b, n:] = pad_id
    return ids


def seq2seq_case(name, *, seed, vocab, d_model, nhead, n_enc, n_dec, d_ff, norm_first,
                 activation, pad_id, label_smoothing, optimizer, src_lengths, tgt_lengths,
                 batch=3, n_src=5, n_tgt=6):
    torch.manual_seed(seed)
    model = TorchSeq2Seq(vocab, d_model, nhead, n_enc, n_dec, d_ff, norm_first, activation).double()
    randomize(model)
    gen = torch.Generator().manual_seed(seed)
    src = right_padded(gen, batch, n_src, vocab, pad_id, src_lengths)
    tgt = right_padded(gen, batch, n_tgt, vocab, pad_id, tgt_lengths, first=1)   # 1 = BOS
    initial = {k: np64(v) for k, v in model.state_dict().items()}

    loss = model.loss(src, tgt, pad_id, label_smoothing)
    loss.backward()
    grads = {k: np64(p.grad) for k, p in model.named_parameters()}

    trained = copy.deepcopy(model)
    trained.load_state_dict({k: torch.from_numpy(v) for k, v in initial.items()})
    opt = make_optimizer(trained.parameters(), optimizer)
    schedule = None if isinstance(optimizer["lr"], float) else noam(*optimizer["lr"]["noam"])
    losses = []
    for step in range(1, 4):
        opt.zero_grad()
        step_loss = trained.loss(src, tgt, pad_id, label_smoothing)
        step_loss.backward()
        losses.append(step_loss.item())
        if schedule is not None:
            for group in opt.param_groups:
                group["lr"] = schedule(step)
        opt.step()

    config = {"vocab_size": vocab, "d_model": d_model, "nhead": nhead,
              "num_encoder_layers": n_enc, "num_decoder_layers": n_dec,
              "dim_feedforward": d_ff, "norm_first": norm_first, "activation": activation,
              "layer_norm_eps": 1e-5, "pad_id": pad_id, "label_smoothing": label_smoothing,
              "optimizer": optimizer}
    arrays = {f"param.{k}": v for k, v in initial.items()}
    arrays.update({"in.src_ids": np64(src), "in.tgt_ids": np64(tgt),
                   "out.loss": np.array(loss.item()), "out.losses": np.array(losses)})
    arrays.update({f"grad.{k}": v for k, v in grads.items()})
    arrays.update({f"step3.{k}": np64(v) for k, v in trained.state_dict().items()})
    return write(name, {"kind": "seq2seq", "config": config,
                        "description": f"Seq2Seq loss, gradients and 3 {optimizer['name']} steps"},
                 arrays)


def transformer_case(name, *, seed, d_model, nhead, n_enc, n_dec, d_ff, norm_first, activation,
                     masks, batch=2, n_src=5, n_tgt=4):
    torch.manual_seed(seed)
    model = nn.Transformer(d_model, nhead, n_enc, n_dec, d_ff, dropout=0.0,
                           activation=activation_fn(activation), batch_first=True,
                           norm_first=norm_first).double()
    randomize(model)
    src = randn(batch, n_src, d_model).requires_grad_()
    tgt = randn(batch, n_tgt, d_model).requires_grad_()
    grad_output = randn(batch, n_tgt, d_model)
    out = model(src, tgt, **masks)
    out.backward(grad_output)
    config = {"d_model": d_model, "nhead": nhead, "num_encoder_layers": n_enc,
              "num_decoder_layers": n_dec, "dim_feedforward": d_ff, "norm_first": norm_first,
              "activation": activation, "layer_norm_eps": 1e-5}
    arrays = {f"param.{k}": np64(v) for k, v in model.state_dict().items()}
    arrays.update({"in.src": np64(src), "in.tgt": np64(tgt), "in.grad_output": np64(grad_output),
                   "out.output": np64(out), "grad.src": np64(src.grad), "grad.tgt": np64(tgt.grad)})
    arrays.update({f"in.{k}": np64(v) for k, v in masks.items()})
    arrays.update({f"grad.{k}": np64(p.grad) for k, p in model.named_parameters()})
    return write(name, {"kind": "transformer", "config": config,
                        "description": "nn.Transformer forward and backward for grad_output"},
                 arrays)


# The paper's betas. eps is 1e-6, not its 1e-9: the key bias's gradient is zero in exact
# arithmetic (softmax ignores a constant added to a row), so both sides hold rounding noise
# ~1e-17 there, which Adam divides by sqrt(v) + eps; with eps = 1e-9 and the schedule's large
# rate that noise moves the weights by ~1e-8, differently in torch and here.
ADAM = {"name": "Adam", "betas": [0.9, 0.98], "eps": 1e-6, "weight_decay": 0.0}


def main():
    paths = [
        seq2seq_case("seq2seq_post_relu_1x1", seed=1, vocab=11, d_model=8, nhead=1, n_enc=1,
                     n_dec=1, d_ff=16, norm_first=False, activation="relu", pad_id=None,
                     label_smoothing=0.0, optimizer={**ADAM, "lr": 0.01},
                     src_lengths=None, tgt_lengths=None),
        seq2seq_case("seq2seq_pre_gelu_2x2_pad_smooth", seed=2, vocab=9, d_model=8, nhead=2,
                     n_enc=2, n_dec=2, d_ff=8, norm_first=True, activation="gelu", pad_id=0,
                     label_smoothing=0.1,
                     optimizer={**ADAM, "lr": {"noam": [8, 2, 1.0]}},
                     src_lengths=[5, 3, 2], tgt_lengths=[6, 4, 3]),
        seq2seq_case("seq2seq_post_gelutanh_3x4_pad_smooth", seed=3, vocab=7, d_model=4,
                     nhead=4, n_enc=3, n_dec=3, d_ff=6, norm_first=False,
                     activation="gelu_tanh", pad_id=0, label_smoothing=0.2,
                     optimizer={"name": "AdamW", "lr": 0.02, "betas": [0.9, 0.999],
                                "eps": 1e-8, "weight_decay": 0.1},
                     src_lengths=[4, 5, 1], tgt_lengths=[2, 6, 5]),
        seq2seq_case("seq2seq_pre_relu_2enc1dec_4h_pad", seed=4, vocab=9, d_model=8, nhead=4,
                     n_enc=2, n_dec=1, d_ff=8, norm_first=True, activation="relu", pad_id=0,
                     label_smoothing=0.0,
                     optimizer={"name": "Adam", "lr": 0.01, "betas": [0.9, 0.999],
                                "eps": 1e-8, "weight_decay": 0.05},
                     src_lengths=[3, 5, 4], tgt_lengths=[6, 3, 5]),
        transformer_case("transformer_post_gelu_2x2_masks", seed=5, d_model=8, nhead=2, n_enc=2,
                         n_dec=2, d_ff=12, norm_first=False, activation="gelu",
                         masks={"tgt_mask": causal_float(4),
                                "src_key_padding_mask": torch.tensor(
                                    [[False] * 5, [False] * 3 + [True] * 2]),
                                "memory_key_padding_mask": torch.tensor(
                                    [[False] * 5, [False] * 3 + [True] * 2])}),
        transformer_case("transformer_pre_relu_1x4_boolmask", seed=6, d_model=8, nhead=4,
                         n_enc=1, n_dec=1, d_ff=8, norm_first=True, activation="relu",
                         masks={"tgt_mask": causal_bool(4),
                                "memory_mask": torch.tensor([[False, True, False, True, False]] * 4),
                                "tgt_key_padding_mask": torch.tensor(
                                    [[False] * 3 + [True], [False] * 4])}),
    ]
    for path in paths:
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}"
              f" ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
