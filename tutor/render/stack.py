"""The encoder and encoder–decoder walkthroughs, built from what ``Transformer.encode`` /
``decode`` recorded: attention heatmaps per head, add & norm, feed-forward, the output
vectors and the next-token distribution. Nothing here computes. Batched runs show item 1."""

from __future__ import annotations

import numpy as np

from .document import Document, Part, count, unique_labels, weights_caption
from .builder import DocumentBuilder

SHOWN_ITEM = 0           # the batch item shown
# a matrix larger than a sentence's (32 tokens, d_model 64) is drawn by its corner: its first
# WINDOW_ROWS rows and as many columns as fit (at least WINDOW_COLUMNS); --format json has it all.
# A document that would draw more than CELL_BUDGET numbers draws every matrix larger than
# WINDOW_ROWS × WINDOW_ROWS so (6+6 layers of 16 heads on 32 words were 15 MB of text).
WINDOW_ROWS, WINDOW_COLUMNS = 16, 8
LARGE_ROWS, LARGE_COLUMNS = 32, 64
CELL_BUDGET = 40_000


def _corners(doc: Document) -> Document:
    """The matrices of ``doc`` drawn by their corner where they are large (see CELL_BUDGET);
    each title says which part ('rows 1–16 of 512, columns 1–9 of 1024'), so that 512
    positions of d_model 1024 print a page, not 100,000 lines."""
    views = [view for step in doc.steps for part in step.parts for view in part.matrices]
    total = sum(view.values.size for view in views)
    for view in views:
        rows, cols = view.values.shape
        large = rows > LARGE_ROWS or cols > LARGE_COLUMNS or (
            total > CELL_BUDGET and (rows > WINDOW_ROWS or cols > WINDOW_ROWS))
        if view.window is None and large:
            view.window = (WINDOW_ROWS, WINDOW_COLUMNS)
    return doc


def _heads(w: DocumentBuilder, key: str, rows, cols, masked=None) -> list:
    weights = w[key]
    caption = weights_caption(weights[SHOWN_ITEM], text="rows sum to 1")
    return [w.view(f"head {h + 1}", key, rows, cols, index=(SHOWN_ITEM, h), heat=True,
                   masked=masked, row_scaled=True,
                   caption=caption if h == weights.shape[1] - 1 else "")
            for h in range(weights.shape[1])]


def _favourite(w: DocumentBuilder, key: str, rows, cols) -> str:
    weights = w[key][SHOWN_ITEM, 0]                                             # head 1
    r = len(rows) - 1
    c = int(np.argmax(weights[r]))
    return f"in head 1, {rows[r]} attends most to {cols[c]} ({w.fmt(weights[r, c], False)})"


def _sublayer_steps(w: DocumentBuilder, prefix: str, n: int, name: str, rows, norm_first: bool,
                    detail: str, title: str) -> None:
    """Add & norm around sublayer ``name`` (attention output or feed-forward)."""
    if detail != "full":
        return
    add, norm = f"{prefix}.add{n}", f"{prefix}.norm{n}.out"
    if norm_first:
        formula, latex = f"x + {name}(LayerNorm(x))", r"x + F(\mathrm{LN}(x))"
        mats = [w.view(f"norm{n}(x)", norm, rows, index=(SHOWN_ITEM,)), w.view("x + …", add, rows, index=(SHOWN_ITEM,))]
        meaning = ("Pre-norm: the sublayer sees the normalised x, and its output is added to x "
                   "itself, the sublayer's own input before the norm.")
    else:
        formula, latex = f"LayerNorm(x + {name}(x))", r"\mathrm{LN}(x + F(x))"
        mats = [w.view("x + sublayer", add, rows, index=(SHOWN_ITEM,)),
                w.view(f"norm{n}", norm, rows, index=(SHOWN_ITEM,))]
        meaning = ("The residual added is the sublayer's own input x; then each row is "
                   "normalised to mean 0 and variance 1, then scaled by the learned γ and "
                   "shifted by the learned β.")
    w.step(title, formula, latex, Part("", mats, [], meaning), key=f"{prefix}.add{n}")


def _ff_step(w: DocumentBuilder, prefix: str, rows, detail: str) -> None:
    if detail != "full":
        return
    w.step("Feed-forward", "FFN(x) = act(x·W1ᵀ + b1)·W2ᵀ + b2, each position on its own",
           r"\mathrm{FFN}(x) = \phi(xW_1^\top + b_1)W_2^\top + b_2",
           Part("", [w.view("act(hidden)", f"{prefix}.ff.activated", rows, index=(SHOWN_ITEM,)),
                     w.view("FFN", f"{prefix}.ff.out", rows, index=(SHOWN_ITEM,))], [],
                "The same two-layer network is applied to every position separately: attention "
                "mixes positions, the feed-forward transforms each one."), key=f"{prefix}.ff")


