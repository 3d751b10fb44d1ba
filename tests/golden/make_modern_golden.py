"""Golden numbers for today's calculators (tutor rmsnorm, rope, gqa, ffn, quantize, flash),
made with transformers + torch + gguf (never tutor's run-time deps).

Run from the repository root in a venv holding torch, transformers and gguf (not tutor's):

    python tests/golden/make_modern_golden.py

Writes ``tests/golden/modern/modern.npz`` (float64 unless said otherwise):

* ``rms.x`` [2, 4], ``rms.g`` [4], ``rms.out`` [2, 4]: transformers' ``LlamaRMSNorm(4,
  eps=1e-5)`` with weight g on "1,2,3,4" and on "5,6,7,8" (computed in float32, as it does).
* ``rope{B}.q``, ``rope{B}.k`` [12, 8] (one query and one key repeated at positions 0..11),
  ``rope{B}.q_embed``, ``rope{B}.k_embed`` [12, 8]: ``LlamaRotaryEmbedding`` (head_dim 8,
  rope_theta B = 10000 and 100000) and ``apply_rotary_pos_emb`` (float32, halves layout).
* ``gqa.q`` [6, 3, 2], ``gqa.k``, ``gqa.v`` [2, 3, 2], ``gqa.k_repeated`` [6, 3, 2] (``repeat_kv``
  with 3), ``gqa.out`` [6, 3, 2]: torch's ``scaled_dot_product_attention`` on q and the
  repeated keys and values (float64).
* ``mlp.x`` [3, 4], ``mlp.gate``, ``mlp.up`` [4, 6], ``mlp.down`` [6, 4] ([in, out], tutor's
  layout), ``mlp.out`` [3, 4]: ``LlamaMLP`` (hidden 4, intermediate 6, silu) in float64.
* ``quant.x`` [32] float32 and ``quant.Q8_0``, ``quant.Q4_1``: the bytes of
  ``gguf.quants.quantize`` and ``quant.Q8_0.out``, ``quant.Q4_1.out`` [32] float32: the
  dequantized numbers (``gguf.quants.dequantize``).
* ``flash.q``, ``flash.k``, ``flash.v`` [5, 2], ``flash.out`` [5, 2]: torch's
  ``scaled_dot_product_attention`` (float64), the output online softmax must equal.
"""

from pathlib import Path

import numpy as np
import torch
from gguf import GGMLQuantizationType, quants
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import (LlamaMLP, LlamaRMSNorm,
                                                      LlamaRotaryEmbedding, apply_rotary_pos_emb,
                                                      repeat_kv)

OUT = Path(__file__).resolve().parent / "modern" / "modern.npz"


def main():
    rng = np.random.default_rng(23)
    out = {}
    # RMSNorm
    norm = LlamaRMSNorm(4, eps=1e-5)
    g = np.array([1.0, 2.0, 0.5, -1.0])
    x = np.array([[1.0, 2, 3, 4], [5, 6, 7, 8]])
    with torch.no_grad():
        norm.weight.copy_(torch.tensor(g, dtype=torch.float32))
        out["rms.out"] = norm(torch.tensor(x, dtype=torch.float32)).double().numpy()
    out["rms.x"], out["rms.g"] = x, g
    # RoPE
    q1, k1 = rng.integers(-10, 11, 8) / 10, rng.integers(-10, 11, 8) / 10
    for base in (10000, 100000):
        config = LlamaConfig(hidden_size=16, num_attention_heads=2, head_dim=8,
                             rope_theta=float(base))
        rope = LlamaRotaryEmbedding(config)
        q = torch.tensor(np.tile(q1, (12, 1)), dtype=torch.float32)[None, None]   # [1, 1, 12, 8]
        k = torch.tensor(np.tile(k1, (12, 1)), dtype=torch.float32)[None, None]
        cos, sin = rope(q, torch.arange(12)[None])
        q_embed, k_embed = apply_rotary_pos_emb(q, k, cos, sin)
        out[f"rope{base}.q"], out[f"rope{base}.k"] = np.tile(q1, (12, 1)), np.tile(k1, (12, 1))
        out[f"rope{base}.q_embed"] = q_embed[0, 0].double().numpy()
        out[f"rope{base}.k_embed"] = k_embed[0, 0].double().numpy()
    # grouped-query attention
    q = torch.tensor(rng.normal(size=(1, 6, 3, 2)))
    k, v = (torch.tensor(rng.normal(size=(1, 2, 3, 2))) for _ in range(2))
    kr, vr = repeat_kv(k, 3), repeat_kv(v, 3)
    out["gqa.q"], out["gqa.k"], out["gqa.v"] = q[0].numpy(), k[0].numpy(), v[0].numpy()
    out["gqa.k_repeated"] = kr[0].numpy()
    out["gqa.out"] = torch.nn.functional.scaled_dot_product_attention(q, kr, vr)[0].numpy()
    # SwiGLU
    mlp = LlamaMLP(LlamaConfig(hidden_size=4, intermediate_size=6, hidden_act="silu",
                                     num_attention_heads=1, num_key_value_heads=1)).double()
    gate, up, down = rng.normal(size=(4, 6)), rng.normal(size=(4, 6)), rng.normal(size=(6, 4))
    with torch.no_grad():
        mlp.gate_proj.weight.copy_(torch.tensor(gate.T))
        mlp.up_proj.weight.copy_(torch.tensor(up.T))
        mlp.down_proj.weight.copy_(torch.tensor(down.T))
        xm = rng.normal(size=(3, 4))
        out["mlp.out"] = mlp(torch.tensor(xm)).numpy()
    out["mlp.x"], out["mlp.gate"], out["mlp.up"], out["mlp.down"] = xm, gate, up, down
    # quantization
    xq = (rng.normal(size=32) * 0.3).astype(np.float32)
    out["quant.x"] = xq
    for kind in ("Q8_0", "Q4_1"):
        raw = quants.quantize(xq[None], GGMLQuantizationType[kind])
        out[f"quant.{kind}"] = raw.reshape(-1)
        out[f"quant.{kind}.out"] = quants.dequantize(raw, GGMLQuantizationType[kind]).reshape(-1)
    # online softmax's reference
    fq, fk, fv = (rng.normal(size=(5, 2)) for _ in range(3))
    out["flash.q"], out["flash.k"], out["flash.v"] = fq, fk, fv
    out["flash.out"] = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a)[None] for a in (fq, fk, fv)))[0].numpy()
    np.savez(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(out)} arrays)")


if __name__ == "__main__":
    main()
