"""Loading a llama model (tutor.nn.llama.Llama) from a GGUF file or a Hugging Face folder.

* GGUF (llama.cpp): read with :func:`tutor.gguf.read_gguf`, config from the ``llama.*``
  metadata, tensors dequantized (F32, F16, Q8_0, Q4_1) straight into the fused, transposed
  float32 matrices the engine multiplies by (x W, W [in, out];
  ``nn.quant.dequantize_transposed``). llama.cpp's converter permuted the rows of W_Q and
  W_K of each head so that RoPE rotates adjacent pairs (2i, 2i+1): the model gets
  ``rope_layout="pairs"`` and no row is moved back.
* Hugging Face (``config.json`` with ``model_type: llama``, ``model.safetensors``): the
  halves layout (i, i + d/2) of ``rotate_half``.

Every tensor name is used or refused, and every shape checked against the config.
Raises TutorError naming the file and the fault.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from ..errors import TutorError
from ..files import read_json
from ..limits import MAX_CONFIG_BYTES
from ..nn.llama import Llama, LlamaConfig, LlamaLayer

# GGUF tensor name (after "blk.{i}.") -> the Hugging Face name (after "model.layers.{i}.")
LAYER_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}


def _fail(path, message: str) -> TutorError:
    return TutorError(f"{os.fspath(path)}: {message}")


def _shapes(cfg: LlamaConfig) -> dict[str, tuple[int, ...]]:
    """NumPy shapes ([out, in]) of one layer's tensors, by GGUF name."""
    d, dh = cfg.d_model, cfg.d_head
    return {"attn_norm.weight": (d,), "attn_q.weight": (cfg.n_head * dh, d),
            "attn_k.weight": (cfg.n_kv_head * dh, d), "attn_v.weight": (cfg.n_kv_head * dh, d),
            "attn_output.weight": (d, cfg.n_head * dh), "ffn_norm.weight": (d,),
            "ffn_gate.weight": (cfg.d_ff, d), "ffn_up.weight": (cfg.d_ff, d),
            "ffn_down.weight": (d, cfg.d_ff)}


def halves_columns(n_heads: int, d_head: int) -> np.ndarray:
    """Column order that takes W_Q or W_K [E, heads d_head] from llama.cpp's layout (RoPE
    pairs 2i, 2i + 1) to Hugging Face's (pairs i, i + d/2): per head, the even columns then
    the odd ones. ``w[:, halves_columns(h, d)]``: per head, the inverse of
    :func:`tutor.nn.modern.halves_to_pairs` (the one copy of the permutation)."""
    from tutor.nn.modern import halves_to_pairs

    order = np.argsort(halves_to_pairs(d_head))                        # evens, then odds
    return (np.arange(n_heads)[:, None] * d_head + order[None, :]).ravel()


