"""The encoder and encoder-decoder walkthroughs: one pass of a model (random or real) on
sentences or on already-embedded vectors, recorded layer by layer. Shared by ``tutor
encode``, ``tutor transformer`` and the lessons."""

from __future__ import annotations

import numpy as np

from tutor.nn.analysis import next_token_distribution
from tutor.nn.functional import batch_norm, layer_norm
from tutor.nn.masks import causal_mask

from . import Recording, new_trace
from .inputs import sentence_inputs, word_embeddings


def _batched(vectors):
    return vectors if vectors.ndim == 3 else vectors[None]               # [B, S, d_model]


def _each_item(run, *inputs):
    """``run(*items)`` on one batch item at a time (the fast path, nothing recorded), stacked
    back into the batch: [B, ...] inputs -> [B, ...] output. One item's attention weights
    [1, H, S, S] are alive at a time instead of the whole batch's (at 16 items, 512 positions
    and 16 heads in float64 those are 512 MiB an array)."""
    return np.concatenate([run(*(x[i:i + 1] for x in inputs)) for i in range(len(inputs[0]))])


def encode(model, *, tokens: list[str] | None = None, vectors=None, x=None) -> Recording:
    """The encoder stack on a sentence (X + PE recorded under ``input.``; X is ``x``
    [n, d_model] when given, else each word's derived vector) or on vectors
    [(B,) S, d_model] (recorded as ``src`` [B, S, d_model]); then everything
    ``Transformer.encode`` records (``encoder.layers.<i>.*``, ``encoder.norm.*``).
    The output is the memory, shaped like the input. Labels: the tokens, or p1, p2, ...
    A batch of several items records its first item alone (batch 1: what the screen shows);
    the output holds every item, computed an item at a time without recording.
    """
    trace = new_trace()
    if tokens:
        src = sentence_inputs(tokens, model.config.d_model, model.dtype, x=x,
                              trace=trace.scope("input"))                # [n, d_model]
        labels = list(tokens)
    else:
        src = vectors                                                    # [(B,) S, d_model]
        trace.record("src", _batched(src)[:1])
        labels = [f"p{i + 1}" for i in range(src.shape[-2])]
    if src.ndim == 3 and src.shape[0] > 1:                               # record item 1 only
        model.encode(src[:1], trace=trace)
        memory = _each_item(model.encode, src)                           # [B, S, d_model]
        return Recording(trace, memory, labels, walkthrough="stack.encode")
    memory = model.encode(src, trace=trace)                              # like src
    return Recording(trace, memory, labels,
                     walkthrough="stack.encode")


