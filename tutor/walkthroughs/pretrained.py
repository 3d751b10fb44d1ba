"""A real pretrained model's attention, for a learner: one head's six steps
(:func:`model_head`), every head's weights with the pattern each shows (:func:`model_heads`)
and a word's vector compared across two sentences layer by layer (:func:`model_context`).

The model is a :class:`tutor.pretrained.PretrainedModel` (BERT / MiniLM or GPT-2 read from a
Hugging Face folder); its forward pass is tutor.nn's own layers. Layers and heads are numbered
from 0 here, as in the library (the commands show them from 1).
"""

from __future__ import annotations

import numpy as np

from tutor.errors import TutorError, quote
from tutor.nn.llama import rope_angles
from tutor.nn.masks import causal_mask
from tutor.nn.analysis import head_pattern, head_patterns

from . import Recording, new_trace


def _model_facts(model) -> dict:
    c = model.config
    return {"model": model.name, "model_type": model.family.name,
            "embedding_stage": model.family.embedding_stage, "n_layer": c.n_layer,
            "n_head": c.n_head, "d_model": c.d_model, "d_head": c.d_head,
            "causal": bool(c.causal), "norm_first": bool(c.norm_first)}


def model_head(model, text: str, layer: int, head: int, *, encoding=None) -> Recording:
    """Head ``head`` of layer ``layer`` of ``model`` on ``text``, as the six steps record them.

    The hidden states entering the layer (``hidden`` [n, d_model], the embedding stage's
    output for layer 0) become X; a pre-norm model (GPT-2) normalises them first with the
    layer's own norm1, as its layer does (X = LayerNorm(hidden)). Then attention with the
    head's slices of the layer's projections and their biases (Q = X·Wq + bq, ... , Wq
    [d_model, d_head], bq [d_head]) and the causal mask for GPT-2. Records ``hidden``, ``x``,
    ``w_q``, ``b_q``, ``w_k``, ``b_k``, ``w_v``, ``b_v`` and the attention's steps as
    :func:`tutor.nn.attention.attention_head` names them: this head's slices of what the
    model's forward pass recorded in layer ``layer``. ``info``: the model's facts, ``layer``,
    ``head`` (from 0), ``tokens``. The weights are the model's own attentions[layer][head].
    ``encoding``: ``text``'s tokens when the caller has them (tokenized once).
    Raises TutorError for a layer or head out of range, or a text the model cannot take.
    """
    if model.family.rope_heads:                                        # llama: RoPE, shared k/v heads
        return rope_head(model, text, layer, head, encoding=encoding)
    found = model.encode(text) if encoding is None else encoding
    ids, tokens = found.ids, list(found.tokens)
    weights = model.head_weights(layer, head)                          # checks layer and head
    trace = new_trace()
    attention = _recorded_layer(model, ids, layer, trace,
                                "norm1.out" if model.config.norm_first else "input")
    for name in ("w_q", "b_q", "w_k", "b_k", "w_v", "b_v"):
        trace.record(name, getattr(weights, name))                     # [d_model, d_head] / [d_head]
    record_head(attention, trace, head, head, "pretrained.model_head")
    info = {**_model_facts(model), "layer": layer, "head": head, "tokens": tokens,
            "sentence": text, "pattern": head_pattern(trace["weights"], tokens,
                                                      mask=_allowed_mask(model, len(ids)))}
    return Recording(trace, trace["weights"], tokens, info, walkthrough="pretrained.model_head")


def _recorded_layer(model, ids, layer: int, trace, x_name: str):
    """Run ``model`` on ``ids`` with a recording trace; record in ``trace`` layer ``layer``'s
    ``hidden`` (its input) and ``x`` (its recorded ``x_name``, what attention reads), [n, E]
    each, and return the scope of what its self-attention recorded ([1, heads, ...] each)."""
    source = new_trace(only=f"layers.{layer}.")                        # the other layers: fast path
    model.forward(np.asarray(ids), output_attentions=False, trace=source)
    seen = source.scope(f"layers.{layer}")
    trace.record("hidden", seen["input"][0])                           # [n, E]
    trace.record("x", seen[x_name][0])                                 # [n, E]
    return seen.scope("self_attn")


def record_head(attention, trace, head: int, kv_head: int, walkthrough: str) -> None:
    """Record in ``trace`` the steps a forward pass's self-attention recorded in
    ``attention`` (a Trace scope, [1, n_head, ...] each) that ``walkthrough`` declares (in
    :mod:`.names`): query head ``head``'s slice of each ([n, ...]; keys and values: key/value
    head ``kv_head``'s), the tables (``mask`` [n, n], ``rope_cos``/``rope_sin`` [n, d / 2])
    as they are. One head's walkthrough of a pretrained or a toy model reads its steps so."""
    from .names import RECORDED

    declared = RECORDED[walkthrough]
    for name in (name for name in attention if name in declared):     # not concat, out_proj
        step = attention[name]
        if name in ("rope_cos", "rope_sin", "mask"):
            trace.record(name, step)
        else:
            shared = name in ("k_before_rope", "k", "v")               # a key/value head's
            trace.record(name, step[0, kv_head if shared else head])