def encoder_steps(w: DocumentBuilder, labels, n_layers: int, norm_first: bool, detail: str,
                  final_norm: bool = True) -> None:
    for i in range(n_layers):
        prefix = f"encoder.layers.{i}"
        key = f"{prefix}.self_attn.weights"
        w.step(f"Encoder layer {i + 1}: self-attention", "softmax(Q·Kᵀ/√dk) per head",
               r"\mathrm{softmax}(QK^\top/\sqrt{d_k})",
               Part("", _heads(w, key, labels, labels),
                    [_favourite(w, key, labels, labels)],
                    "Each head's weights: a row is a query token, a column the key it looks at."),
               key=f"{prefix}.self_attn")
        _sublayer_steps(w, prefix, 1, "SelfAttention", labels, norm_first, detail,
                        "Add & norm after self-attention")
        _ff_step(w, prefix, labels, detail)
        _sublayer_steps(w, prefix, 2, "FFN", labels, norm_first, detail,
                        "Add & norm after the feed-forward")
        if detail != "full":
            w.step(f"Encoder layer {i + 1}: output", "after add & norm, feed-forward, add & norm",
                   r"x_{l+1}", Part("", [w.view("output", f"{prefix}.output", labels, index=(SHOWN_ITEM,))],
                                    [], "Each token's vector after this layer (--detail full "
                                        "shows the add & norm and feed-forward steps)."),
                   key=f"{prefix}.output")
    if not final_norm:                                                 # nn.TransformerEncoder(norm=None)
        w.step("Contextual vectors", "memory = last layer's output (this encoder has no final "
               "norm)", r"\mathrm{memory} = x_N",
               Part("", [w.view("memory", f"encoder.layers.{n_layers - 1}.output", labels,
                                index=(SHOWN_ITEM,))], [],
                    "One vector per source token that now carries its context; the decoder's "
                    "encoder–decoder attention reads these."), key="memory")
        return
    w.step("Contextual vectors", "memory = LayerNorm(last layer's output)",
           r"\mathrm{memory} = \mathrm{LN}(x_N)",
           Part("", [w.view("memory", "encoder.norm.out", labels, index=(SHOWN_ITEM,))], [],
                "One vector per source token that now carries its context; the decoder's "
                "encoder–decoder attention reads these." + final_norm_note(
                    w, f"encoder.layers.{n_layers - 1}.output", "encoder.norm.out", norm_first)),
           key="memory")


def final_norm_note(w: DocumentBuilder, last_output: str, final: str, norm_first: bool) -> str:
    """Why the final norm changes little (post-norm) or much (pre-norm), from the numbers."""
    change = float(np.max(np.abs(np.asarray(w[final]) - np.asarray(w[last_output]))))
    if norm_first:
        return (f" The layers are pre-norm: each ends with an unnormalised residual sum, so "
                f"this final norm is what brings the rows to mean 0 and variance 1 (it "
                f"changes them by up to {change:.2g}).")
    if change < 1e-3:
        return (f" The layers are post-norm: the last one already ended with a layer norm, so "
                f"its rows have mean 0 and variance 1 and normalising them again changes them "
                f"by at most {change:.2g}: that is why the numbers repeat the previous step's. "
                f"PyTorch's nn.Transformer applies this final norm all the same.")
    return (f" The layers are post-norm: the last one already ended with a layer norm, but its "
            f"learned γ and β moved the rows away from mean 0 and variance 1, so this final "
            f"norm changes them by up to {change:.2g}.")


def input_step(w: DocumentBuilder, labels, scope: str, name: str, sentence: bool,
               words: str = "derived") -> None:
    if sentence:
        what = {"glove": "GloVe 6B word vectors (50 numbers each, looked up lower-case)",
                "derived": "Word vectors (derived from each word)"}.get(words, f"Word vectors ({words})")
        w.step(f"{name} input: embedding + positional encoding", "X + PE", r"X + PE",
               Part("", [w.view("X", f"{scope}.embedded", labels),
                         w.view("X + PE", f"{scope}.out", labels)], [],
                    f"{what} plus sinusoidal positional encodings."), key=scope)
    else:
        w.step(f"{name} input", "already-embedded vectors", r"X",
               Part("", [w.view("X", scope, labels, index=(SHOWN_ITEM,))], [],
                    "The vectors as given (no positional encoding is added)."), key=scope)


def encode_document(trace, labels, *, precision, n_layers, norm_first, detail, sentence,
                    settings, final_norm: bool = True) -> Document:
    w = DocumentBuilder(trace, precision)
    labels = unique_labels(labels)
    input_step(w, labels, "input" if sentence else "src", "Source", sentence,
               settings.get("embeddings", "derived"))
    encoder_steps(w, labels, n_layers, norm_first, detail, final_norm)
    return _corners(w.document("encode", f"Encoder on \"{' '.join(labels)}\"" if sentence else
                      "Encoder on the given vectors", labels, settings,
                      subtitle=f"{count(len(labels), 'token')}, d_model = {settings['d_model']}, "
                               f"{count(settings['heads'], 'head')}, {count(n_layers, 'layer')}"))