def _assemble(cfg: LlamaConfig, vector, put, path, *, to_halves: bool = False) -> Llama:
    """Build the model. ``vector(name)`` returns a 1-D float32 tensor by GGUF name;
    ``put(name, dst)`` writes the [out, in] matrix ``name`` transposed into ``dst`` [in, out]
    (a block of columns of a fused matrix, or the [in, out] view of an [out, in] block).
    Shapes were checked before. ``to_halves``: W_Q's and W_K's columns reordered from
    llama.cpp's RoPE layout to Hugging Face's (:func:`halves_columns`).

    Every layer's matrices are views of one buffer, in the order a step reads them (W_QKV,
    W_O, W_gate_up, W_down of layer 0, then of layer 1, ...): one large allocation gets huge
    pages from the kernel (NumPy asks for them above 4 MB), so a decoding step, which reads
    every matrix once, streams them faster than 120 separate arrays of 1 to 7 MB. W_down
    [d_ff, d_model] is stored as its transpose [d_model, d_ff] (``w_down`` is a column-major
    view): its vector-matrix product then runs along rows of d_ff numbers, faster for this
    narrow output than the row-major product (benchmarks/README.md)."""
    dh, d = cfg.d_head, cfg.d_model
    n_q, n_kv = cfg.n_head * dh, cfg.n_kv_head * dh
    sizes = (d * (n_q + 2 * n_kv), n_q * d, d * 2 * cfg.d_ff, cfg.d_ff * d)
    arena = np.empty(cfg.n_layer * sum(sizes), dtype=np.float32)      # every layer's matrices
    layers = []
    for i in range(cfg.n_layer):
        p = f"blk.{i}."
        parts, start = [], i * sum(sizes)
        for size in sizes:
            parts.append(arena[start:start + size])
            start += size
        wqkv = parts[0].reshape(d, n_q + 2 * n_kv)
        for name, cols, heads in (("attn_q.weight", slice(0, n_q), cfg.n_head),
                                  ("attn_k.weight", slice(n_q, n_q + n_kv), cfg.n_kv_head)):
            if to_halves:
                block = np.empty((d, cols.stop - cols.start), dtype=np.float32)
                put(p + name, block)
                wqkv[:, cols] = block[:, halves_columns(heads, dh)]
            else:
                put(p + name, wqkv[:, cols])
        put(p + "attn_v.weight", wqkv[:, n_q + n_kv:])
        wo = parts[1].reshape(n_q, d)
        put(p + "attn_output.weight", wo)
        w_gate_up = parts[2].reshape(d, 2 * cfg.d_ff)
        put(p + "ffn_gate.weight", w_gate_up[:, :cfg.d_ff])
        put(p + "ffn_up.weight", w_gate_up[:, cfg.d_ff:])
        w_down = parts[3].reshape(d, cfg.d_ff).T                       # [d_ff, d], column-major
        put(p + "ffn_down.weight", w_down)
        layers.append(LlamaLayer(attn_norm=vector(p + "attn_norm.weight"), wqkv=wqkv, wo=wo,
                                 ffn_norm=vector(p + "ffn_norm.weight"), w_gate_up=w_gate_up,
                                 w_down=w_down))
    head = np.empty((d, cfg.vocab_size), dtype=np.float32)
    if cfg.tied:
        put("token_embd.weight", head)
        embed = head.T                                                 # a view: one copy in memory
    else:
        put("output.weight", head)
        embed = np.empty((cfg.vocab_size, d), dtype=np.float32)
        embed[...] = vector("token_embd.weight")
    if to_halves:
        cfg = dataclasses.replace(cfg, rope_layout="halves")
    return Llama(cfg, embed, layers, vector("output_norm.weight"), head)


def _expected(cfg: LlamaConfig) -> dict[str, tuple[int, ...]]:
    shapes = {"token_embd.weight": (cfg.vocab_size, cfg.d_model),
              "output_norm.weight": (cfg.d_model,)}
    if not cfg.tied:
        shapes["output.weight"] = (cfg.vocab_size, cfg.d_model)
    for i in range(cfg.n_layer):
        shapes.update({f"blk.{i}.{k}": v for k, v in _shapes(cfg).items()})
    return shapes


def _check_names(path, found: dict[str, tuple[int, ...]], expected, spell=lambda n: n) -> None:
    for name, shape in expected.items():
        if name not in found:
            raise _fail(path, f"tensor {spell(name)!r} is missing")
        if tuple(found[name]) != shape:
            raise _fail(path, f"tensor {spell(name)!r} has shape {tuple(found[name])}, "
                              f"expected {shape}")
    extra = sorted(set(found) - set(expected))
    if extra:
        raise _fail(path, f"unexpected tensor {spell(extra[0])!r} for a llama model with "
                          f"{len(expected)} tensors")


# --------------------------------------------------------------------------- GGUF

