"""Today's parts beside the 2017 ones: RMSNorm, RoPE, grouped-query attention, gated
feed-forward, block quantization, online softmax, byte-level BPE and decoder-only with
its tied head, built from what
:mod:`tutor.walkthroughs.modern` recorded. Nothing here computes a result: the few sums
written out are the recorded numbers put in words."""

from __future__ import annotations

import numpy as np

from .builder import DocumentBuilder
from .document import (Document, MatrixView, Part, cut, dim_labels, factor, format_number,
                       percent)
from .feed_forward import hidden_labels


def _bytes(n: float) -> str:
    """1,234,567 bytes as '1.23 MB' (decimal units), below 10 kB as the count."""
    n = float(n)
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= 10 * size or (unit != "kB" and n >= size):
            return f"{n / size:.2f} {unit}"
    return f"{int(n):,} bytes"


def _terms(values, fmt, limit: int = 4) -> str:
    items = [fmt(v) for v in values[:limit]]
    return " + ".join(items) + (" + …" if len(values) > limit else "")


# --- RMSNorm ---------------------------------------------------------------------------------

def rmsnorm_document(trace, *, precision: int, eps: float) -> Document:
    """RMSNorm step by step, then layer norm on the same numbers, RMSNorm of x − μ (equal to
    layer norm) and what RMSNorm saves."""
    w = DocumentBuilder(trace, precision)
    x, g = w["input"], w["gamma"]
    d = x.shape[-1]
    cols = dim_labels(d)
    ms, rms = float(w["rms.mean_square"][0]), float(w["rms.rms"][0])
    squares = _terms(x, lambda v: f"{factor(w.fmt(v))}²")
    w.step("Mean square", "ms = (1/d) Σ x_j²", r"\mathrm{ms} = \frac{1}{d}\sum_j x_j^2",
           Part("", [w.view("x", "input", ["x"], cols),
                     w.view("mean(x²)", "rms.mean_square", ["ms"], ["ms"])],
                [f"ms = ({squares}) / {d} = {w.fmt(ms)}"],
                "The mean of the squares: no mean is subtracted first, so the numbers keep "
                "their offset."), key="mean_square")
    n = w["rms.normalized"]
    w.step("Divide by the root mean square", "n = x / √(ms + ε)",
           r"\hat x = x / \sqrt{\mathrm{ms} + \epsilon}",
           Part("", [w.view("rms", "rms.rms", ["rms"], ["rms"]),
                     w.view("n", "rms.normalized", ["n"], cols)],
                [f"rms = √({w.fmt(ms)} + {eps:g}) = {w.fmt(rms)}",
                 f"n1 = {w.fmt(x[0])} / {w.fmt(rms)} = {w.fmt(n[0])}"],
                "Now the numbers have root mean square 1 (up to ε); their mean is whatever it "
                "was, divided by the rms."), key="normalize")
    w.step("Scale", "y = g ⊙ n", r"y = g \odot \hat x",
           Part("", [w.view("y", "rms.out", ["y"], cols)],
                [f"y1 = {w.fmt(g[0])} × {factor(w.fmt(n[0]))} = {w.fmt(w['rms.out'][0])}"],
                "One learned gain per feature and no shift β: RMSNorm has half layer norm's "
                "parameters."), key="scale")
    mean, var = float(w["layer.mean"][0]), float(w["layer.var"][0])
    w.step("Layer norm on the same numbers", "y = g ⊙ (x − μ) / √(σ² + ε)",
           r"y = g \odot (x-\mu)/\sqrt{\sigma^2+\epsilon}",
           Part("", [w.view("layer norm", "layer.out", ["y"], cols),
                     w.view("RMSNorm", "rms.out", ["y"], cols)],
                [f"μ = {w.fmt(mean)}, σ² = {w.fmt(var)}: layer norm centres the numbers, "
                 f"RMSNorm does not"],
                "The two differ by the mean: with μ = 0 they are the same numbers. A network "
                "trained with RMSNorm learns to do without the centring (Zhang & Sennrich "
                "2019: the re-centring barely matters, the re-scaling does)."), key="layernorm")
    w.step("RMSNorm of x − μ is layer norm", "RMSNorm(x − μ) = LayerNorm(x)",
           r"\mathrm{RMSNorm}(x-\mu) = \mathrm{LayerNorm}(x)",
           Part("", [w.view("RMSNorm(x − μ)", "centered.out", ["y"], cols)],
                [f"ms of x − μ = {w.fmt(w['centered.mean_square'][0])} = σ²"],
                "The mean square of centred numbers is their variance, so dropping the mean is "
                "the whole difference between the two."), key="centered")
    counts = w["counts"]
    w.step("What RMSNorm saves", "per vector of d numbers",
           r"\text{operations per vector}",
           Part("", [w.view("operations", "counts", ["layer norm", "RMSNorm"],
                            ["ops", "reductions", "params"])],
                [f"layer norm: 7d + 2 = {int(counts[0, 0])} operations, "
                 f"RMSNorm: 4d + 2 = {int(counts[1, 0])} (d = {d})"],
                "RMSNorm skips the mean (a pass over the numbers that must finish before the "
                "next can start), the d subtractions and the shift β: about 40% fewer "
                "operations and one reduction instead of two."), key="counts")
    return w.document("rmsnorm", "RMSNorm beside layer norm", [], {"d": d, "eps": eps},
                      subtitle=f"d = {d}, ε = {eps:g}")


