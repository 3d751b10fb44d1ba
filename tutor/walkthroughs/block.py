"""The whole block around attention: the residual add, the norm, the feed-forward and the
second residual, for the explorer's block tab (``tutor explore``, ``tutor explore --model``).

Two runs record the same names (declared in :mod:`tutor.walkthroughs.names` under
``block.sentence_block`` and ``block.model_block``), so one document shows either:

* :func:`sentence_block`: the explorer's sentence, after the self-attention walkthrough
  (:func:`tutor.walkthroughs.attention.self_attention`), through the rest of a 2017 encoder
  layer, run by the engine's own sublayer (:func:`tutor.nn.layers.sublayer`, what
  ``encoder_layer`` calls) and feed-forward (:func:`tutor.nn.functional.feed_forward`).
* :func:`model_block`: one layer of a trained model (BERT, GPT-2, llama, a toy model), the
  numbers its forward pass recorded, read under the same names; and for a model that writes,
  the logits of the next token.

The names, in the order the block computes them (post-norm, the 2017 paper and BERT:
add1 → norm1 → ff → add2 → norm2; pre-norm, GPT-2 and llama: norm1 → attention → add1 →
norm2 → ff → add2): ``input``, ``attn_out``, ``add1``, ``norm1.*``, ``ff.*``, ``add2``,
``norm2.*``, ``output``, and ``logits`` [V] for a model that writes.
"""

from __future__ import annotations

import numpy as np

from tutor.nn.functional import feed_forward
from tutor.nn.layers import sublayer
from tutor.nn.params import ParamView

from . import Recording, new_trace
from .inputs import random_matrix

#: the explorer's feed-forward width: d_ff = FF_RATIO · d_model (the paper uses 4; 2 keeps a
#: 4-wide sentence's hidden layer, 8 columns, within 80 columns)
FF_RATIO = 2
EPS = 1e-5


def sentence_ff_weights(d_model: int, seed: int):
    """W1 [d_ff, d_model], b1 [d_ff], W2 [d_model, d_ff], b2 [d_model] (PyTorch's linear1 /
    linear2) for the explorer's block: entries -1.0, -0.9, ..., 1.0 from streams ``w1`` and
    ``w2`` of ``seed`` (as the attention weights'), zero biases; d_ff = FF_RATIO · d_model."""
    d_ff = FF_RATIO * d_model
    return (random_matrix(seed, "w1", d_ff, d_model), np.zeros(d_ff),
            random_matrix(seed, "w2", d_model, d_ff), np.zeros(d_model))


def sentence_block(attention: Recording, *, seed: int = 0,
                   activation: str = "relu") -> Recording:
    """The rest of one encoder layer after the explorer's self-attention ``attention`` (a
    recording of :func:`~tutor.walkthroughs.attention.self_attention`, its output
    [n, d_model]): add1 = X + Attention(X), norm1 = LayerNorm(add1), FFN, add2, norm2 (the
    post-norm 2017 layer, Vaswani et al. 2017 sections 3.1 and 3.3: the explorer's attention
    reads X itself, so its block is post-norm).

    X is the attention's input (``input.out`` with positional encoding, else ``x``). Layer
    norm with γ = 1, β = 0 (PyTorch's start), ε = 1e-5; W1, W2 from
    :func:`sentence_ff_weights`. ``info``: ``input_name`` ("X", or "X + PE"), ``norm``
    ("layer norm"), ``norm_first`` False,
    ``activation``, ``d_ff``, ``writes`` False. Raises ValueError when the attention's
    output is not [n, d_model] (d_v ≠ d_model with one head).
    """
    source = attention.trace
    x = np.asarray(source["input.out"] if "input.out" in source else source["x"])  # [n, d_model]
    attn = np.asarray(attention.output[0])                              # [n, d_model]
    if attn.shape != x.shape:
        raise ValueError(f"expected the attention's output shaped like X {x.shape}, "
                         f"got {attn.shape}")
    n, d_model = x.shape
    w1, b1, w2, b2 = sentence_ff_weights(d_model, seed)
    params = {"norm1.weight": np.ones(d_model), "norm1.bias": np.zeros(d_model),
              "norm2.weight": np.ones(d_model), "norm2.bias": np.zeros(d_model),
              "linear1.weight": w1, "linear1.bias": b1, "linear2.weight": w2,
              "linear2.bias": b2}
    p = ParamView(params, "")
    trace = new_trace()
    trace.record("input", x)
    trace.record("attn_out", attn)
    trace.record("w1", w1)
    trace.record("w2", w2)
    h = sublayer(x, lambda _: attn, p, "norm1", False, EPS, trace, "add1")  # [n, d_model]
    out = sublayer(h, lambda v: feed_forward(v, w1, b1, w2, b2, activation,
                                             trace=trace.scope("ff")),
                   p, "norm2", False, EPS, trace, "add2")                # [n, d_model]
    trace.record("output", out)
    info = {"norm": "layer norm", "norm_first": False, "activation": activation,
            "d_ff": w1.shape[0], "writes": False, "title": "the explorer's sentence",
            "layer_title": "one encoder layer (the 2017 paper)",
            "input_name": "X + PE" if "input.out" in source else "X"}
    return Recording(trace, out, list(attention.tokens), info,
                     walkthrough="block.sentence_block")