def transformer_document(recording, *, precision, detail, settings) -> Document:
    """A ``stack.transform`` recording: the inputs, the encoder's layers (``detail`` "summary"
    or "full"), the memory, the decoder's masked self-attention and encoder–decoder attention
    per layer, its output and, for sentences, the next-word distribution. ``settings``: what
    the document's JSON and subtitle report (``d_model``, ``heads``, ``weights`` ...)."""
    trace, info = recording.trace, recording.info
    src_labels, tgt_labels, causal, vocab = (info[k] for k in ("src_labels", "tgt_labels",
                                                               "causal", "vocab"))
    n_enc, n_dec, norm_first, sentence = (info[k] for k in ("n_enc", "n_dec", "norm_first",
                                                            "sentence"))
    w = DocumentBuilder(trace, precision)
    src, tgt = unique_labels(src_labels), unique_labels(tgt_labels)
    input_step(w, src, "src_input" if sentence else "src", "Source", sentence,
               settings.get("embeddings", "derived"))
    encoder_steps(w, src, n_enc, norm_first, detail)
    input_step(w, tgt, "tgt_input" if sentence else "tgt", "Target", sentence,
               settings.get("embeddings", "derived"))
    for i in range(n_dec):
        prefix = f"decoder.layers.{i}"
        key = f"{prefix}.self_attn.weights"
        mask_key = f"{prefix}.self_attn.mask"                          # as the engine applied it
        hidden = (np.isneginf(np.broadcast_to(w[mask_key], w[key].shape))[SHOWN_ITEM, 0]
                  if mask_key in w else None)
        w.step(f"Decoder layer {i + 1}: masked self-attention",
               "softmax(Q·Kᵀ/√dk + M), M = -inf above the diagonal" if causal
               else "softmax(Q·Kᵀ/√dk)",
               r"\mathrm{softmax}(QK^\top/\sqrt{d_k} + M)" if causal
               else r"\mathrm{softmax}(QK^\top/\sqrt{d_k})",
               Part("", _heads(w, key, tgt, tgt, hidden), [_favourite(w, key, tgt, tgt)],
                    "Lower-triangular: each target word sees itself and the words before it, "
                    "never later ones, so training on whole sentences cannot peek ahead."
                    if causal else "No mask: every target word sees every other."),
               key=f"{prefix}.self_attn")
        _sublayer_steps(w, prefix, 1, "SelfAttention", tgt, norm_first, detail,
                        "Add & norm after masked self-attention")
        key = f"{prefix}.multihead_attn.weights"
        w.step(f"Decoder layer {i + 1}: encoder–decoder attention",
               "softmax(Q_tgt·K_memᵀ/√dk): queries from the decoder, keys and values from memory",
               r"\mathrm{softmax}(Q_{tgt}K_{mem}^\top/\sqrt{d_k})",
               Part("", _heads(w, key, tgt, src), [_favourite(w, key, tgt, src)],
                    "Rows are target words, columns source words: where each target word "
                    "looks in the source sentence."), key=f"{prefix}.multihead_attn")
        _sublayer_steps(w, prefix, 2, "CrossAttention", tgt, norm_first, detail,
                        "Add & norm after encoder–decoder attention")
        _ff_step(w, prefix, tgt, detail)
        _sublayer_steps(w, prefix, 3, "FFN", tgt, norm_first, detail,
                        "Add & norm after the feed-forward")
    w.step("Decoder output vectors", "out = LayerNorm(last decoder layer's output)",
           r"\mathrm{LN}(y_N)",
           Part("", [w.view("output", "decoder.norm.out", tgt, index=(SHOWN_ITEM,))], [],
                "One vector per target position; the last one predicts the next word."
                + final_norm_note(w, f"decoder.layers.{n_dec - 1}.output", "decoder.norm.out",
                                  norm_first)),
           key="output")
    if vocab:
        probs = w["next.softmax.out"]
        best = int(np.argmax(probs))
        w.step("Next-token distribution", "p = softmax(out_last · Eᵀ) over the vocabulary",
               r"p = \mathrm{softmax}(h E^\top)",
               Part("", [w.view("logits", "next.logits", ["h·Eᵀ"], vocab)],
                    [f"most likely next word: {vocab[best]} "
                     f"({w.fmt(probs[best] * 100, False)}%)"],
                    "The last output vector is scored against the embedding of every word of "
                    "the two sentences (an output layer tied to the embeddings), then softmax. "
                    + ("The model is untrained, so the guess means nothing yet; the steps are "
                     "what a trained model does." if settings.get("weights") != "file" else
                     "With your weights the guess is as good as the model; the output layer "
                     "here is tied to these word vectors, not learned with the model."),
                    charts=[w.chart("p(next word)", "next.softmax.out", vocab)]),
               key="next")
    return _corners(w.document("transformer", "Encoder–decoder" + (
        f": \"{' '.join(src)}\" → \"{' '.join(tgt)}\"" if sentence else " on the given vectors"),
        src + tgt, settings,
        subtitle=f"{len(src)} source, {count(len(tgt), 'target token')}, d_model = "
                 f"{settings['d_model']}, {count(settings['heads'], 'head')}"))