# --- RoPE ------------------------------------------------------------------------------------

def rope_document(trace, tokens: list[str], *, precision: int, base: float,
                  sentence: bool) -> Document:
    """RoPE's angles, the rotated queries, the scores that depend on m − n only, sinusoidal
    encodings beside it and the two layouts."""
    w = DocumentBuilder(trace, precision)
    q = w["queries"]
    n, d = q.shape
    rows = [f"{t} @{i}" for i, t in enumerate(tokens)] if sentence else \
        [f"p{i}" for i in range(n)]
    pairs = [f"θ{i}" for i in range(d // 2)]
    theta = w["rope.theta"]
    w.step("One angle per pair", "θ_i = base^(−2i/d)", r"\theta_i = b^{-2i/d}",
           Part("", [w.view("θ", "rope.theta", ["θ"], pairs)],
                [f"θ1 = {base:g}^(−2/{d}) = {format_number(theta[1], max(precision, 4))}"
                 if d > 2 else f"θ0 = {base:g}^0 = 1"],
                "Pair i turns by θ_i per position: pair 0 fast (1 radian a step), the last "
                "pairs slowly, the same frequencies as the sinusoidal table."), key="theta")
    angles = w["rope.angles"]
    w.step("Angles", "angle(pos, i) = pos · θ_i", r"\phi_{p,i} = p\,\theta_i",
           Part("", [w.view("pos·θ", "rope.angles", rows, pairs)],
                [f"angle(2, 1) = 2 × {format_number(theta[min(1, d // 2 - 1)], 4)} = "
                 f"{w.fmt(angles[min(2, n - 1), min(1, d // 2 - 1)])}" if n > 2 else
                 "angle(0, i) = 0"], "Position 0 is not turned at all."), key="angles")
    rq = w["rope.out"]
    p = min(1, n - 1)
    w.step("Rotate each pair", "(a, b) → (a cos φ − b sin φ, b cos φ + a sin φ)",
           r"R_{\phi}\begin{pmatrix}a\\b\end{pmatrix}",
           Part("", [w.view("q", "queries", rows, dim_labels(d)),
                     w.view("RoPE(q)", "rope.out", rows, dim_labels(d))],
                [f"pos {p}, pair (d1, d{d // 2 + 1}): {w.fmt(q[p, 0])} cos "
                 f"{w.fmt(angles[p, 0])} − {factor(w.fmt(q[p, d // 2]))} sin "
                 f"{w.fmt(angles[p, 0])} = {w.fmt(rq[p, 0])}"],
                "Each query and key is turned, not shifted: its length stays the same "
                f"(|q| = {w.fmt(w['rope.lengths'][0])} at every position"
                + ("" if not sentence else " of the same word") + "). "
                + "Pairs here are (i, i + d/2), Hugging Face's layout."), key="rotate")
    offset = w["offset"]
    worked = [f"score(q at {int(m)}, k at {int(k)}): m − n = {int(diff)}, {w.fmt(s)}"
              for m, k, diff, s in offset]
    w.step("Scores depend on m − n only", "RoPE(q, m)·RoPE(k, n) = q·R(n − m)·k",
           r"(R_m q)^\top (R_n k) = q^\top R_{n-m} k",
           Part("", [w.view("RoPE(q)·RoPE(k)", "scores.rope", rows, rows)], worked,
                "Turning both by their positions leaves the angle between them: what is left "
                "is a turn by the offset. " + ("Every diagonal of the table holds one number."
                                                if not sentence else
                                                "The same two words at the same offset get "
                                                "the same score anywhere in a text.")),
           key="offset")
    w.step("Sinusoidal encodings instead (2017)", "(q + PE(m))·(k + PE(n))",
           r"(q + PE_m)^\top (k + PE_n)",
           Part("", [w.view("PE", "sinusoidal.pe", rows, dim_labels(d)),
                     w.view("(q + PE)·(k + PE)", "scores.sinusoidal", rows, rows)],
                [], "Added encodings mix position into the vectors themselves: the score "
                    "depends on m and n each, and on q·PE and PE·k cross terms."),
           key="sinusoidal")
    w.step("Both layouts, the same scores", "pairs (2i, 2i+1) on permuted vectors",
           r"P q,\ P k",
           Part("", [w.view("scores, pairs layout", "layouts.scores", rows, rows)],
                [f"largest difference from the halves layout: "
                 f"{float(w['layouts.max_diff']):.1e}"],
                "llama.cpp rotates adjacent pairs and permutes the rows of W_Q and W_K to "
                "match; Hugging Face rotates (i, i + d/2). A permutation keeps every dot "
                "product, so the scores agree to rounding."), key="layouts")
    return w.document("rope", "Rotary position embedding (RoPE)", list(tokens),
                      {"d": d, "positions": n, "base": base},
                      subtitle=f"d = {d}, {n} positions, base {base:g}")


# --- grouped-query attention -----------------------------------------------------------------

def gqa_document(trace, tokens: list[str], *, precision: int, heads: int, kv_heads: int,
                 context: int) -> Document:
    """Which query heads share which key/value head, each group's six steps, equality with
    multi-head attention on repeated keys and values, and the cache in bytes per token
    (SmolLM2's for ``context`` tokens, the walkthrough's ``info["context"]``)."""
    w = DocumentBuilder(trace, precision)
    group = heads // kv_heads
    d_head = w["q"].shape[-1]
    cols = dim_labels(d_head)
    shared = MatrixView("key/value head of each query head", "group",    # counted from 1,
                        np.asarray(w["group"])[None, :] + 1, ["kv head"],  # as the panels are
                        [f"q{h + 1}" for h in range(heads)],
                        caption="heads counted from 1, as below (the recorded group counts "
                                "from 0)")
    w.step("Query heads share key/value heads", "query head h reads key/value head ⌈h / g⌉",
           r"\mathrm{kv}(h) = \lceil h / g \rceil",
           Part("", [shared],
                [f"g = {heads} / {kv_heads} = {group} query heads per key/value head",
                 f"query head {heads} reads key/value head ⌈{heads} / {group}⌉ = {kv_heads}"],
                f"{heads} query heads, {kv_heads} key/value heads: each key and value is "
                f"computed once and read by {group} heads."), key="groups")
    for g in range(kv_heads):
        members = list(range(g * group, (g + 1) * group))
        parts = [Part(f"key/value head {g + 1}",
                      [w.view("K", "k", tokens, cols, index=(g,)),
                       w.view("V", "v", tokens, cols, index=(g,))], [],
                      f"Shared by query heads {', '.join(str(h + 1) for h in members)}.")]
        for h in members:
            weights = w["gqa.weights"][0, h]
            parts.append(Part(f"query head {h + 1}",
                              [w.view("Q", "q", tokens, cols, index=(h,)),
                               w.view("Q·Kᵀ", "gqa.scores", tokens, tokens, index=(0, h)),
                               w.view("weights", "gqa.weights", tokens, tokens,
                                      index=(0, h), heat=True),
                               w.view("out", "gqa.out", tokens, cols, index=(0, h))],
                              [f"{tokens[0]} → {tokens[int(weights[0].argmax())]}: "
                               f"{w.fmt(weights[0].max())}"],
                              f"Q·Kᵀ with the group's keys, ÷ √{d_head}, softmax per row, "
                              f"weights·V with the group's values."))
        w.step(f"Group {g + 1}: the six steps", "softmax(Q_h K_g^T / √d) V_g",
               r"\mathrm{softmax}(Q_h K_g^\top/\sqrt{d})V_g", parts, key=f"group{g + 1}")
    diff = float(w["mha.max_diff"])
    w.step("Equal to multi-head attention with K, V repeated", "repeat_kv(K), repeat_kv(V)",
           r"\mathrm{MHA}(Q, \mathrm{rep}(K), \mathrm{rep}(V))",
           Part("", [w.view("MHA out, head 1", "mha.out", tokens, cols, index=(0, 0))],
                [f"largest difference from GQA: {diff:.1e}"],
                "Copying each key/value head g times gives ordinary multi-head attention: GQA "
                "is the same computation with fewer distinct keys and values to store."),
           key="equal")
    smol = w["cache.smollm2"]
    rows = ["MHA", "GQA", "MQA"]
    whole = w["cache.context"]
    w.step("The cache, bytes per token", "2 × layers × kv heads × d_head × 4 bytes",
           r"2 L\,h_{kv}\,d_{head} \cdot 4",
           [Part("here (one layer, float32)", [w.view("cache", "cache.here", rows,
                                                       ["kv heads", "bytes"])], [], ""),
            Part("SmolLM2-135M (30 layers, 9 heads, head 64)",
                 [w.view("cache", "cache.smollm2", rows, ["kv heads", "bytes"])],
                 [f"GQA: 2 × 30 × 3 × 64 × 4 = {int(smol[1, 1]):,} bytes a token, "
                  f"{smol[0, 1] / smol[1, 1]:g}× less than MHA's {int(smol[0, 1]):,}"],
                 f"At {context:,} tokens: {_bytes(whole[1])} instead of "
                 f"{_bytes(whole[0])}. MQA (one key/value head) saves most and "
                 f"loses most quality; GQA sits between."),
            Part(f"SmolLM2-135M, a context of {context:,} tokens",
                 [w.view("cache", "cache.context", ["bytes"], rows)], [], "")], key="cache")
    return w.document("gqa", "Grouped-query attention", list(tokens),
                      {"heads": heads, "kv_heads": kv_heads, "d_head": d_head},
                      subtitle=f"{heads} query heads, {kv_heads} key/value heads, "
                               f"d_head = {d_head}")


# --- feed-forward ----------------------------------------------------------------------------

def ffn_document(trace, tokens: list[str], *, precision: int, kind: str) -> Document:
    """One feed-forward block of the kind asked, the gate visible for swiglu, and the
    parameter counts of every kind."""
    w = DocumentBuilder(trace, precision)
    x = w["x"]
    d_model = x.shape[1]
    if kind == "swiglu":
        d_ff = w["swiglu.gate"].shape[1]
        hid = hidden_labels(d_ff)
        gate, act = w["swiglu.gate"], w["swiglu.silu"]
        w.step("Gate and up projections", "x·W_gate, x·W_up", r"xW_g,\ xW_u",
               Part("", [w.view("x·W_gate", "swiglu.gate", tokens, hid),
                         w.view("x·W_up", "swiglu.up", tokens, hid)], [],
                    "Two projections of the same x to d_ff: one becomes the gate, one the "
                    "values it lets through."), key="project")
        w.step("The gate: SiLU", "SiLU(z) = z / (1 + e^(−z))", r"\mathrm{SiLU}(z)=z\,\sigma(z)",
               Part("", [w.view("SiLU(x·W_gate)", "swiglu.silu", tokens, hid)],
                    [f"SiLU({w.fmt(gate[0, 0])}) = {w.fmt(gate[0, 0])} / (1 + e^"
                     f"{factor(w.fmt(-gate[0, 0]))}) = {w.fmt(act[0, 0])}"],
                    "Near 0 for large negative z, near z for large positive z: smooth, and "
                    "slightly negative below 0 (least −0.28, at z ≈ −1.28)."), key="gate")
        up, hidden = w["swiglu.up"], w["swiglu.hidden"]
        w.step("Gate times up", "h = SiLU(x·W_gate) ⊙ x·W_up", r"h = \mathrm{SiLU}(xW_g)\odot xW_u",
               Part("", [w.view("h", "swiglu.hidden", tokens, hid)],
                    [f"h11 = {w.fmt(act[0, 0])} × {factor(w.fmt(up[0, 0]))} = "
                     f"{w.fmt(hidden[0, 0])}"],
                    "Each hidden unit is a product: the gate, computed from x, decides how "
                    "much of the up value passes."), key="hidden")
        w.step("Down projection", "y = h·W_down", r"y = hW_d",
               Part("", [w.view("y", "swiglu.out", tokens, dim_labels(d_model))], [],
                    "Back to d_model, added to the residual stream."), key="down")
    else:
        d_ff = w["ff.hidden"].shape[1]
        hid = hidden_labels(d_ff)
        name = "ReLU" if kind == "relu" else "GELU"
        w.step("Up projection", "x·W1", r"xW_1",
               Part("", [w.view("x·W1", "ff.hidden", tokens, hid)], [],
                    "One projection to d_ff."), key="project")
        hidden, act = w["ff.hidden"], w["ff.activated"]
        w.step(name, f"{name}(x·W1)", rf"\mathrm{{{name}}}(xW_1)",
               Part("", [w.view(name, "ff.activated", tokens, hid)],
                    [f"{name}({w.fmt(hidden[0, 0])}) = {w.fmt(act[0, 0])}"],
                    "The activation of each unit depends on that unit alone: no gate."),
               key="activation")
        w.step("Down projection", "y = act·W2", r"y = \mathrm{act}\,W_2",
               Part("", [w.view("y", "ff.out", tokens, dim_labels(d_model))], [],
                    "Back to d_model."), key="down")
    params = w["params"]
    smol = w["params_smollm2"]
    w.step("Parameters of each kind", "2·d·d_ff (ReLU, GELU), 3·d·d_ff (SwiGLU)",
           r"2 d\,d_{ff}\ \text{vs}\ 3 d\,d_{ff}",
           [Part(f"here (d_model = {d_model})",
                 [w.view("weights", "params", ["relu", "gelu", "swiglu", "swiglu ⅔"],
                         ["d_ff", "weights"])],
                 [f"SwiGLU at ⅔·{int(params[0, 0])} = {int(params[3, 0])}: "
                  f"{int(params[3, 1])} weights"],
                 "SwiGLU has three matrices, so at equal size its hidden width is ⅔ of a "
                 "two-matrix network's."),
            Part("SmolLM2-135M (d_model 576)",
                 [w.view("weights", "params_smollm2", ["swiglu", "relu equal"],
                         ["d_ff", "weights"])],
                 [f"3 × 576 × 1536 = {int(smol[0, 1]):,} = 2 × 576 × 2304"],
                 "SmolLM2's 1536 is ⅔ of 2304 = 4 × 576, the 2017 paper's d_ff = 4·d_model.")],
           key="params")
    return w.document("ffn", f"Feed-forward: {kind}", list(tokens),
                      {"kind": kind, "d_model": d_model, "d_ff": d_ff},
                      subtitle=f"{kind}, d_model = {d_model}, d_ff = {d_ff}")


# --- quantization ----------------------------------------------------------------------------

def quantize_document(trace, *, precision: int, kind: str, stored: dict | None = None
                      ) -> Document:
    """One or more GGML blocks taken apart: scale (and minimum), codes, reconstruction and
    error, bits per weight and SmolLM2's memory at each type. ``stored`` (the recording's
    info: tensor, block, source) for a block read from a model file: then there is no
    original to compare with, and the numbers are the ones the model computes with."""
    w = DocumentBuilder(trace, precision)
    digits = max(precision, 4)
    q, rec = w["codes"], w["reconstruction"]
    n = q.shape[0]
    cols = [f"x{i + 1}" for i in range(n)]
    blocks = w["scale"].shape[0]
    bl = [f"block {i + 1}" for i in range(blocks)] if stored is None else \
        [f"block {stored['block']}"]
    d = float(w["scale"][0])
    ds = format_number(d, digits)
    if stored is None:
        if kind == "Q8_0":
            scale_line = f"d = {w.fmt(float(w['amax'][0]))} / 127 = {ds}"
        else:
            scale_line = (f"d = ({w.fmt(float(w['max'][0]))} − "
                          f"{factor(w.fmt(float(w['min'][0])))}) / 15 = {ds}")
        where = "One scale per block of 32 numbers"
    else:
        scale_line = f"d = {ds}, read from {stored['tensor']}, block {stored['block']}"
        where = f"Stored in {stored['source']}: one scale per block of 32 numbers"
    if kind == "Q8_0":
        w.step("The block's scale", "d = max|x| / 127 (stored as float16)",
               r"d = \max|x| / 127",
               Part("", [w.view("d", "scale", bl, ["d"])], [scale_line],
                    where + "; the largest number becomes ±127."), key="scale")
        code_line = (f"q1 = round({w.fmt(w['input'][0])} / {ds}) = {int(q[0])}"
                     if stored is None else f"q1 = {int(q[0])}")
        w.step("Integer codes", "q = round(x / d), −127 … 127", r"q = \mathrm{round}(x/d)",
               Part("", [w.view("q", "codes", ["q"], cols)], [code_line],
                    "One signed byte per number."), key="codes")
        rebuild, worked = "x′ = d · q", f"x′1 = {ds} × {factor(str(int(q[0])))}"
    else:
        m = float(w["min"][0])
        w.step("The block's scale and minimum", "m = min x, d = (max x − min x) / 15",
               r"m = \min x,\ d = (\max x - \min x)/15",
               Part("", [w.view("d", "scale", bl, ["d"]), w.view("m", "min", bl, ["m"])],
                    [scale_line if stored is None else scale_line + f", m = {w.fmt(m)}"],
                    where + " and its minimum (float16 each): the minimum becomes code 0, "
                    "the maximum code 15."), key="scale")
        code_line = (f"q1 = ⌊({w.fmt(w['input'][0])} − {factor(w.fmt(m))}) / {ds} + ½⌋ = "
                     f"{int(q[0])}" if stored is None else f"q1 = {int(q[0])}")
        w.step("4-bit codes", "q = ⌊(x − m) / d + ½⌋, 0 … 15",
               r"q = \lfloor (x-m)/d + 1/2\rfloor",
               Part("", [w.view("q", "codes", ["q"], cols)], [code_line],
                    "Two codes per byte: number j in the low nibble, j + 16 in the high."),
               key="codes")
        rebuild, worked = "x′ = d · q + m", f"x′1 = {ds} × {int(q[0])} + {factor(w.fmt(m))}"
    latex = r"\hat x = d q" + ("" if kind == "Q8_0" else " + m")
    if stored is None:
        w.step("Reconstruction and error", rebuild, latex,
               Part("", [w.view("x", "input", ["x"], cols),
                         w.view("x′", "reconstruction", ["x′"], cols),
                         w.view("x′ − x", "error", ["error"], cols)],
                    [f"{worked} = {format_number(rec[0], digits)}",
                     f"largest |error| = {format_number(float(w['max_error']), digits)}"],
                    "The error is at most about half a step d (plus float16 rounding of d"
                    + (" and m" if kind == "Q4_1" else "") + ")."), key="reconstruct")
    else:
        w.step("The numbers the model computes with", rebuild, latex,
               Part("", [w.view("x′", "reconstruction", ["x′"], cols)],
                    [f"{worked} = {format_number(rec[0], digits)}"],
                    "The file keeps only d" + (", m" if kind == "Q4_1" else "")
                    + " and the codes: the original float weights are gone, and these are "
                    "the numbers every product uses."), key="reconstruct")
    memory, bits = w["memory"], w["bits"]
    types = ["F32", "F16", "Q8_0", "Q4_1"]
    w.step("Bits per weight and SmolLM2's memory", "bytes per block × 8 / 32",
           r"\text{bits} = 8 \cdot \text{bytes} / 32",
           Part("", [w.view("bits per weight", "bits", ["bits"], types),
                     w.view("SmolLM2-135M, bytes", "memory", ["bytes"], types)],
                [f"Q8_0: 34 bytes × 8 / 32 = {bits[2]:g} bits; Q4_1: 20 bytes × 8 / 32 = "
                 f"{bits[3]:g} bits",
                 f"SmolLM2-135M: {_bytes(memory[0])} F32, {_bytes(memory[2])} Q8_0, "
                 f"{_bytes(memory[3])} Q4_1"],
                "Matrices at the type, the norm weights in F32. The shipped file keeps the "
                "embedding in Q8_0, so it is a little larger than all-Q4_1."), key="memory")
    if stored is None:
        return w.document("quantize", f"Block quantization: {kind}", [],
                          {"kind": kind, "numbers": n, "blocks": blocks},
                          subtitle=f"{kind}, {n} numbers in {blocks} block(s) of 32")
    return w.document("quantize", f"A stored {kind} block", [],
                      {"kind": kind, "tensor": stored["tensor"], "block": stored["block"]},
                      subtitle=f"{stored['tensor']}, block {stored['block']} ({kind})")


# --- online softmax --------------------------------------------------------------------------

def flash_document(trace, tokens: list[str], *, precision: int, block: int) -> Document:
    """Keys in blocks: each block's scores, the running max, the rescale, the running sum and
    output; the result beside softmax attention; the memory each holds."""
    w = DocumentBuilder(trace, precision)
    n = w["q"].shape[0]
    d_v = w["v"].shape[1]
    cols = dim_labels(d_v)
    w.step("Queries, keys, values", "Q = X·Wq, K = X·Wk, V = X·Wv", r"Q, K, V",
           Part("", [w.view("Q", "q", tokens), w.view("K", "k", tokens),
                     w.view("V", "v", tokens)], [],
                f"The keys go through in blocks of {block}; no step holds all n×n scores."),
           key="qkv")
    j = 0
    while f"online.block{j}.max" in w:
        keys = tokens[j * block:(j + 1) * block]
        pre = f"online.block{j}"
        m, r, s = w[f"{pre}.max"], w[f"{pre}.rescale"], w[f"{pre}.sum"]
        worked = [f"{tokens[0]}: m = {w.fmt(m[0])}, l = l × {w.fmt(r[0])} + Σ e^(s − m) = "
                  f"{w.fmt(s[0])}"]
        w.step(f"Block {j + 1}: keys {', '.join(keys)}",
               "m' = max(m, max s); l' = l·e^(m − m') + Σ e^(s − m'); "
               "o' = o·e^(m − m') + e^(s − m')·V",
               r"m' = \max(m, \max s),\ \ell' = \ell e^{m-m'} + \sum e^{s-m'}",
               Part("", [w.view("scores", f"{pre}.scores", tokens, keys),
                         w.view("running max m", f"{pre}.max", ["m"], tokens),
                         w.view("rescale e^(m−m')", f"{pre}.rescale", ["×"], tokens),
                         w.view("running sum l", f"{pre}.sum", ["l"], tokens),
                         w.view("running output o", f"{pre}.acc", tokens, cols)],
                    worked,
                    "When a block holds a larger score, what was summed so far is multiplied "
                    "by e^(m_old − m_new): the same as if every exponent had used the new max."
                    if j else "The first block: nothing to rescale (e^(−∞) = 0)."),
               key=f"block{j + 1}")
        j += 1
    w.step("Divide by the sum", "out = o / l", r"\mathrm{out} = o / \ell",
           Part("", [w.view("online softmax", "online.out", tokens, cols),
                     w.view("softmax attention", "reference.out", tokens, cols)],
                [f"largest difference: {float(w['max_diff']):.1e}"],
                "The same numbers as softmax attention, to rounding. tutor's engine runs "
                "this loop for long inputs (scaled_dot_product_attention with "
                "chunk_size)."), key="out")
    mem = w["memory"]
    w.step("Memory", "n² scores vs 2n + n·block", r"O(n^2)\ \text{vs}\ O(n d)",
           Part("", [w.view("numbers held", "memory", ["numbers"],
                            ["softmax n²", "online", "output n·d"])],
                [f"softmax attention: {int(mem[0])} scores; online: {int(mem[1])} "
                 f"(n = {n}, block {block})"],
                "With the output, online softmax holds O(n·d) numbers, softmax attention "
                "O(n²): at n = 8,192 that is 67 million scores a head. FlashAttention keeps "
                "each block in fast on-chip memory."), key="memory")
    return w.document("flash", "Online softmax (FlashAttention's core)", list(tokens),
                      {"block": block, "n": n, "d_v": d_v},
                      subtitle=f"{n} tokens, blocks of {block}")


# --- byte-level BPE --------------------------------------------------------------------------

def _from_one(view: MatrixView, columns: int) -> MatrixView:
    """``view`` with its first ``columns`` columns, positions recorded from 0 (a piece's first
    byte, a merge's piece and symbol), counted from 1 as the screen numbers the bytes."""
    values = np.array(view.values, dtype=np.float64)
    if values.size:
        values[:, :columns] += 1
    view.values = values
    return view


def bpe_document(recording, *, precision: int, shown: int | None = None) -> Document:
    """Byte-level BPE as the walkthrough ``modern.bpe`` recorded it: the bytes and their
    byte-level characters, the pre-tokenized pieces, every merge (pair, rank, the piece
    after; past ``shown`` merges, default ``MAX_BPE_MERGES_SHOWN``, a count on screen and all
    of them in JSON; the table of their numbers shows half as many rows) and the ids."""
    from tutor.limits import MAX_BPE_MERGES_SHOWN

    shown = MAX_BPE_MERGES_SHOWN if shown is None else shown
    table = max(1, shown // 2)                         # rows of the merges' table on screen
    info = recording.info
    w = DocumentBuilder(recording.trace, precision)
    chars, pieces, tokens = info["chars"], info["pieces"], info["tokens"]
    data = w["bytes"]
    n_bytes = data.shape[0]
    wide = n_bytes > 16
    multi = next((i for i, b in enumerate(data) if b >= 0xC0), None)
    worked = [f"'{chars[0]}' is byte {int(data[0])}" if n_bytes else "no bytes"]
    if multi is not None:
        size = 2 if data[multi] < 0xE0 else 3 if data[multi] < 0xF0 else 4
        worked.append("a character of " + str(size) + " bytes: "
                      + " ".join(str(int(b)) for b in data[multi:multi + size]) + " → "
                      + " ".join(chars[multi:multi + size]))
    if 32 in data:
        worked.append("a space is byte 32, spelled Ġ")
    w.step("The text as bytes", "bytes = UTF-8(text); each byte → one character",
           r"\text{bytes} = \mathrm{UTF8}(\text{text})",
           Part("", [w.view("UTF-8 bytes", "bytes", ["byte"], chars,
                            window=(1, 16) if wide else None)], worked,
                "Every text is a row of bytes (0–255), so no word is ever unknown. GPT-2's "
                "table spells each byte as a printable character (a space is Ġ, a newline Ċ): "
                "the vocabulary and the merges are strings of those."), key="bytes")
    rows = w["pieces"]
    split = " | ".join(pieces)
    w.step("Pre-tokenization", "pieces = the model's regex split (added tokens kept whole)",
           r"\text{pieces} = \mathrm{split}(\text{text})",
           Part("", [_from_one(w.view("pieces", "pieces", pieces,
                                      ["first byte", "bytes", "added"],
                                      window=(16, 3) if len(pieces) > 16 else None), 1)],
                [cut(split, 70)],
                "The split of the model's tokenizer (the tokenizers library runs it): a word "
                "with the space before it, punctuation apart, digits one by one in SmolLM2. "
                "No merge crosses a piece's edge; an added token such as <|im_start|> is one "
                "token and never merged."), key="split")
    merges, pairs, after = w["merges"], info["pairs"], info["after"]
    m = merges.shape[0]
    lines = []
    for j in range(min(m, shown)):
        piece, _, rank, _ = (int(v) for v in merges[j])
        left, right = pairs[j]
        lines.append(cut(f"rank {rank}: {left} + {right} → {' '.join(after[j])}", 70))
    if m > shown:
        lines.append(f"… {m - shown} more merges ({m} in all; --format json lists every one)")
    if not m:
        lines.append("no pair of adjacent symbols has a rank: every piece stays as bytes")
    labels = [f"{a} + {b}" for a, b in pairs]
    w.step("Merges, the lowest rank first", "repeat: merge the adjacent pair of lowest rank",
           r"(a, b) = \arg\min_{\text{adjacent}} \mathrm{rank}(a, b)",
           Part("", [_from_one(w.view("merges", "merges", labels or ["none"],
                                      ["piece", "at", "rank", "id"],
                                      window=(table, 4) if m > table else None), 2)], lines,
                "Within each piece, start from its bytes and merge the adjacent pair the "
                "tokenizer learned first (the lowest rank), again and again, until no pair "
                "is in the list. The merged symbol is a token of the vocabulary."),
           key="merges")
    agrees = info.get("agrees")
    w.step("The model's ids", "ids = vocab[token] for every final symbol",
           r"\text{ids} = \mathrm{vocab}[t]",
           Part("", [w.view("ids", "ids", ["id"], tokens,
                            window=(1, 16) if len(tokens) > 16 else None)],
                [f"{n_bytes} bytes → {len(tokens)} tokens after {m} merges",
                 "the tokenizers library gives the same ids" if agrees else
                 "the tokenizers library gives other ids"],
                "These ids are what the model reads: row id of its embedding matrix."),
           key="ids")
    return w.document("bpe", "Byte-level BPE", list(tokens),
                      {"source": info["source"], "bytes": n_bytes, "merges": m},
                      subtitle=f"{n_bytes} bytes, {len(pieces)} pieces, {m} merges, "
                               f"{len(tokens)} tokens",
                      extra={"chars": chars, "pieces": pieces, "pairs": pairs,
                             "after": after, "agrees": bool(agrees)})


# --- decoder-only and weight tying -----------------------------------------------------------

def decoder_only_document(recording, *, precision: int) -> Document:
    """Where the encoder–decoder went (the sublayers of each kind of block), causal
    self-attention as the only attention, the tied head h·Eᵀ beside an untied copy, and
    the parameters tying saves, from what ``modern.decoder_only`` recorded."""
    labels = recording.labels
    w = DocumentBuilder(recording.trace, precision)
    tokens = recording.tokens
    n = len(tokens)
    cols = dim_labels(w["x"].shape[1])
    words = labels["V"]
    w.step("Where the encoder–decoder went", "decoder-only = a stack of decoder blocks "
           "without cross-attention", r"\text{block} = \text{masked self-attention} + \text{FFN}",
           Part("", [w.view("sublayers", "parts", labels["block"], labels["sublayer"])],
                ["2017: an encoder stack reads the source, a decoder stack writes the target "
                 "and reads the encoder through cross-attention",
                 "GPT-2, LLaMA, SmolLM2 (30 blocks): no encoder, so nothing to cross-attend"],
                "The prompt and the answer are one sequence: the model reads the prompt with the "
                "same masked self-attention it writes with."), key="parts")
    weights = w["attn.weights"]
    masked = np.isneginf(np.asarray(w["attn.mask"]))                    # [n, n], as recorded
    w.step("The causal mask, the only mask", "weights = softmax(Q·Kᵀ/√d_k + mask)",
           r"\mathrm{softmax}(QK^\top/\sqrt{d_k} + M)",
           Part("", [w.view("mask", "attn.mask", tokens, tokens, masked=masked,
                            masked_text="-inf"),
                     w.view("weights", "attn.weights", tokens, tokens, heat=True,
                            masked=masked)],
                [f"{tokens[0]} sees only itself: weight {w.fmt(weights[0, 0])}",
                 f"{tokens[-1]} sees all {n} tokens"],
                "Each token attends to itself and the tokens before it: a model that predicts "
                "the next token must not read it. No padding mask in a single sentence, no "
                "cross-attention mask: this is the only one."), key="mask")
    e, tied = w["embedding"], w["logits.tied"]
    h = w["h"]
    last = n - 1
    terms = _terms(list(zip(h[last], e[0])),
                   lambda p: f"{factor(w.fmt(p[0]))}·{factor(w.fmt(p[1]))}")
    w.step("The tied output head", "logits = h · Eᵀ (E: the embedding matrix)",
           r"\text{logits} = h E^\top",
           Part("", [w.view("h", "h", tokens, cols),
                     w.view("E", "embedding", words, cols,
                            window=(8, len(cols)) if len(words) > 8 else None),
                     w.view("logits = h·Eᵀ", "logits.tied", tokens, words,
                            window=(n, 8) if len(words) > 8 else None)],
                [f"logit({tokens[last]}, w1) = {terms} = {w.fmt(tied[last, 0])}",
                 f"an untied head W = a copy of E gives the same logits (largest difference "
                 f"{float(w['max_diff']):.1e})"],
                "Row j of E turns word j into a vector on the way in; on the way out the same "
                "row scores how well h matches word j. One matrix, used twice."), key="head")
    tying = w["tying"]
    names = labels["model"]
    lines = []
    for name, row in zip(names, tying):
        vocab, d, saved, total, ties = (int(v) for v in row)
        lines.append(f"{name}: {vocab:,} × {d:,} = {saved:,} of {total:,} "
                     f"({percent(saved / total)})" + ("" if ties else ", had it tied"))
    w.step("What tying saves", "saved = V · d_model", r"V \cdot d_{\text{model}}",
           Part("", [w.view("parameters", "tying", names, labels["quantity"])], lines,
                "V·d numbers that an untied head would add; \"tied\" counts the model with "
                "one matrix; \"ties\" is 1 for a model that does tie. A small model's "
                "vocabulary is a large share of it: SmolLM2 would be a fifth larger with its "
                "own output matrix."), key="saves")
    return w.document("decoder-only", "Decoder-only and weight tying", list(tokens),
                      {"n": n, "vocab": len(words), "d_model": len(cols)},
                      subtitle=f"{n} tokens, vocabulary {len(words)}, d_model {len(cols)}")


__all__ = ["rmsnorm_document", "rope_document", "gqa_document", "ffn_document",
           "quantize_document", "flash_document", "bpe_document",
           "decoder_only_document"]
