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
  full transformer; ``output_unbatched`` for a second, unbatched call of an encoder/decoder)

``kind`` is mha, encoder_layer, decoder_layer, encoder (nn.TransformerEncoder), decoder
(nn.TransformerDecoder) or transformer; ``config["call"]`` holds the ``*is_causal`` hints passed.

Every parameter (biases and layer-norm gains/biases included) is re-drawn at random so
that a mistake anywhere shows. Modules run in eval mode with dropout 0.0 and autograd
ENABLED, so PyTorch's inference fast path (nested tensors, zeros at padded positions)
is never taken.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

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
                if sub.bias is not None:                   # LayerNorm(bias=False)
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


# ----------------------------------------------------------- parity beyond nn.Transformer's defaults
# (issue 12): every option a state dict or a call can carry, each in a small file.

def mha_bias_kv_zero_attn_kdim():
    E, H, B, L, S, KDIM, VDIM = 8, 2, 2, 3, 4, 5, 6
    m = prepare(nn.MultiheadAttention(E, H, dropout=0.0, batch_first=True, add_bias_kv=True,
                                      add_zero_attn=True, kdim=KDIM, vdim=VDIM), 1010)
    q, k, v = randn(B, L, E), randn(B, S, KDIM), randn(B, S, VDIM)
    mask = torch.zeros(L, S, dtype=torch.bool)
    mask[0, [0, 3]] = True
    mask[2, :] = True          # every real key blocked: bias_k and the zero key remain
    kpm = padding_mask(B, S, {1: 1})
    out, w = m(q, k, v, attn_mask=mask, key_padding_mask=kpm, need_weights=True,
               average_attn_weights=True)
    return save("mha_bias_kv_zero_attn_kdim", "mha",
                "add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=6 (q/k/v_proj_weight), bool "
                "attn_mask with a row blocking every real key, bool key_padding_mask, weights "
                "averaged over heads.",
                {"embed_dim": E, "num_heads": H, "batch_first": True, "dropout": 0.0,
                 "add_zero_attn": True, "average_attn_weights": True}, m,
                {"query": q, "key": k, "value": v, "attn_mask": mask, "key_padding_mask": kpm},
                {"output": out, "weights": w})


def mha_nobias_seqfirst_causal():
    E, H, B, L = 6, 3, 2, 4
    m = prepare(nn.MultiheadAttention(E, H, dropout=0.0, bias=False, batch_first=False), 1011)
    x = randn(L, B, E)                                  # [seq, batch, d]: PyTorch's default layout
    mask = causal_bool(L)
    out, w = m(x, x, x, attn_mask=mask, is_causal=True, need_weights=True,
               average_attn_weights=False)
    return save("mha_nobias_seqfirst_causal", "mha",
                "bias=False (no in_proj_bias, no out_proj.bias), batch_first=False, causal bool "
                "attn_mask with is_causal=True, weights per head.",
                {"embed_dim": E, "num_heads": H, "batch_first": False, "dropout": 0.0,
                 "is_causal": True}, m,
                {"query": x, "key": x, "value": x, "attn_mask": mask}, {"output": out, "weights": w})


def mha_unbatched_float_masks():
    E, H, L, S = 8, 2, 3, 5
    m = prepare(nn.MultiheadAttention(E, H, dropout=0.0, batch_first=True), 1012)
    q, kv = randn(L, E), randn(S, E)
    kpm = torch.tensor([0.0, 0.0, -0.75, 0.0, -math.inf], dtype=DTYPE)   # 1-D, float, unbatched
    mask = torch.zeros(H, L, S, dtype=DTYPE)                              # [heads, L, S]
    mask[0, 1, 0] = -math.inf
    mask[1, 2, [1, 2]] = 0.5
    out, w = m(q, kv, kv, attn_mask=mask, key_padding_mask=kpm, need_weights=True,
               average_attn_weights=True)
    return save("mha_unbatched_float_masks", "mha",
                "Unbatched query [3, 8] and key=value [5, 8], 1-D float key_padding_mask with a "
                "finite entry, 3-D float attn_mask [heads, L, S], weights averaged.",
                {"embed_dim": E, "num_heads": H, "batch_first": True, "dropout": 0.0,
                 "average_attn_weights": True}, m,
                {"query": q, "key": kv, "value": kv, "attn_mask": mask, "key_padding_mask": kpm},
                {"output": out, "weights": w})


def stack_config(d_model, nhead, num_layers, ff, norm_first, activation, *, bias, batch_first,
                 norm, eps=1e-5, call=None):
    cfg = layer_config(d_model, nhead, ff, norm_first, activation, eps)
    cfg.update(num_layers=num_layers, bias=bias, batch_first=batch_first, final_norm=norm,
               call=call or {})
    return cfg


def make_activation(name, module=True):
    """PyTorch's spelling of an activation: "relu"/"gelu" as strings (its only string names);
    "gelu_tanh" as ``nn.GELU(approximate="tanh")`` or, with ``module=False``, as a function.
    nn.TransformerDecoder/nn.Transformer need the function: the copies they make of a decoder
    layer whose activation is a module compute ReLU (TransformerDecoderLayer.__setstate__ sets
    F.relu when deep-copied, and that attribute hides the module)."""
    if name != "gelu_tanh":
        return name
    return nn.GELU(approximate="tanh") if module else functools.partial(F.gelu, approximate="tanh")


