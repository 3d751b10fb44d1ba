"""BERT (and MiniLM, a small BERT): post-norm encoder layers, exact GELU, word + position +
token-type embeddings followed by a layer norm (Devlin et al. 2018; ``transformers``
``BertModel``). An encoder: no causal mask, no language-model head."""

from __future__ import annotations

import re

import numpy as np

from ...errors import ShapeError
from ...nn.functional import layer_norm
from ...trace import NULL_TRACE
from ..config import PretrainedConfig, activation, eps, integer, require
from ..mapping import Source, norm_sources
from .base import Family

NAME = "bert"


def parse_config(raw: dict, path: str) -> PretrainedConfig:
    """config.json of a ``BertModel`` -> :class:`PretrainedConfig`. TutorError naming the key."""
    d_model = integer(raw, path, "hidden_size", limit="d_model")
    config = PretrainedConfig(
        family=NAME,
        vocab_size=integer(raw, path, "vocab_size", limit="vocab_size"),
        d_model=d_model,
        n_layer=integer(raw, path, "num_hidden_layers", limit="n_layer"),
        n_head=integer(raw, path, "num_attention_heads", limit="n_head"),
        d_ff=integer(raw, path, "intermediate_size", limit="d_ff"),
        max_positions=integer(raw, path, "max_position_embeddings", 512, limit="max_positions"),
        type_vocab_size=integer(raw, path, "type_vocab_size", 2, limit="type_vocab_size"),
        activation=activation(raw, path, "hidden_act", "gelu"),
        layer_norm_eps=eps(raw, path, "layer_norm_eps", 1e-12),
        norm_first=False, causal=False)
    require(raw, path, "position_embedding_type", "absolute", "absolute")
    require(raw, path, "is_decoder", False, False)
    require(raw, path, "add_cross_attention", False, False)
    return config.checked(path, "num_attention_heads")


def parameter_sources(config: PretrainedConfig) -> dict[str, Source]:
    """BERT's names -> tutor.nn's: separate ``query``/``key``/``value`` Linear layers are
    concatenated (rows) into ``in_proj_weight`` [3E, E]; weights are [out, in] already."""
    d, f = config.d_model, config.d_ff
    out = {"embed.word": Source(("embeddings.word_embeddings.weight",), ((config.vocab_size, d),)),
           "embed.position": Source(("embeddings.position_embeddings.weight",),
                                    ((config.max_positions, d),)),
           "embed.token_type": Source(("embeddings.token_type_embeddings.weight",),
                                      ((config.type_vocab_size, d),)),
           **norm_sources("embed.norm.", "embeddings.LayerNorm", d)}
    for i in range(config.n_layer):
        hf, tu = f"encoder.layer.{i}.", f"layers.{i}."
        qkv = tuple(f"{hf}attention.self.{part}" for part in ("query", "key", "value"))
        out[f"{tu}self_attn.in_proj_weight"] = Source(tuple(f"{n}.weight" for n in qkv), ((d, d),) * 3)
        out[f"{tu}self_attn.in_proj_bias"] = Source(tuple(f"{n}.bias" for n in qkv), ((d,),) * 3)
        out[f"{tu}self_attn.out_proj.weight"] = Source((f"{hf}attention.output.dense.weight",), ((d, d),))
        out[f"{tu}self_attn.out_proj.bias"] = Source((f"{hf}attention.output.dense.bias",), ((d,),))
        out.update(norm_sources(f"{tu}norm1.", f"{hf}attention.output.LayerNorm", d))
        out[f"{tu}linear1.weight"] = Source((f"{hf}intermediate.dense.weight",), ((f, d),))
        out[f"{tu}linear1.bias"] = Source((f"{hf}intermediate.dense.bias",), ((f,),))
        out[f"{tu}linear2.weight"] = Source((f"{hf}output.dense.weight",), ((d, f),))
        out[f"{tu}linear2.bias"] = Source((f"{hf}output.dense.bias",), ((d,),))
        out.update(norm_sources(f"{tu}norm2.", f"{hf}output.LayerNorm", d))
    return out


def bert_embeddings(ids, token_type_ids, p, eps: float, *, position_ids=None, trace=NULL_TRACE):
    """BERT's input: LayerNorm(word[ids] + position[position_ids] + token_type[token_type_ids]).

    ``ids``, ``token_type_ids``: [(B,) n] integers; ``position_ids`` [(B,) n] (default
    0..n-1); ``p`` holds ``word`` [V, E], ``position`` [P, E], ``token_type`` [T, E],
    ``norm.weight``/``norm.bias`` [E]. Returns [(B,) n, E].
    Source: Devlin et al. 2018, section 3 (Figure 2); ``transformers`` ``BertEmbeddings``.
    """
    n = np.shape(ids)[-1]
    word = p["word"][ids]                                              # [(B,) n] -> [(B,) n, E]
    position = (p["position"][:n] if position_ids is None
                else p["position"][position_ids])                      # [n, E] or [(B,) n, E]
    token_type = p["token_type"][token_type_ids]                       # [(B,) n] -> [(B,) n, E]
    summed = word + position + token_type                              # [(B,) n, E]
    trace.record("word", word)
    trace.record("position", position)
    trace.record("token_type", token_type)
    trace.record("sum", summed)
    out = layer_norm(summed, p["norm.weight"], p["norm.bias"], eps, trace=trace.scope("norm"))  # [n, E]
    trace.record("out", out)
    return out


def embed(model, ids, *, token_type_ids=None, position_ids=None, start: int = 0,
          trace=NULL_TRACE):
    """The embedding stage of ``model`` on checked ids [(B,) n]; token type 0 (one sentence)
    unless ``token_type_ids`` [(B,) n] say otherwise. ShapeError for token types out of range."""
    if token_type_ids is None:
        token_type_ids = np.zeros_like(ids)                            # one sentence: segment 0
    token_type_ids = model.check_ids(token_type_ids, "token_type_ids",
                                     model.config.type_vocab_size)
    if token_type_ids.shape != np.shape(ids):
        raise ShapeError(f"token_type_ids has shape {token_type_ids.shape}, ids {np.shape(ids)}")
    return bert_embeddings(ids, token_type_ids, model.params_view("embed"),
                           model.config.layer_norm_eps, position_ids=position_ids, trace=trace)


FAMILY = Family(
    name=NAME,
    description="BERT-style encoder: post-norm layers, every token sees every token",
    kind="encoder",
    embedding_stage="word + position + token type, then layer norm",
    parse_config=parse_config, parameter_sources=parameter_sources,
    prefix="bert.", roots=("embeddings.", "encoder."),
    ignored=re.compile(r"embeddings\.position_ids|pooler\..*"),
    embed=embed, causal=False, writes=False,
    tokenizer_classes=("BertTokenizer", "BertTokenizerFast"),
    tokenizer_defaults={"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                        "cls_token": "[CLS]", "mask_token": "[MASK]"},
    tokenizer_files=("vocab.txt",),
)