def rope_head(model, text: str, layer: int, head: int, *, encoding=None) -> Recording:
    """Head ``head`` of layer ``layer`` of a llama model (a family with ``rope_heads``) on
    ``text``: the six steps with RoPE between the projections and the scores, and the
    key/value head this query head shares (grouped-query attention).

    X = RMSNorm(hidden) with the layer's ``attn_norm``; Q = X·Wq, K = X·Wk, V = X·Wv (no
    biases; Wk, Wv are key/value head g = head // (n_head / n_kv_head)'s columns); then each
    pair (i, i + d/2) of a row of Q and K at position p is rotated by p·θ_i, θ_i =
    base^(-2i/d) (Su et al. 2021; Hugging Face's ``rotate_half``), and attention runs on the
    rotated Q, K with the causal mask. Records ``hidden``, ``x``, ``w_q``, ``w_k``, ``w_v``,
    ``q_before_rope``, ``k_before_rope`` [n, d_head], ``rope_cos``, ``rope_sin`` [n, d_head / 2],
    ``rope.theta`` [d_head / 2] and
    the attention's steps as :func:`tutor.nn.attention.scaled_dot_product_attention` names
    them (``q``, ``k`` the rotated ones): this head's (and its key/value head's) slices of
    what the model's forward pass recorded in layer ``layer``
    (:func:`tutor.nn.llama.llama_block`). ``info``: the model's facts, ``layer``, ``head``,
    ``kv_head``, ``n_kv_head``, ``shared_with`` (the query heads reading the same key/value
    head, from 0), ``rope_base``, ``tokens``, ``pattern``. The weights are the model's own
    attentions[layer][head]. Raises TutorError for a layer or head out of range."""
    found = model.encode(text) if encoding is None else encoding
    ids, tokens = found.ids, list(found.tokens)
    model._check_layer_head(layer, head)
    c, p = model.config, model.layer_params(layer)
    d, n_kv = c.d_head, c.n_kv_head
    group = c.n_head // n_kv
    kv_head = head // group
    wqkv = p["self_attn.wqkv"]                                         # [E, (H + 2 Hkv) d]
    k0, v0 = c.n_head * d + kv_head * d, (c.n_head + n_kv) * d + kv_head * d
    trace = new_trace()
    attention = _recorded_layer(model, ids, layer, trace, "attn_norm.out")
    for name, w in (("w_q", wqkv[:, head * d:(head + 1) * d]), ("w_k", wqkv[:, k0:k0 + d]),
                    ("w_v", wqkv[:, v0:v0 + d])):
        trace.record(name, w)                                          # [E, d_head]
    record_head(attention, trace, head, kv_head, "pretrained.rope_head")
    theta = rope_angles(np.arange(0), d, float(p["self_attn.rope_theta"]))[0]  # [d/2]
    trace.record("rope.theta", theta)
    info = {**_model_facts(model), "layer": layer, "head": head, "tokens": tokens,
            "sentence": text, "kv_head": kv_head, "n_kv_head": n_kv,
            "rope_base": float(p["self_attn.rope_theta"]),
            "shared_with": [h for h in range(kv_head * group, (kv_head + 1) * group)],
            "pattern": head_pattern(trace["weights"], tokens,
                                    mask=_allowed_mask(model, len(ids)))}
    return Recording(trace, trace["weights"], tokens, info, walkthrough="pretrained.rope_head")


def _allowed_mask(model, n: int):
    """The mask the model's self-attention used on n tokens ([n, n], True = not allowed):
    causal for GPT-2, none hidden for BERT (head_pattern leaves forced rows out by it)."""
    return causal_mask(n) if model.config.causal else np.zeros((n, n), dtype=bool)


def model_heads(model, text: str, *, encoding=None) -> Recording:
    """Every head's attention weights on ``text``: ``attentions`` [n_layer, n_head, n, n]
    (Hugging Face's ``output_attentions`` layout, ``[layer][head][query][key]``), and in
    ``info["patterns"]`` the :func:`tutor.pretrained.head_patterns` label of each head
    ([n_layer][n_head] HeadPattern). Needs at least two tokens to label a head.
    ``encoding``: ``text``'s tokens when the caller has them (tokenized once)."""
    found = model.encode(text) if encoding is None else encoding
    ids, tokens = found.ids, list(found.tokens)
    if len(ids) < 2:
        raise TutorError(f"{quote(text)} gives {len(ids)} token; a head's pattern needs at least 2")
    out = model.forward(np.asarray(ids), output_attentions=True)
    trace = new_trace()
    trace.record("attentions", out.attentions)                         # [n_layer, n_head, n, n]
    info = {**_model_facts(model), "tokens": list(tokens), "sentence": text,
            "patterns": head_patterns(out.attentions, tokens, mask=_allowed_mask(model, len(ids)))}
    return Recording(trace, out.attentions, list(tokens), info,
                     walkthrough="pretrained.model_heads")


def model_context(model, sentence_a: str, sentence_b: str, word: str,
                  control: str | None = None, *, encodings=None) -> Recording:
    """How much ``word``'s vector in sentence A resembles its vector in sentence B, after the
    embedding stage and after each layer (:func:`tutor.pretrained.contextual_similarity`),
    with a control word found in both. Records ``similarity`` and ``control_similarity``
    [n_layer + 1]. ``info``: ``stages``, ``word``, ``control``, ``tokens_a``, ``tokens_b``,
    ``pieces_a``, ``pieces_b`` (the word's token positions) and the model's facts.
    ``encodings``: the sentences' tokens when the caller has them (tokenized once)."""
    from tutor.pretrained import contextual_similarity

    found = contextual_similarity(model, sentence_a, sentence_b, word, control=control,
                                  encodings=encodings)
    trace = new_trace()
    trace.record("similarity", found.similarity)                       # [n_stage]
    trace.record("control_similarity", found.control_similarity)       # [n_stage]
    info = {**_model_facts(model), "stages": list(found.stages), "word": found.word,
            "control": found.control, "tokens_a": list(found.tokens_a),
            "tokens_b": list(found.tokens_b), "pieces_a": list(found.pieces_a),
            "pieces_b": list(found.pieces_b), "sentences": [sentence_a, sentence_b]}
    return Recording(trace, found, list(found.tokens_a), info,
                     walkthrough="pretrained.model_context")