#: what the engine records for one layer (under ``layers.<i>.``), by the block's name:
#: :func:`tutor.nn.layers.encoder_layer` (BERT, GPT-2, a toy model's encoder) ...
_ENCODER_LAYER = {"input": "input", "attn_out": "self_attn.out_proj", "add1": "add1",
                  "add2": "add2", "output": "output", "ff.hidden": "ff.hidden",
                  "ff.activated": "ff.activated", "ff.out": "ff.out",
                  "norm1": "norm1", "norm2": "norm2"}
#: ... :func:`tutor.nn.layers.decoder_layer` (a toy model's decoder: its cross-attention too) ...
_DECODER_LAYER = {**_ENCODER_LAYER, "cross_out": "multihead_attn.out_proj", "add_cross": "add2",
                  "add2": "add3", "norm_cross": "norm2", "norm2": "norm3"}
#: (a model family whose layer records other names says so: ``Family.layer_roles``)


def _copy_layer(source, prefix: str, names: dict, trace) -> None:
    """Record the layer's entries (``prefix`` + the engine's name) under the block's names,
    the first batch item of each; a norm's whole scope (mean, var, ... out) is copied."""
    for ours, theirs in names.items():
        if ours.startswith("norm"):
            scope = f"{prefix}{theirs}."
            for name in list(source):
                if name.startswith(scope):
                    trace.record(f"{ours}.{name[len(scope):]}", np.asarray(source[name])[0])
        elif prefix + theirs in source:
            trace.record(ours, np.asarray(source[prefix + theirs])[0])


