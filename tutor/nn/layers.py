"""Encoder and decoder layers and their stacks, as ``torch.nn.TransformerEncoderLayer`` /
``TransformerDecoderLayer`` / ``nn.Transformer`` compute them (eval mode, no dropout).

``p`` is a :class:`~tutor.nn.params.ParamView` over PyTorch's names (``self_attn.*``,
``linear1.*``, ``norm1.*``, ...); with ``bias=False`` the ``*.bias``/``in_proj_bias`` names are
absent and no bias is added. Post-norm (the 2017 paper): x = norm(x + sublayer(x)).
Pre-norm (``norm_first``): x = x + sublayer(norm(x)). Either way the residual added is the
sublayer's own input.
"""

from __future__ import annotations

from ..trace import NULL_TRACE
from .attention import KVCache, _multi_head_attention
from .functional import feed_forward, layer_norm
from .params import TransformerConfig


def _norm(x, p, name, eps, trace):
    return layer_norm(x, p[f"{name}.weight"], p.get(f"{name}.bias"), eps, trace=trace.scope(name))


def _ff(x, p, activation, trace):
    return feed_forward(x, p["linear1.weight"], p.get("linear1.bias"), p["linear2.weight"],
                        p.get("linear2.bias"), activation, trace=trace.scope("ff"))


def _attention(p, name, nhead, memory, attn_mask, key_padding_mask, trace, cache=None):
    """The attention sublayer ``name`` as a function of its input: self-attention when
    ``memory`` is None, else attention from the input (queries) to ``memory`` (keys, values)."""
    def run(h):
        source = h if memory is None else memory
        return _multi_head_attention(h, source, source, p.scope(name), nhead, attn_mask=attn_mask,
                                     key_padding_mask=key_padding_mask, cache=cache,
                                     trace=trace.scope(name))[0]
    return run


class DecoderCache:
    """What a decoder stack keeps between greedy decoding steps: for every layer, a growing
    cache of its self-attention keys and values and a static one of its encoder-decoder
    attention's. ``length`` is how many target positions have been decoded."""

    def __init__(self, num_layers: int):
        self.layers = [(KVCache(), KVCache(static=True)) for _ in range(num_layers)]

    @property
    def length(self) -> int:
        return self.layers[0][0].length


def _sublayer(x, run, p, norm_name, norm_first, eps, trace, add_name):
    """One residual block: pre-norm x + f(norm(x)), or post-norm norm(x + f(x))."""
    if norm_first:
        resid = x + run(_norm(x, p, norm_name, eps, trace))            # [B, n, E]
        trace.record(add_name, resid)
        return resid
    resid = x + run(x)                                                 # [B, n, E]
    trace.record(add_name, resid)
    return _norm(resid, p, norm_name, eps, trace)


def sublayer(x, run, p, norm_name: str, norm_first: bool, eps: float, trace, add_name: str):
    """One residual block around ``run`` (a function of its input [..., E] -> [..., E]):
    pre-norm x + run(norm(x)), or post-norm norm(x + run(x)); the norm is layer norm on
    ``p``'s ``<norm_name>.weight`` / ``.bias`` (recorded under ``<norm_name>.``), the sum
    recorded as ``add_name``. What :func:`encoder_layer` and :func:`decoder_layer` call for
    each sublayer (Vaswani et al. 2017 section 3.1; pre-norm: Xiong et al. 2020)."""
    return _sublayer(x, run, p, norm_name, norm_first, eps, trace, add_name)


def encoder_layer(x, p, config: TransformerConfig, *, src_mask=None, src_key_padding_mask=None,
                  cache: KVCache | None = None, trace=NULL_TRACE):
    """Self-attention then feed-forward, each with add & norm. [B, S, E] -> [B, S, E].
    ``cache`` (a growing KVCache): ``x`` holds only the new positions, which attend to the
    cached ones as well (a decoder-only model stepping; ``src_mask`` is then [S_new, S_all])."""
    eps = config.layer_norm_eps
    trace.record("input", x)
    self_attn = _attention(p, "self_attn", config.nhead, None, src_mask, src_key_padding_mask,
                           trace, cache)
    x = _sublayer(x, self_attn, p, "norm1", config.norm_first, eps, trace, "add1")
    x = _sublayer(x, lambda h: _ff(h, p, config.activation, trace), p, "norm2",
                  config.norm_first, eps, trace, "add2")
    trace.record("output", x)
    return x


def decoder_layer(x, memory, p, config: TransformerConfig, *, tgt_mask=None, memory_mask=None,
                  tgt_key_padding_mask=None, memory_key_padding_mask=None, cache=None,
                  trace=NULL_TRACE):
    """Masked self-attention, encoder-decoder attention, feed-forward, each with add & norm.
    [B, T, E], memory [B, S, E] -> [B, T, E]. ``cache`` is one layer's pair of KVCaches."""
    eps = config.layer_norm_eps
    self_cache, cross_cache = (None, None) if cache is None else cache
    trace.record("input", x)
    self_attn = _attention(p, "self_attn", config.nhead, None, tgt_mask, tgt_key_padding_mask,
                           trace, self_cache)
    # queries from the decoder, keys and values from the encoder's output
    cross_attn = _attention(p, "multihead_attn", config.nhead, memory, memory_mask,
                            memory_key_padding_mask, trace, cross_cache)
    x = _sublayer(x, self_attn, p, "norm1", config.norm_first, eps, trace, "add1")
    x = _sublayer(x, cross_attn, p, "norm2", config.norm_first, eps, trace, "add2")
    x = _sublayer(x, lambda h: _ff(h, p, config.activation, trace), p, "norm3",
                  config.norm_first, eps, trace, "add3")
    trace.record("output", x)
    return x


def encoder(x, p, config: TransformerConfig, *, mask=None, src_key_padding_mask=None,
            trace=NULL_TRACE):
    """N encoder layers, then the final layer norm ``norm`` that nn.Transformer adds (an
    ``nn.TransformerEncoder`` made without ``norm=`` has none: then ``p`` has no ``norm.*``)."""
    for i in range(config.num_encoder_layers):
        x = encoder_layer(x, p.scope(f"layers.{i}"), config, src_mask=mask,
                          src_key_padding_mask=src_key_padding_mask,
                          trace=trace.scope(f"layers.{i}"))
    return _norm(x, p, "norm", config.layer_norm_eps, trace) if "norm.weight" in p else x


def decoder(x, memory, p, config: TransformerConfig, *, tgt_mask=None, memory_mask=None,
            tgt_key_padding_mask=None, memory_key_padding_mask=None,
            cache: DecoderCache | None = None, trace=NULL_TRACE):
    """N decoder layers, then the final layer norm ``norm`` (when ``p`` has one, as in
    nn.Transformer). With a ``cache``, ``x`` holds only the new target positions."""
    for i in range(config.num_decoder_layers):
        x = decoder_layer(x, memory, p.scope(f"layers.{i}"), config, tgt_mask=tgt_mask,
                          memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                          memory_key_padding_mask=memory_key_padding_mask,
                          cache=None if cache is None else cache.layers[i],
                          trace=trace.scope(f"layers.{i}"))
    return _norm(x, p, "norm", config.layer_norm_eps, trace) if "norm.weight" in p else x
