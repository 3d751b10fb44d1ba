"""Generate the golden reference files in tests/golden/ with PyTorch (float64).

Run from the repository root:

    pip install torch==2.13.0 && python tests/golden/make_golden.py

Only this script imports torch; the project itself never depends on it. Each output
``tests/golden/<name>.npz`` is a ``numpy.savez_compressed`` archive (float64 and bool arrays
only, no pickles) with these keys:

* ``meta``: 0-d unicode array holding JSON {"kind", "torch_version", "description", "config"}
* ``param.<name>``: every entry of the module's ``state_dict()``
* ``in.<name>``: the forward inputs and masks, exactly as passed to torch
* ``out.<name>``: the outputs (``output``; ``weights`` for attention; ``memory`` for the
  full transformer)

Every parameter (biases and layer-norm gains/biases included) is re-drawn at random so
that a mistake anywhere shows. Modules run in eval mode with dropout 0.0 and autograd
ENABLED, so PyTorch's inference fast path (nested tensors, zeros at padded positions)
is never taken.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

OUT_DIR = Path(__file__).resolve().parent
DTYPE = torch.float64
GRID = 2.0 ** -12      # parameters and inputs are random multiples of GRID: exact in float32
                       # too, and their zero low mantissa bits let the archives compress


def quantize(t: torch.Tensor) -> torch.Tensor:
    return torch.round(t / GRID) * GRID


# --------------------------------------------------------------------------- helpers

def randomize(module: nn.Module) -> None:
    """Re-draw every parameter: matrices ~ U(-sqrt(3/fan_in), +), biases ~ U(-0.5, 0.5),
    layer-norm gains ~ 1 + U(-0.3, 0.3), layer-norm biases ~ U(-0.5, 0.5); then round each
    to a multiple of GRID."""
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.LayerNorm):
                sub.weight.copy_(1.0 + torch.empty_like(sub.weight).uniform_(-0.3, 0.3))
                sub.bias.uniform_(-0.5, 0.5)
        norm_params = {id(p) for sub in module.modules() if isinstance(sub, nn.LayerNorm)
                       for p in sub.parameters(recurse=False)}
        for _, p in module.named_parameters():
            if id(p) in norm_params:
                continue
            if p.dim() == 1:
                p.uniform_(-0.5, 0.5)
            else:
                bound = math.sqrt(3.0 / p.shape[1])
                p.uniform_(-bound, bound)
        for p in module.parameters():
            p.copy_(quantize(p))


def randn(*shape: int) -> torch.Tensor:
    return quantize(torch.randn(*shape, dtype=DTYPE))


def padding_mask(batch: int, length: int, padded: dict[int, int]) -> torch.Tensor:
    """Bool [batch, length]; ``padded[b] = n`` marks the last n positions of item b."""
    mask = torch.zeros(batch, length, dtype=torch.bool)
    for b, n in padded.items():
        assert 0 < n < length, "never pad every position"
        mask[b, length - n:] = True
    return mask


def causal_bool(size: int) -> torch.Tensor:
    return torch.triu(torch.ones(size, size, dtype=torch.bool), diagonal=1)


def causal_float(size: int) -> torch.Tensor:
    return nn.Transformer.generate_square_subsequent_mask(size, dtype=DTYPE)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    a = t.detach().cpu().numpy()
    if a.dtype == np.bool_:
        return a.astype(np.bool_)
    return a.astype(np.float64)


def check_no_full_row(name: str, attn_mask=None, key_padding_mask=None, batch=None, L=None, S=None):
    """Refuse any (batch, query) whose keys are all disallowed (torch gives NaN there)."""
    blocked = torch.zeros(batch, L, S, dtype=torch.bool)
    if attn_mask is not None:
        m = attn_mask if attn_mask.dtype == torch.bool else torch.isneginf(attn_mask)
        blocked = blocked | (m if m.dim() == 3 else m.unsqueeze(0))
    if key_padding_mask is not None:
        blocked = blocked | key_padding_mask.unsqueeze(1)
    assert not blocked.all(dim=-1).any(), f"{name}: a query row has every key masked"


def save(name: str, kind: str, description: str, config: dict, module: nn.Module,
         inputs: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor]) -> Path:
    meta = {"kind": kind, "torch_version": torch.__version__, "description": description,
            "config": config}
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    for key, value in module.state_dict().items():
        arrays[f"param.{key}"] = to_numpy(value)
    for key, value in inputs.items():
        if value is not None:
            arrays[f"in.{key}"] = to_numpy(value)
    for key, value in outputs.items():
        arrays[f"out.{key}"] = to_numpy(value)
    for key, a in arrays.items():
        assert a.dtype in (np.float64, np.bool_) or key == "meta", (key, a.dtype)
        if a.dtype == np.float64 and not key.endswith("mask"):
            assert np.isfinite(a).all(), f"{name}: {key} is not finite"
    path = OUT_DIR / f"{name}.npz"
    np.savez_compressed(path, **arrays)
    return path


def prepare(module: nn.Module, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    module = module.double()
    randomize(module)
    module.eval()
    return module


def layer_config(d_model, nhead, dim_feedforward, norm_first, activation, eps=1e-5):
    return {"d_model": d_model, "nhead": nhead, "dim_feedforward": dim_feedforward,
            "norm_first": norm_first, "activation": activation, "layer_norm_eps": eps,
            "batch_first": True, "dropout": 0.0}


# --------------------------------------------------------------------------- the files

def mha_self_padding():
    E, H, B, L = 8, 2, 2, 5
    m = prepare(nn.MultiheadAttention(E, H, dropout=0.0, batch_first=True), 1001)
    x = randn(B, L, E)
    kpm = padding_mask(B, L, {1: 2})
    check_no_full_row("mha_self_padding", None, kpm, B, L, L)
    out, w = m(x, x, x, key_padding_mask=kpm, need_weights=True, average_attn_weights=False)
    return save("mha_self_padding", "mha",
                "Self-attention (query=key=value), bool key_padding_mask: last 2 keys of item 1.",
                {"embed_dim": E, "num_heads": H, "batch_first": True, "dropout": 0.0}, m,
                {"query": x, "key": x, "value": x, "key_padding_mask": kpm},
                {"output": out, "weights": w})


def mha_cross_boolmask():
    E, H, B, L, S = 12, 4, 3, 3, 6
    m = prepare(nn.MultiheadAttention(E, H, dropout=0.0, batch_first=True), 1002)
    q, k, v = randn(B, L, E), randn(B, S, E), randn(B, S, E)
    mask = torch.zeros(L, S, dtype=torch.bool)
    mask[0, [1, 4]] = True
    mask[1, 0] = True
    mask[2, [2, 3, 5]] = True
    check_no_full_row("mha_cross_boolmask", mask, None, B, L, S)
    out, w = m(q, k, v, attn_mask=mask, need_weights=True, average_attn_weights=False)
    return save("mha_cross_boolmask", "mha",
                "Cross-attention, distinct key and value, bool attn_mask [3, 6] (True = blocked).",
                {"embed_dim": E, "num_heads": H, "batch_first": True, "dropout": 0.0}, m,
                {"query": q, "key": k, "value": v, "attn_mask": mask},
                {"output": out, "weights": w})


def encoder_layer_post_relu():
    cfg = layer_config(8, 2, 16, False, "relu")
    B, L = 2, 5
    m = prepare(nn.TransformerEncoderLayer(cfg["d_model"], cfg["nhead"], cfg["dim_feedforward"],
                                           dropout=0.0, activation="relu", batch_first=True,
                                           norm_first=False), 1003)
    src = randn(B, L, cfg["d_model"])
    kpm = padding_mask(B, L, {0: 1, 1: 3})
    check_no_full_row("encoder_layer_post_relu", None, kpm, B, L, L)
    out = m(src, src_key_padding_mask=kpm)
    return save("encoder_layer_post_relu", "encoder_layer",
                "Post-norm ReLU encoder layer, bool src_key_padding_mask.", cfg, m,
                {"src": src, "src_key_padding_mask": kpm}, {"output": out})


def encoder_layer_pre_gelu_causal():
    cfg = layer_config(12, 3, 20, True, "gelu", 1e-6)
    B, L = 2, 5
    m = prepare(nn.TransformerEncoderLayer(cfg["d_model"], cfg["nhead"], cfg["dim_feedforward"],
                                           dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True, layer_norm_eps=1e-6), 1004)
    src = randn(B, L, cfg["d_model"])
    mask = causal_float(L)
    check_no_full_row("encoder_layer_pre_gelu_causal", mask, None, B, L, L)
    out = m(src, src_mask=mask)
    return save("encoder_layer_pre_gelu_causal", "encoder_layer",
                "Pre-norm GELU encoder layer, eps 1e-6, causal float src_mask (0 / -inf).", cfg, m,
                {"src": src, "src_mask": mask}, {"output": out})


def decoder_layer_post_relu():
    cfg = layer_config(8, 2, 16, False, "relu")
    B, T, S = 2, 4, 6
    m = prepare(nn.TransformerDecoderLayer(cfg["d_model"], cfg["nhead"], cfg["dim_feedforward"],
                                           dropout=0.0, activation="relu", batch_first=True,
                                           norm_first=False), 1005)
    tgt, memory = randn(B, T, cfg["d_model"]), randn(B, S, cfg["d_model"])
    tgt_mask = causal_bool(T)
    mkpm = padding_mask(B, S, {0: 2, 1: 1})
    check_no_full_row("decoder_layer_post_relu self", tgt_mask, None, B, T, T)
    check_no_full_row("decoder_layer_post_relu cross", None, mkpm, B, T, S)
    out = m(tgt, memory, tgt_mask=tgt_mask, memory_key_padding_mask=mkpm)
    return save("decoder_layer_post_relu", "decoder_layer",
                "Post-norm ReLU decoder layer, causal bool tgt_mask, bool memory_key_padding_mask.",
                cfg, m, {"tgt": tgt, "memory": memory, "tgt_mask": tgt_mask,
                         "memory_key_padding_mask": mkpm}, {"output": out})


def decoder_layer_pre_gelu():
    cfg = layer_config(8, 4, 12, True, "gelu")
    B, T, S = 2, 4, 5
    m = prepare(nn.TransformerDecoderLayer(cfg["d_model"], cfg["nhead"], cfg["dim_feedforward"],
                                           dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True), 1006)
    tgt, memory = randn(B, T, cfg["d_model"]), randn(B, S, cfg["d_model"])
    tkpm = padding_mask(B, T, {1: 1})
    memory_mask = torch.zeros(T, S, dtype=DTYPE)
    memory_mask[0, [0, 3]] = -math.inf
    memory_mask[1, 4] = -math.inf
    memory_mask[2, [1, 2]] = 0.75          # a finite additive bias as well
    memory_mask[3, [0, 1, 2, 3]] = -math.inf
    memory_mask[3, 4] = -1.5
    check_no_full_row("decoder_layer_pre_gelu self", None, tkpm, B, T, T)
    check_no_full_row("decoder_layer_pre_gelu cross", memory_mask, None, B, T, S)
    out = m(tgt, memory, memory_mask=memory_mask, tgt_key_padding_mask=tkpm)
    return save("decoder_layer_pre_gelu", "decoder_layer",
                "Pre-norm GELU decoder layer, bool tgt_key_padding_mask, additive float "
                "memory_mask with -inf and finite entries.",
                cfg, m, {"tgt": tgt, "memory": memory, "memory_mask": memory_mask,
                         "tgt_key_padding_mask": tkpm}, {"output": out})


def transformer(name, seed, description, cfg, B, S, T, masks):
    m = prepare(nn.Transformer(d_model=cfg["d_model"], nhead=cfg["nhead"],
                               num_encoder_layers=cfg["num_encoder_layers"],
                               num_decoder_layers=cfg["num_decoder_layers"],
                               dim_feedforward=cfg["dim_feedforward"], dropout=0.0,
                               activation=cfg["activation"], batch_first=True,
                               norm_first=cfg["norm_first"],
                               layer_norm_eps=cfg["layer_norm_eps"]), seed)
    src, tgt = randn(B, S, cfg["d_model"]), randn(B, T, cfg["d_model"])
    g = masks.get
    check_no_full_row(f"{name} encoder", g("src_mask"), g("src_key_padding_mask"), B, S, S)
    check_no_full_row(f"{name} self", g("tgt_mask"), g("tgt_key_padding_mask"), B, T, T)
    check_no_full_row(f"{name} cross", g("memory_mask"), g("memory_key_padding_mask"), B, T, S)
    out = m(src, tgt, **masks)
    memory = m.encoder(src, mask=g("src_mask"), src_key_padding_mask=g("src_key_padding_mask"))
    return save(name, "transformer", description, cfg, m, {"src": src, "tgt": tgt, **masks},
                {"output": out, "memory": memory})


def transformer_config(d_model, nhead, n_enc, n_dec, ff, norm_first, activation, eps=1e-5):
    cfg = layer_config(d_model, nhead, ff, norm_first, activation, eps)
    cfg.update(num_encoder_layers=n_enc, num_decoder_layers=n_dec)
    return cfg


def transformer_post_relu_2x1():
    B, S, T = 2, 5, 4
    kpm = padding_mask(B, S, {1: 2})
    return transformer("transformer_post_relu_2x1", 1007,
                       "nn.Transformer post-norm ReLU, 2 encoder / 1 decoder layers, causal bool "
                       "tgt_mask, bool src_key_padding_mask = memory_key_padding_mask.",
                       transformer_config(8, 2, 2, 1, 16, False, "relu"), B, S, T,
                       {"tgt_mask": causal_bool(T), "src_key_padding_mask": kpm,
                        "memory_key_padding_mask": kpm.clone()})


def transformer_pre_gelu_3x3():
    B, S, T = 3, 6, 3
    return transformer("transformer_pre_gelu_3x3", 1008,
                       "nn.Transformer pre-norm GELU, 3 / 3 layers, causal float tgt_mask, "
                       "bool tgt_key_padding_mask.",
                       transformer_config(12, 4, 3, 3, 24, True, "gelu"), B, S, T,
                       {"tgt_mask": causal_float(T),
                        "tgt_key_padding_mask": padding_mask(B, T, {0: 1, 2: 2})})


def transformer_1head_1x2():
    return transformer("transformer_1head_1x2", 1009,
                       "nn.Transformer post-norm ReLU, one head, 1 encoder / 2 decoder layers, "
                       "batch 1, no masks.",
                       transformer_config(4, 1, 1, 2, 8, False, "relu"), 1, 3, 7, {})


ALL = [mha_self_padding, mha_cross_boolmask, encoder_layer_post_relu,
       encoder_layer_pre_gelu_causal, decoder_layer_post_relu, decoder_layer_pre_gelu,
       transformer_post_relu_2x1, transformer_pre_gelu_3x3, transformer_1head_1x2]


def main() -> None:
    torch.set_grad_enabled(True)          # never the inference fast path
    for make in ALL:
        path = make()
        print(f"{path.relative_to(OUT_DIR.parent.parent)}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