def gguf_llama_config(gguf_file) -> LlamaConfig:
    """The LlamaConfig a GGUF file's ``llama.*`` metadata states (rope_layout "pairs").
    Raises TutorError for another architecture, a missing or wrong value, or RoPE scaling."""
    meta, path = gguf_file.metadata, gguf_file.path
    arch = meta.get("general.architecture")
    if arch != "llama":
        raise _fail(path, f"general.architecture is {arch!r}; tutor reads 'llama' GGUF files")

    def integer(key, default=None):
        value = meta.get(f"llama.{key}", default)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise _fail(path, f"llama.{key} must be a positive integer, got {value!r}")
        return int(value)

    def number(key, default):
        value = meta.get(f"llama.{key}", default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise _fail(path, f"llama.{key} must be a positive number, got {value!r}")
        return float(value)

    scaling = meta.get("llama.rope.scaling.type", "none")
    if scaling not in ("none", None):
        raise _fail(path, f"llama.rope.scaling.type is {scaling!r}; tutor reads plain RoPE")
    d_model, n_head = integer("embedding_length"), integer("attention.head_count")
    d_head = integer("attention.key_length", d_model // n_head if d_model % n_head == 0 else 0)
    rope_dims = integer("rope.dimension_count", d_head)
    if rope_dims != d_head:
        raise _fail(path, f"llama.rope.dimension_count is {rope_dims}; tutor rotates whole "
                          f"heads of {d_head}")
    tokens = meta.get("tokenizer.ggml.tokens")
    embed = gguf_file.tensors.get("token_embd.weight")
    vocab = meta.get("llama.vocab_size") or (len(tokens) if tokens is not None else None) \
        or (embed.shape[0] if embed is not None else None)
    try:
        return LlamaConfig(
            vocab_size=int(vocab or 0), d_model=d_model, n_layer=integer("block_count"),
            n_head=n_head, n_kv_head=integer("attention.head_count_kv", n_head), d_head=d_head,
            d_ff=integer("feed_forward_length"), rope_base=number("rope.freq_base", 10000.0),
            rms_eps=number("attention.layer_norm_rms_epsilon", 1e-5), rope_layout="pairs",
            tied="output.weight" not in gguf_file.tensors,
            max_positions=integer("context_length", 2048))
    except ValueError as exc:
        raise _fail(path, str(exc)) from None


def llama_from_gguf(source, *, rope_layout: str = "pairs") -> Llama:
    """A Llama from a GGUF file (a path or a :class:`tutor.gguf.GGUFFile`): config from its
    metadata, weights dequantized to float32. ``rope_layout="pairs"`` keeps llama.cpp's order
    of W_Q's and W_K's columns; ``"halves"`` puts them back in Hugging Face's order as they
    are read (the same numbers: the llama family's order). Raises TutorError; ValueError for
    another ``rope_layout``."""
    from ..gguf import GGUFFile, read_gguf
    from ..nn.quant import dequantize, dequantize_transposed

    if rope_layout not in ("pairs", "halves"):
        raise ValueError(f"rope_layout must be 'pairs' or 'halves', got {rope_layout!r}")
    gguf_file = source if isinstance(source, GGUFFile) else read_gguf(source)
    cfg = gguf_llama_config(gguf_file)
    _check_names(gguf_file.path, {n: t.shape for n, t in gguf_file.tensors.items()},
                 _expected(cfg))

    def vector(name):
        return np.array(gguf_file.array(name), dtype=np.float32)        # a copy, not a file view

    def put(name, dst):
        info = gguf_file.tensors[name]
        if dst.strides[-1] != 4:                                       # the [in, out] view of [out, in]
            dequantize(gguf_file.raw(name), info.kind, info.shape, out=dst.T)  # in place
        else:
            dequantize_transposed(gguf_file.raw(name), info.kind, info.shape, dst)

    return _assemble(cfg, vector, put, gguf_file.path, to_halves=rope_layout == "halves")


# --------------------------------------------------------------------------- Hugging Face

def hf_llama_config(folder) -> LlamaConfig:
    """The LlamaConfig of a Hugging Face llama folder's ``config.json`` (rope_layout
    "halves"). Raises TutorError for another model type, a missing or wrong value, biases,
    an activation other than SiLU or RoPE scaling."""
    path = Path(folder) / "config.json"
    try:
        raw = read_json(path, MAX_CONFIG_BYTES, "a config.json")      # regular, capped, bounded
    except FileNotFoundError:
        raise _fail(path, "no such file (a model folder needs config.json)") from None
    return llama_config_from_raw(raw, path)


def llama_config_from_raw(raw, path) -> LlamaConfig:
    """The LlamaConfig of a parsed ``config.json`` (``raw``) read from ``path`` (for the
    messages); see :func:`hf_llama_config`. Raises TutorError naming the file and the key."""
    if not isinstance(raw, dict):
        raise _fail(path, "expected a JSON object")
    if raw.get("model_type") != "llama":
        raise _fail(path, f"model_type is {raw.get('model_type')!r}, expected 'llama'")
    for key, allowed in (("hidden_act", ("silu",)), ("attention_bias", (False, None)),
                         ("mlp_bias", (False, None))):
        if raw.get(key) not in allowed:
            raise _fail(path, f"{key} is {raw.get(key)!r}; tutor's llama needs {allowed[0]!r}")
    rope = raw.get("rope_parameters") or {}
    scaling = raw.get("rope_scaling") or {}
    kind = rope.get("rope_type", "default") if isinstance(rope, dict) else None
    scaled = scaling and scaling.get("rope_type", scaling.get("type")) != "default"
    if kind != "default" or scaled:
        raise _fail(path, "RoPE scaling is set; tutor reads plain RoPE (rope_type 'default')")
    base = rope.get("rope_theta", raw.get("rope_theta", 10000.0))
    d_model, n_head = raw.get("hidden_size"), raw.get("num_attention_heads")
    try:
        head_dim = raw.get("head_dim") or d_model // n_head
        return LlamaConfig(
            vocab_size=raw.get("vocab_size"), d_model=d_model,
            n_layer=raw.get("num_hidden_layers"), n_head=n_head,
            n_kv_head=raw.get("num_key_value_heads") or n_head, d_head=head_dim,
            d_ff=raw.get("intermediate_size"), rope_base=float(base),
            rms_eps=float(raw.get("rms_norm_eps", 1e-6)), rope_layout="halves",
            tied=bool(raw.get("tie_word_embeddings", True)),
            max_positions=raw.get("max_position_embeddings", 2048))
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"not a valid llama config ({exc})") from None


def llama_from_hf(folder) -> Llama:
    """A Llama from a Hugging Face folder (config.json + model.safetensors), RoPE layout
    "halves". Raises TutorError naming the file and the fault."""
    from ..weightfiles import load_safetensors, read_safetensors_header

    folder = Path(folder)
    cfg = hf_llama_config(folder)
    path = folder / "model.safetensors"
    header = read_safetensors_header(path)
    hf = {"token_embd.weight": "model.embed_tokens.weight",
          "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight"}
    for i in range(cfg.n_layer):
        hf.update({f"blk.{i}.{g}": f"model.layers.{i}.{h}" for g, h in LAYER_NAMES.items()})
    back = {v: k for k, v in hf.items()}
    found = {back.get(n, n): t.shape for n, t in header.tensors.items()}
    if cfg.tied:
        found.pop("output.weight", None)                               # a tied copy, if saved
    _check_names(path, found, _expected(cfg), spell=lambda n: hf.get(n, n))
    for name, info in header.tensors.items():
        if info.dtype not in ("F32", "F16"):
            raise _fail(path, f"tensor {name!r} is {info.dtype}; expected F32 or F16")
    arrays = load_safetensors(path, [hf[n] for n in _expected(cfg)], header=header)

    def vector(name):
        return np.array(arrays[hf[name]], dtype=np.float32)

    def put(name, dst):
        dst[...] = arrays[hf[name]].T

    return _assemble(cfg, vector, put, path)