def model_block(adapter, text: str, layer: int, *, block: str | None = None,
                recording: Recording | None = None) -> Recording:
    """Layer ``layer`` (from 0) of a model (an adapter of :mod:`tutor.walkthroughs.models`)
    on ``text``, as its forward pass computed it, under the block's names (module docstring):
    a Hugging Face model's forward (:meth:`tutor.pretrained.PretrainedModel.forward`) with a
    recording trace, or a toy model's teacher-forced pass
    (:func:`tutor.walkthroughs.toy_heads.toy_model_heads`, its ``recording`` when given),
    ``block`` "encoder" or "decoder" (a decoder layer adds ``cross_out``, ``add_cross``,
    ``norm_cross.*``: its attention over the encoder).

    For a model that writes, ``logits`` [V] are the next-token scores at the last position
    (a Hugging Face model: after the prompt; a toy model: after ``<bos>``, its first output
    token), from the model's own head, and ``info["token_text"]`` (a token id -> its text)
    labels them.
    ``info``: ``side`` (a toy model's "encoder" or "decoder", else None), ``norm``
    ("layer norm" or "RMSNorm"), ``norm_first``, ``activation``
    ("relu", "gelu", "swiglu"), ``d_ff``, ``writes``, ``title``, ``layer_title``,
    ``position`` (the token whose next token ``logits`` scores). Raises TutorError for
    text the model cannot read or a layer it does not have.
    """
    from tutor.errors import TutorError

    trace = new_trace()
    if adapter.kind == "toy":
        side = block or "encoder"
        if side not in ("encoder", "decoder"):
            raise TutorError(f"expected block 'encoder' or 'decoder', got {block!r}")
        if not 0 <= layer < adapter.n_layer(side):
            raise TutorError(f"{adapter.name} has {adapter.n_layer(side)} {side} layers, "
                             f"got layer {layer + 1}")
        recording = recording if recording is not None else adapter.heads(text)
        names = _DECODER_LAYER if side == "decoder" else _ENCODER_LAYER
        _copy_layer(recording.trace, f"transformer.{side}.layers.{layer}.", names, trace)
        config = adapter.model.config
        tokens = list(recording.info["blocks"][0 if side == "encoder" else -1].queries)
        vocab = [str(v) for v in adapter.trained.vocab]
        token_text = vocab.__getitem__
        trace.record("logits", np.asarray(recording["logits"])[0, 0])   # [V], after <bos>
        info = {"norm": "layer norm", "norm_first": bool(config.norm_first),
                "activation": config.activation, "d_ff": config.dim_feedforward,
                "writes": True, "token_text": token_text, "position": "<bos>", "side": side,
                "title": f"{adapter.name} (toy model)",
                "layer_title": f"{side} layer {layer + 1} of {adapter.n_layer(side)}"}
        return Recording(trace, trace["output"], tokens, info, walkthrough="block.model_block")
    model = adapter.model
    if not 0 <= layer < model.config.n_layer:
        raise TutorError(f"{adapter.name} has {model.config.n_layer} layers, got layer "
                         f"{layer + 1}")
    found = adapter.encoding(text)
    ids = np.asarray(found.ids)
    source = new_trace(only=f"layers.{layer}.")                        # the other layers: fast path
    out = model.forward(ids, output_attentions=False, trace=source)
    family = model.family
    _copy_layer(source, f"layers.{layer}.", family.layer_roles or _ENCODER_LAYER, trace)
    config = model.config
    info = {"norm": family.norm_name, "norm_first": bool(config.norm_first),
            "activation": family.activation_name
            or getattr(model.layer_config, "activation", "gelu"),
            "d_ff": int(trace["ff.activated"].shape[-1]), "writes": adapter.writes,
            "title": f"{adapter.name} ({model.family.name})",
            "layer_title": f"layer {layer + 1} of {config.n_layer}", "side": None,
            "position": found.tokens[-1]}
    if adapter.writes:
        logits = model.lm_logits(out.last_hidden_state[-1])             # [V]
        trace.record("logits", logits)
        tokenizer = model.tokenizer
        info["token_text"] = lambda i: (tokenizer.id_to_token(int(i)) or f"#{i}") \
            if tokenizer is not None else f"#{i}"
    return Recording(trace, trace["output"], list(found.tokens), info,
                     walkthrough="block.model_block")


def next_token(logits, *, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, top: int = 10) -> Recording:
    """The distribution ``tutor generate`` samples from, for logits [V]: softmax(logits / T)
    kept to the ``top_k`` most likely and then to the smallest set reaching ``top_p``,
    renormalised: :meth:`tutor.nn.decoding.Sampling.distribution`, the one copy of that
    math. Records ``logits`` [V], ``scaled``, ``kept``, ``sample_probs`` [V] and ``top_ids``
    [top]: the model's ``top`` most likely tokens, best first (ties by the lower id), so the
    tokens top-k and top-p keep come first, then the likeliest they leave out.
    Raises SettingError for temperature <= 0, top_k < 1 or top_p outside (0, 1].
    """
    from tutor.nn.decoding import Sampling

    logits = np.asarray(logits)
    trace = new_trace()
    trace.record("logits", logits)
    rule = Sampling(np.random.default_rng(0), temperature, top_k, top_p)
    scoped = new_trace()
    probs = rule.distribution(logits[None], trace=scoped)[0]            # [V]
    for name in ("scaled", "kept", "sample_probs"):
        trace.record(name, np.asarray(scoped[name])[0])
    scaled = trace["scaled"]
    order = np.argsort(-scaled, kind="stable")[:top]                    # [top] ids, best first
    trace.record("top_ids", order)
    info = {"temperature": rule.temperature, "top_k": rule.top_k, "top_p": rule.top_p}
    return Recording(trace, probs, [], info, walkthrough="block.next_token")
