"""GPT-2: pre-norm decoder-only layers with a causal mask, tanh GELU, word + position
embeddings, a final layer norm ``ln_f`` (Radford et al. 2019; ``transformers``
``GPT2Model``). Its language-model head is the word embeddings (``tie_word_embeddings``,
default true) or, when the config says ``"tie_word_embeddings": false``, the folder's own
``lm_head.weight`` (``GPT2LMHeadModel``). Weights are ``Conv1D`` (y = x W + b, [in, out]):
each is transposed; ``c_attn`` already packs query, key, value (columns)."""

from __future__ import annotations

import re

import numpy as np

from ...errors import TutorError
from ...trace import NULL_TRACE
from ..config import PretrainedConfig, activation, eps, flag, integer, require
from ..mapping import Source, norm_sources
from .base import Family, layer_norm_final

NAME = "gpt2"
OWN_HEAD = "lm_head.weight"
GPT2_SPECIAL = "<|endoftext|>"                   # GPT2Tokenizer's bos, eos and unk token


def parse_config(raw: dict, path: str) -> PretrainedConfig:
    """config.json of a ``GPT2Model`` -> :class:`PretrainedConfig`. TutorError naming the key."""
    d_model = integer(raw, path, "n_embd", 768, limit="d_model")
    n_inner = raw.get("n_inner")
    config = PretrainedConfig(
        family=NAME,
        vocab_size=integer(raw, path, "vocab_size", 50257, limit="vocab_size"),
        d_model=d_model,
        n_layer=integer(raw, path, "n_layer", 12, limit="n_layer"),
        n_head=integer(raw, path, "n_head", 12, limit="n_head"),
        d_ff=4 * d_model if n_inner is None else integer(raw, path, "n_inner", limit="d_ff"),
        max_positions=integer(raw, path, "n_positions", 1024, limit="max_positions"),
        type_vocab_size=0,
        activation=activation(raw, path, "activation_function", "gelu_new"),
        layer_norm_eps=eps(raw, path, "layer_norm_epsilon", 1e-5),
        norm_first=True, causal=True,
        tie_word_embeddings=flag(raw, path, "tie_word_embeddings", True))
    require(raw, path, "scale_attn_weights", True, True)
    require(raw, path, "scale_attn_by_inverse_layer_idx", False, False)
    require(raw, path, "reorder_and_upcast_attn", False, False)
    require(raw, path, "add_cross_attention", False, False)
    return config.checked(path, "n_head")


def parameter_sources(config: PretrainedConfig) -> dict[str, Source]:
    """GPT-2's names -> tutor.nn's: each Conv1D weight transposed; ``c_attn`` is the packed
    in-projection; ``ln_f`` is ``final_norm``; an untied head is ``lm_head.weight``."""
    d, f = config.d_model, config.d_ff
    out = {"embed.word": Source(("wte.weight",), ((config.vocab_size, d),)),
           "embed.position": Source(("wpe.weight",), ((config.max_positions, d),))}
    for i in range(config.n_layer):
        hf, tu = f"h.{i}.", f"layers.{i}."
        out.update(norm_sources(f"{tu}norm1.", f"{hf}ln_1", d))
        out[f"{tu}self_attn.in_proj_weight"] = Source((f"{hf}attn.c_attn.weight",), ((d, 3 * d),), True)
        out[f"{tu}self_attn.in_proj_bias"] = Source((f"{hf}attn.c_attn.bias",), ((3 * d,),))
        out[f"{tu}self_attn.out_proj.weight"] = Source((f"{hf}attn.c_proj.weight",), ((d, d),), True)
        out[f"{tu}self_attn.out_proj.bias"] = Source((f"{hf}attn.c_proj.bias",), ((d,),))
        out.update(norm_sources(f"{tu}norm2.", f"{hf}ln_2", d))
        out[f"{tu}linear1.weight"] = Source((f"{hf}mlp.c_fc.weight",), ((d, f),), True)
        out[f"{tu}linear1.bias"] = Source((f"{hf}mlp.c_fc.bias",), ((f,),))
        out[f"{tu}linear2.weight"] = Source((f"{hf}mlp.c_proj.weight",), ((f, d),), True)
        out[f"{tu}linear2.bias"] = Source((f"{hf}mlp.c_proj.bias",), ((d,),))
    out.update(norm_sources("final_norm.", "ln_f", d))
    if not config.tie_word_embeddings:                                 # GPT2LMHeadModel, untied
        out["lm_head.weight"] = Source((OWN_HEAD,), ((config.vocab_size, d),))
    return out


def gpt2_embeddings(ids, p, *, start: int = 0, position_ids=None, trace=NULL_TRACE):
    """GPT-2's input: word[ids] + position[start..start+n-1] (no norm; each layer norms its
    own input), or word[ids] + position[position_ids] when they are given.

    ``ids``: [n] or [B, n] integers; ``p`` holds ``word`` [V, E] and ``position`` [P, E];
    ``start`` is the position of the first id (when decoding step by step with a cache);
    ``position_ids`` [(B,) n] (a padded batch: each row counts its own tokens).
    Returns [(B,) n, E]. Source: Radford et al. 2019; ``transformers`` ``GPT2Model.forward``.
    """
    n = np.shape(ids)[-1]
    word = p["word"][ids]                                              # [(B,) n] -> [(B,) n, E]
    position = (p["position"][start:start + n] if position_ids is None
                else p["position"][position_ids])                      # [n, E] or [(B,) n, E]
    out = word + position                                              # [(B,) n, E]
    trace.record("word", word)
    trace.record("position", position)
    trace.record("out", out)
    return out


def embed(model, ids, *, token_type_ids=None, position_ids=None, start: int = 0,
          trace=NULL_TRACE):
    """The embedding stage of ``model`` on checked ids [(B,) n]. TutorError for token types."""
    if token_type_ids is not None:
        raise TutorError("token_type_ids are a BERT input; GPT-2 has none")
    return gpt2_embeddings(ids, model.params_view("embed"), start=start,
                           position_ids=position_ids, trace=trace)


FAMILY = Family(
    name=NAME,
    description="GPT-2-style decoder: pre-norm layers, each token sees the tokens before it",
    kind="decoder-only",
    embedding_stage="word + position",
    parse_config=parse_config, parameter_sources=parameter_sources,
    prefix="transformer.", roots=("wte.", "wpe.", "h.", "ln_f."),
    ignored=re.compile(r"h\.\d+\.attn\.(bias|masked_bias)|lm_head\.weight"),
    own_head=OWN_HEAD,
    embed=embed, final_norm=layer_norm_final, causal=True, writes=True,
    pad_positions_from_tokens=True,
    tokenizer_classes=("GPT2Tokenizer", "GPT2TokenizerFast"),
    tokenizer_defaults=dict.fromkeys(("bos_token", "eos_token", "unk_token"), GPT2_SPECIAL),
    tokenizer_files=("vocab.json",),
)