def encoder_seqfirst_nobias_gelu_tanh():
    cfg = stack_config(8, 2, 2, 16, False, "gelu_tanh", bias=False, batch_first=False, norm=True,
                       call={"is_causal": True})
    S, B, E = 5, 2, 8
    layer = nn.TransformerEncoderLayer(E, 2, 16, dropout=0.0, activation=make_activation("gelu_tanh"),
                                       batch_first=False, bias=False)
    m = prepare(nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E, bias=False),
                                      enable_nested_tensor=False), 1013)
    src = randn(S, B, E)
    mask = causal_float(S)
    kpm = padding_mask(B, S, {1: 2})
    out = m(src, mask=mask, src_key_padding_mask=kpm, is_causal=True)
    src1 = src[:, 1]                                    # item 1 alone, unbatched, 1-D padding mask
    out1 = m(src1, mask=mask, src_key_padding_mask=kpm[1], is_causal=True)
    return save("encoder_seqfirst_nobias_gelu_tanh", "encoder",
                "nn.TransformerEncoder(bias=False layers and final LayerNorm(bias=False), "
                "batch_first=False, GELU(approximate='tanh'), 2 layers): causal float mask with "
                "is_causal=True and bool src_key_padding_mask; then item 1 unbatched with a 1-D "
                "padding mask.", cfg, m,
                {"src": src, "mask": mask, "src_key_padding_mask": kpm, "src_unbatched": src1,
                 "src_key_padding_mask_unbatched": kpm[1]},
                {"output": out, "output_unbatched": out1})


def encoder_prenorm_nonorm_fully_masked():
    cfg = stack_config(4, 2, 1, 8, True, "relu", bias=True, batch_first=True, norm=False)
    B, S, E = 2, 3, 4
    layer = nn.TransformerEncoderLayer(E, 2, 8, dropout=0.0, batch_first=True, norm_first=True)
    m = prepare(nn.TransformerEncoder(layer, 1, enable_nested_tensor=False), 1014)
    src = randn(B, S, E)
    mask = torch.zeros(S, S, dtype=torch.bool)
    mask[1, :] = True                                   # query 1 may see no key at all
    out = m(src, mask=mask)
    return save("encoder_prenorm_nonorm_fully_masked", "encoder",
                "nn.TransformerEncoder without a final norm (PyTorch's default), pre-norm, one "
                "query whose keys are all masked: PyTorch's standard path gives that query an "
                "attention output of zero, so its row is finite.", cfg, m,
                {"src": src, "mask": mask}, {"output": out})


def decoder_nonorm_causal_hints():
    cfg = stack_config(8, 2, 2, 12, True, "gelu", bias=True, batch_first=True, norm=False,
                       call={"tgt_is_causal": True, "memory_is_causal": True})
    B, T, S, E = 2, 3, 5, 8
    layer = nn.TransformerDecoderLayer(E, 2, 12, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
    m = prepare(nn.TransformerDecoder(layer, 2), 1015)
    tgt, memory = randn(B, T, E), randn(B, S, E)
    tgt_mask = causal_float(T)
    memory_mask = torch.triu(torch.ones(T, S, dtype=torch.bool), diagonal=1)   # causal, [T, S]
    out = m(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_is_causal=True,
            memory_is_causal=True)
    mkpm = torch.tensor([False, False, False, True, True])
    out1 = m(tgt[0], memory[0], tgt_mask=tgt_mask, memory_key_padding_mask=mkpm,
             tgt_is_causal=True)
    return save("decoder_nonorm_causal_hints", "decoder",
                "nn.TransformerDecoder without a final norm, pre-norm GELU, 2 layers: causal "
                "tgt_mask and causal [T, S] memory_mask with tgt_is_causal and memory_is_causal; "
                "then item 0 unbatched with a 1-D memory_key_padding_mask.", cfg, m,
                {"tgt": tgt, "memory": memory, "tgt_mask": tgt_mask, "memory_mask": memory_mask,
                 "tgt_unbatched": tgt[0], "memory_unbatched": memory[0],
                 "memory_key_padding_mask_unbatched": mkpm},
                {"output": out, "output_unbatched": out1})


def transformer_nobias_seqfirst():
    S, T, B, E = 4, 3, 2, 8
    m = prepare(nn.Transformer(d_model=E, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=16, dropout=0.0, batch_first=False, bias=False,
                               activation=make_activation("gelu_tanh", module=False)), 1016)
    src, tgt = randn(S, B, E), randn(T, B, E)
    masks = {"tgt_mask": causal_bool(T), "src_key_padding_mask": padding_mask(B, S, {0: 1})}
    out = m(src, tgt, **masks, tgt_is_causal=True)
    memory = m.encoder(src, src_key_padding_mask=masks["src_key_padding_mask"])
    cfg = transformer_config(E, 2, 1, 1, 16, False, "gelu_tanh")
    cfg.update(batch_first=False, bias=False, call={"tgt_is_causal": True})
    return save("transformer_nobias_seqfirst", "transformer",
                "nn.Transformer(bias=False, batch_first=False, GELU(approximate='tanh')): inputs "
                "[seq, batch, d], causal bool tgt_mask with tgt_is_causal=True, bool "
                "src_key_padding_mask (not given to the decoder).", cfg, m,
                {"src": src, "tgt": tgt, **masks}, {"output": out, "memory": memory})


ALL = [mha_self_padding, mha_cross_boolmask, encoder_layer_post_relu,
       encoder_layer_pre_gelu_causal, decoder_layer_post_relu, decoder_layer_pre_gelu,
       transformer_post_relu_2x1, transformer_pre_gelu_3x3, transformer_1head_1x2,
       mha_bias_kv_zero_attn_kdim, mha_nobias_seqfirst_causal, mha_unbatched_float_masks,
       encoder_seqfirst_nobias_gelu_tanh, encoder_prenorm_nonorm_fully_masked,
       decoder_nonorm_causal_hints, transformer_nobias_seqfirst]


def main() -> None:
    torch.set_grad_enabled(True)          # never the inference fast path
    for make in ALL:
        path = make()
        print(f"{path.relative_to(OUT_DIR.parent.parent)}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