def transform(model, *, src_tokens=None, tgt_tokens=None, src_vectors=None, tgt_vectors=None,
              causal: bool = False, word_vectors: dict | None = None) -> Recording:
    """Encoder and decoder together on two sentences (always causal; X + PE recorded under
    ``src_input.`` and ``tgt_input.``; then the next-word distribution over the sentences'
    words, ``vocab_embeddings`` and ``next.*``) or on vectors [(B,) S|T, d_model] (recorded
    as ``src`` and ``tgt``; ``causal`` masks the target). Records everything
    ``Transformer.forward`` records. The output is the decoder's output, like the target.
    ``info``: ``src_labels``, ``tgt_labels``, ``causal``, ``vocab`` (sentences only),
    ``sentence`` (whether sentences were given), and from the model's config ``n_enc``,
    ``n_dec`` (its layers) and ``norm_first``.
    ``word_vectors`` maps lower-cased words to vectors [d_model] (e.g. GloVe's) used for the
    sentences and the vocabulary instead of the derived ones; it must hold every word.
    A batch of several items records its first item alone (as :func:`encode`); the output
    holds every item.
    """
    trace = new_trace()
    d_model, dtype = model.config.d_model, model.dtype
    vocab = None
    if src_tokens is not None:
        given = word_vectors or {}
        src_x = sentence_inputs(src_tokens, d_model, dtype, trace=trace.scope("src_input"),
                                x=word_embeddings(src_tokens, d_model, given)[0])
        tgt_x = sentence_inputs(tgt_tokens, d_model, dtype, trace=trace.scope("tgt_input"),
                                x=word_embeddings(tgt_tokens, d_model, given)[0])
        src_labels, tgt_labels = list(src_tokens), list(tgt_tokens)
        causal = True
    else:
        src_x, tgt_x = src_vectors, tgt_vectors                          # [(B,) S|T, d_model]
        trace.record("src", _batched(src_x)[:1])
        trace.record("tgt", _batched(tgt_x)[:1])
        src_labels = [f"s{i + 1}" for i in range(src_x.shape[-2])]
        tgt_labels = [f"t{i + 1}" for i in range(tgt_x.shape[-2])]
    mask = causal_mask(tgt_x.shape[-2]) if causal else None             # [T, T], True = hidden
    if src_x.ndim == 3 and src_x.shape[0] > 1:                           # record item 1 only
        model.forward(src_x[:1], tgt_x[:1], tgt_mask=mask, trace=trace)
        out = _each_item(lambda s, t: model.forward(s, t, tgt_mask=mask), src_x, tgt_x)
    else:
        out = model.forward(src_x, tgt_x, tgt_mask=mask, trace=trace)   # like tgt
    if src_tokens is not None:
        vocab = list(dict.fromkeys(t.lower() for t in src_tokens + tgt_tokens))
        table, _ = word_embeddings(vocab, d_model, given)               # [n_vocab, d_model]
        table = table.astype(dtype, copy=False)
        trace.record("vocab_embeddings", table)
        next_token_distribution(out[-1], table, trace=trace.scope("next"))  # [n_vocab]
    c = model.config
    info = {"src_labels": src_labels, "tgt_labels": tgt_labels, "causal": bool(causal),
            "vocab": vocab, "sentence": src_tokens is not None, "n_enc": c.num_encoder_layers,
            "n_dec": c.num_decoder_layers, "norm_first": c.norm_first}
    return Recording(trace, out, tgt_labels, info,
                     walkthrough="stack.transform")


def norms_in_encoder_layer(model, tokens: list[str]) -> Recording:
    """One pass of the encoder on the sentence's embeddings (no PE), then layer norm
    (``ln.*``) and batch norm (``bn.*``) of the first layer's residual sum
    ``encoder.layers.0.add1`` [1, n, d_model], to compare the two."""
    trace = new_trace()
    x, _ = word_embeddings(tokens, model.config.d_model)                # [n, d_model]
    model.encode(x, trace=trace)
    resid = trace["encoder.layers.0.add1"]                              # [1, n, d_model]
    layer_norm(resid, trace=trace.scope("ln"))
    batch_norm(resid, trace=trace.scope("bn"))
    return Recording(trace, resid, list(tokens),
                     walkthrough="stack.norms_in_encoder_layer")


def post_and_pre_norm(post_model, pre_model, tokens: list[str]) -> Recording:
    """One encoder pass of two models with the same weights, post-norm (the 2017 paper:
    x = norm(x + sublayer(x)), under ``post.``) and pre-norm (``norm_first``:
    x = x + sublayer(norm(x)), under ``pre.``), on the sentence's embeddings (no PE); the
    mean and variance of each token's row of each first layer's output are recorded by layer
    norm under ``post.stats.`` and ``pre.stats.`` [1, n, 1]. Xiong et al. 2020."""
    trace = new_trace()
    x, _ = word_embeddings(tokens, post_model.config.d_model)           # [n, d_model]
    outputs = []
    for name, model in (("post", post_model), ("pre", pre_model)):
        scope = trace.scope(name)
        model.encode(x, trace=scope)
        outputs.append(trace[f"{name}.encoder.layers.0.output"])      # [1, n, d_model]
        layer_norm(outputs[-1], trace=scope.scope("stats"))
    return Recording(trace, outputs[1], list(tokens), walkthrough="stack.post_and_pre_norm")
