"""Each head's attention in a trained toy model: one pass of a shipped toy model (``tutor
train``'s reverse, copy, sort, dates) on its source text, recorded, with the attention blocks listed
for a viewer that moves between layers and heads (``tutor explore --model``). A real
pretrained model's heads are :func:`tutor.walkthroughs.pretrained.model_heads`.

A block is one attention of one layer: the encoder's self-attention, the decoder's masked
self-attention, or the decoder's attention over the encoder (cross-attention). Its weights
are recorded as ``[1, n_head, n_q, n_k]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tutor.nn.analysis import head_pattern
from tutor.nn.attention import head_weights
from tutor.nn.masks import causal_mask

from . import Recording, new_trace
from .pretrained import record_head


@dataclass(frozen=True)
class AttentionBlock:
    """One recorded attention: the trace name of the weights and the index before the head
    axis (``key``, ``index``: ``trace[key][index + (head,)]`` is [n_q, n_k]), a title
    ("encoder layer 1 · self-attention"), the tokens of its queries and keys, whether it
    is self-attention (head patterns apply) and whether it is causal (``causal``, keyword
    only: a decoder's or GPT-2's masked self-attention, where query i sees keys j <= i)."""

    key: str
    title: str
    queries: list[str]
    keys: list[str]
    self_attention: bool
    index: tuple = (0,)
    causal: bool = field(kw_only=True)

    def mask(self) -> np.ndarray | None:
        """[n_q, n_k] boolean, True where the block's mask hid the key from the query (above
        the diagonal: :func:`tutor.nn.masks.causal_mask`), or None when nothing was hidden."""
        return causal_mask(len(self.queries), len(self.keys)) if self.causal else None


def toy_model_heads(trained, digits: str) -> Recording:
    """The shipped toy model ``trained`` (a :class:`tutor.training.shipped.TrainedModel`) on
    ``digits``: its greedy answer, then one teacher-forced pass on ``<bos>`` + the answer
    (what the decoder saw while answering), recorded as ``Seq2Seq.logits`` records it
    (``src_embed.*``, ``tgt_embed.*``, ``transformer.encoder.*``, ``transformer.decoder.*``,
    ``logits``). Raises TutorError unless ``digits`` is 1 to 8 digits.

    For a dates model, ``digits`` is a written date ("7 December 2026"), read one token per
    character (the labels of :meth:`~tutor.training.shipped.TrainedModel.source_tokens`).

    ``info``: ``model``, ``task``, ``answer``, ``text`` (the source as written), ``note``
    (dates: :func:`tutor.training.tasks.date_note`, else None), ``blocks`` (a list of
    :class:`AttentionBlock`, encoder layers first, then each decoder layer's self- and
    cross-attention), ``n_layer`` (encoder layers), ``n_head``, and ``patterns``: for each
    block, each head's :func:`tutor.nn.analysis.head_pattern` (a self-attention of at least
    two tokens) or None (cross-attention, or one token).
    """
    from tutor.training.tasks import date_note

    src = trained.encode(digits)                                        # [n] ids
    answer = trained.run(digits)
    tgt = np.array([trained.bos_id] + [trained.vocab.index(d) for d in answer],
                   dtype=np.int64)                                      # [T] ids, <bos> first
    trace = new_trace()
    trained.model.logits(src[None], tgt[None], trace=trace)             # [1, T, n_vocab]
    source = trained.source_tokens(digits)
    target = ["<bos>"] + list(answer)
    config = trained.model.config
    blocks = [AttentionBlock(f"transformer.encoder.layers.{i}.self_attn.weights",
                             f"encoder layer {i + 1} · self-attention", source, source, True,
                             causal=False)
              for i in range(config.num_encoder_layers)]
    for i in range(config.num_decoder_layers):
        blocks.append(AttentionBlock(f"transformer.decoder.layers.{i}.self_attn.weights",
                                     f"decoder layer {i + 1} · masked self-attention",
                                     target, target, True, causal=True))
        blocks.append(AttentionBlock(f"transformer.decoder.layers.{i}.multihead_attn.weights",
                                     f"decoder layer {i + 1} · attention over the encoder",
                                     target, source, False, causal=False))
    patterns = []
    for block in blocks:
        weights = trace[block.key][block.index]                         # [n_head, n_q, n_k]
        labelled = block.self_attention and len(block.queries) >= 2
        hidden = block.mask()
        hidden = hidden if hidden is not None else np.zeros(weights.shape[1:], dtype=bool)
        patterns.append([head_pattern(w, block.queries, mask=hidden) for w in weights]
                        if labelled else None)
    info = {"model": trained.name, "task": trained.task, "answer": answer, "blocks": blocks,
            "n_layer": config.num_encoder_layers, "n_head": config.nhead, "patterns": patterns,
            "text": " ".join(digits.split()),
            "note": date_note(digits) if trained.task == "dates" else None}
    return Recording(trace, answer, source, info, walkthrough="toy_heads.toy_model_heads")


def toy_model_head(trained, digits: str, layer: int, head: int,
                   block: str = "encoder") -> Recording:
    """Head ``head`` of layer ``layer`` (both from 0) of a toy model's encoder self-attention
    (``block="encoder"``) or decoder masked self-attention (``"decoder"``), as the six steps
    of ``tutor attention`` read it: taken from :func:`toy_model_heads`'s recording (nothing
    is computed again), the head's slice of every recorded intermediate ([1, h, n, .] ->
    [n, .]) and of the layer's in_proj weights (:func:`tutor.nn.attention.head_weights`).

    Records ``hidden`` (the layer's input [n, d_model]), ``x`` (X: the same, or norm1's
    output for a pre-norm model), ``w_q``, ``b_q``, ``w_k``, ``b_k``, ``w_v``, ``b_v``
    ([d_model, d_head], [d_head]) and the ATTENTION names (``mask``, ``masked`` for the
    decoder). ``info``: as :func:`tutor.walkthroughs.pretrained.model_head`'s (``layer``,
    ``head`` from 0) with ``block``, ``task``, ``answer``. Raises TutorError for digits the
    model cannot read; layer, head and block are checked by the caller.
    """
    whole = toy_model_heads(trained, digits)
    config = trained.model.config
    d_model, n_head = config.d_model, config.nhead
    d_head = d_model // n_head
    scope = f"transformer.{block}.layers.{layer}"
    attn = f"{scope}.self_attn"
    params = trained.model.params
    weights = head_weights(params[f"{attn}.in_proj_weight"], params[f"{attn}.in_proj_bias"],
                           head, n_head)                                # [d_model, d_head], [d_head]
    trace = new_trace()
    hidden = whole.trace[f"{scope}.input"][0]                           # [n, d_model]
    trace.record("hidden", hidden)
    x = whole.trace[f"{scope}.norm1.out"][0] if config.norm_first else hidden   # [n, d_model]
    trace.record("x", x)
    for name in ("w_q", "b_q", "w_k", "b_k", "w_v", "b_v"):
        trace.record(name, getattr(weights, name))                      # [d_model, d_head] / [d_head]
    record_head(whole.trace.scope(attn), trace, head, head, "toy_heads.toy_model_head")
    tokens = (trained.source_tokens(digits) if block == "encoder"
              else ["<bos>"] + list(whole.info["answer"]))
    info = {"model": trained.name, "model_type": "toy", "embedding_stage": "word + position",
            "n_layer": config.num_encoder_layers,
            "n_head": n_head, "d_model": d_model, "d_head": d_head,
            "causal": block == "decoder", "norm_first": bool(config.norm_first),
            "layer": layer, "head": head, "tokens": tokens, "sentence": " ".join(tokens),
            "block": block, "task": trained.task, "answer": whole.info["answer"]}
    return Recording(trace, trace["weights"], tokens, info, walkthrough="toy_heads.toy_model_head")
