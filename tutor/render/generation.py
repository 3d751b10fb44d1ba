"""The generation walkthrough: one panel per decoding step (the target so far, where the newest
position looks, the next-token distribution, the token chosen), built from what the decoding
library recorded. Nothing here computes a model quantity; it reads the trace by name.

JSON (``--format json``) carries, beside every recorded array, a ``result``: the output ids and
tokens and, per step, the candidates with their probabilities, the token chosen and the
attention row shown. Numbers named as on screen count from 1 (``token_number`` 1 is the
screen's "token 1", ``layer`` 2 its "layer 2"); names ending in ``_index`` count from 0, as
the recorded arrays' names do (``step_index`` 0 is ``step.0.*``, ``layer_index`` 1 is
``cross_attn.1``).
"""

from __future__ import annotations

import numpy as np

from .builder import DocumentBuilder
from .document import (DEFAULT_TOP_KEYS, Document, LinesView, MatrixView, Part, unique_labels,
                       weights_caption)

ROW = 0                  # the batch row shown (beam search: the best live beam)


def rule_line(rule: dict) -> str:
    """Each decoding rule in one line."""
    if rule["kind"] == "greedy":
        return "greedy: take the most likely next token, argmax p(next)"
    if rule["kind"] == "beam":
        return (f"beam K={rule['beam']}: keep the {rule['beam']} most probable prefixes; "
                f"score log P / ((5+|Y|)/6)^{rule['length_penalty']:g}")
    return "sampling: draw the next token from softmax(logits / T) over the kept tokens"


def sampling_settings(rule: dict) -> str:
    parts = [f"T = {rule['temperature']:g}"]
    if rule.get("top_k") is not None:
        parts.append(f"top-k {rule['top_k']}")
    if rule.get("top_p") is not None:
        parts.append(f"top-p {rule['top_p']:g}")
    seed = rule.get("seed")
    parts.append(f"seed {seed if seed is not None else 'random'}")
    return ", ".join(parts)


def rule_meaning(rule: dict) -> str:
    if rule["kind"] == "greedy":
        return ("Greedy decoding never looks back: each step takes the single most likely "
                "token, and the output is fixed by the model alone.")
    if rule["kind"] == "beam":
        return ("Beam search keeps several prefixes alive and extends each by every token; "
                "α > 0 divides by a length penalty so longer outputs are not punished for "
                "having more tokens (Wu et al. 2016, as the 2017 paper decoded).")
    return ("T divides the logits (T < 1 sharpens, T > 1 flattens); top-k keeps the k most "
            "likely tokens; top-p keeps the smallest set whose probability reaches p; the "
            "token is drawn from what is left, renormalised. The seed makes it reproducible.")


class _Tokens:
    def __init__(self, table: dict):
        self.table = {int(k): v for k, v in table.items()}

    def __call__(self, token_id) -> str:
        return self.table.get(int(token_id), f"#{int(token_id)}")

    def join(self, ids) -> str:
        return " ".join(self(i) for i in ids)


def _logp(w: DocumentBuilder, value) -> str:
    """A log-probability: near 0 in scientific notation, so that it does not read as 0."""
    value = float(value)
    return f"{value:.1e}" if value != 0 and abs(value) < 0.5 * 10 ** -w.precision \
        else w.fmt(value, False)


def _names(words: list[str]) -> str:
    """'<pad>', '<pad> and <bos>', 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _count(n) -> str:
    return f"{int(n):,}"


def _ms(seconds) -> str:
    return f"{float(seconds) * 1000:.3f} ms"


SHOWN_LAYERS = 6    # layer rows of a step's attention on screen (SmolLM2 has 30); JSON: all


def shown_layers(n_layers: int, most: int = SHOWN_LAYERS) -> list[int]:
    """The layers (0-based) a step's attention table shows: every layer when there are at most
    ``most``, else ``most`` spread evenly from the first to the last (30 layers: 0, 6, 12,
    17, 23, 29)."""
    if n_layers <= most:
        return list(range(n_layers))
    return sorted({round(i * (n_layers - 1) / (most - 1)) for i in range(most)})


def _attention(w: DocumentBuilder, t: int, info: dict, keys: list[str]):
    """The newest position's attention (cross-attention over the source for a Seq2Seq, causal
    self-attention over the tokens so far for a decoder-only model), one row per layer
    (the mean of its heads; with more than ``SHOWN_LAYERS`` layers, that many spread from the
    first to the last, and the caption says so); a line naming the token it reads most in the
    last layer; and the JSON of it (the last layer's mean row and each head's, and every
    layer's mean row; ``layer`` counts from 1 as the screen does, ``layer_index`` from 0 as the
    recorded names ``{kind}.{layer_index}``)."""
    kind = "cross_attn" if info["kind"] == "seq2seq" else "self_attn"
    layers = info["n_layers"]
    labels = unique_labels(keys)
    means = [np.asarray(w[f"step.{t}.{kind}.{layer}.mean"])[ROW] for layer in range(layers)]
    name = ("cross-attention over the source" if kind == "cross_attn"
            else "causal self-attention over the tokens so far")
    rows = shown_layers(layers)
    shown = ",".join(f"step.{t}.{kind}.{layer}.mean" for layer in rows)
    table = np.stack([means[layer] for layer in rows])                  # [shown layers, n_k]
    about = "the newest position's row, mean of the heads; rows sum to 1"
    if len(rows) < layers:
        about += f"; {len(rows)} of {layers} layers (--format json has every layer)"
    view = MatrixView(name, shown, table, [f"layer {layer + 1}" for layer in rows], labels,
                      heat=True, row_scaled=True, caption=weights_caption(table, about))
    last = means[-1]                                                   # [n_k]
    top = int(np.argmax(last))
    where = "source token" if kind == "cross_attn" else "token"
    line = f"reads {where} {labels[top]!r} most (layer {layers}: {w.fmt(last[top], False)})"
    data = {"kind": "cross" if kind == "cross_attn" else "self", "layer": layers,
            "layer_index": layers - 1,
            "keys": list(keys), "weights": [float(v) for v in last],
            "heads": (np.asarray(w[f"step.{t}.{kind}.{layers - 1}.heads"])[ROW].tolist()
                      if f"step.{t}.{kind}.{layers - 1}.heads" in w.trace
                      else None),                       # a lesson's recording keeps no heads
            "layers": [[float(v) for v in row] for row in means]}
    return [view], line, data


def _candidates(w: DocumentBuilder, t: int, tok: _Tokens, rule: dict, vocab_size=None):
    sampling, beam = rule["kind"] == "sampling", rule["kind"] == "beam"
    ids = np.asarray(w[f"step.{t}.candidates"])[ROW]
    probs = np.asarray(w[f"step.{t}.candidate_probs"])[ROW]
    if sampling:                                                       # tokens that cannot be drawn
        ids, probs = ids[probs > 0], probs[probs > 0]
    labels = unique_labels([tok(i) for i in ids])
    name = (f"sampled from ({sampling_settings(rule).rsplit(', seed', 1)[0]})" if sampling else
            "p(next token) after beam 1" if beam else "p(next token)")
    total = vocab_size or w[f"step.{t}.probs"].shape[-1]     # a recording keeps no [V] rows
    chart = w.chart(name, f"step.{t}.candidate_probs", labels, values=probs, full=1.0,
                    caption=("the kept tokens, most likely first" if sampling
                             else f"the {len(ids)} most likely, of {total}"))
    data = [{"id": int(i), "token": tok(i), "probability": float(p)} for i, p in zip(ids, probs)]
    return chart, data


def _cache_lines(w: DocumentBuilder, t: int, info: dict, n: int):
    """What the cache holds after step t, and the work of the step, counted (and measured)."""
    lines, data = [], {}
    key = f"step.{t}.cache.self_attn"
    if key in w:
        own = np.asarray(w[key])
        text = f"cache/layer: K,V {_count(own[0])} numbers ({n} position{'s' if n > 1 else ''})"
        data["self_attn_numbers"] = [int(v) for v in own]
        cross = f"step.{t}.cache.cross_attn"
        if cross in w:
            held = np.asarray(w[cross])
            text += (f", source K,V {_count(held[0])} "
                     + ("(new)" if t == 0 else "(reused)"))
            data["cross_attn_numbers"] = [int(v) for v in held]
        lines.append(text)
    cached, uncached = int(w[f"step.{t}.work.cached"]), int(w[f"step.{t}.work.uncached"])
    data.update(macs_cached=cached, macs_recomputed=uncached)
    if key in w:
        lines.append(f"counted: {_count(cached)} multiply-adds cached, {_count(uncached)} "
                     f"recomputing ({uncached / cached:.1f}×)")
    else:
        lines.append(f"no cache: all {n} position{'s' if n > 1 else ''} recomputed, "
                     f"{_count(uncached)} multiply-adds (counted)")
    replay = f"replay.{t}"
    if f"{replay}.cached_seconds" in w:
        a, b = w[f"{replay}.cached_seconds"], w[f"{replay}.uncached_seconds"]
        lines.append(f"measured: {_ms(a)} cached, {_ms(b)} recomputing")
        data.update(seconds_cached=float(a), seconds_recomputed=float(b),
                    max_logit_diff=float(w[f"{replay}.max_logit_diff"]))
    return lines, data


def _n_steps(w: DocumentBuilder) -> int:
    t = 0
    while f"step.{t}.prefix" in w:
        t += 1
    return t


BYTE_LEVEL_NOTE = "Ġ marks a leading space (GPT-2's byte-level tokens: Ġcat is \" cat\")"


def _lines_step(w: DocumentBuilder, info: dict, n_steps: int, tok, source_labels: list[str],
                top: int) -> None:
    """Every step's newest position as a query, drawn as lines to the keys it read in the
    last decoder layer (cross-attention over the source for a Seq2Seq, causal self-attention
    over the tokens so far otherwise), its heads overlaid: one lines view read from the
    recorded ``step.{t}.{kind}.{L}.heads`` rows (a key a step could not read yet holds 0)."""
    kind = "cross_attn" if info["kind"] == "seq2seq" else "self_attn"
    last = info["n_layers"] - 1
    prefixes = [np.asarray(w[f"step.{t}.prefix"])[ROW] for t in range(n_steps)]
    keys = (list(source_labels) if kind == "cross_attn"
            else [tok(i) for i in max(prefixes, key=len)])
    rows = [np.asarray(w[f"step.{t}.{kind}.{last}.heads"])[ROW] for t in range(n_steps)]
    weights = np.zeros((rows[0].shape[0], n_steps, len(keys)))          # [h, steps, n_k]
    for t, row in enumerate(rows):
        weights[:, t, :row.shape[1]] = row
    queries = [f"{t + 1}:{tok(p[-1])}" for t, p in enumerate(prefixes)]
    name = ("each step's newest position over the source" if kind == "cross_attn"
            else "each step's newest position over the tokens so far")
    view = LinesView(f"{name}, layer {last + 1}", ",".join(
        f"step.{t}.{kind}.{last}.heads" for t in range(n_steps)), weights, queries,
        unique_labels(keys), list(range(1, weights.shape[0] + 1)), top=top)
    w.step("Attention as lines", f"layer {last + 1}'s attention of each step, heads overlaid",
           r"\mathrm{softmax}(q_t K^\top/\sqrt{d_k})",
           Part("", [], ["queries: the position each step reads from, 'step:token' (the "
                         "token there, whose next token the step chose)"],
                f"Each step's query (left) to its {top} strongest keys (right) in each head, "
                f"as strong as the weight; the heads in their colours.", lines=[view]),
           key="lines")


def generation_document(trace, info: dict, *, precision: int, model_name: str,
                        source_labels: list[str], expected: list[str] | None = None,
                        settings: dict | None = None, limits: list[str] | None = None,
                        view: str = "steps", top: int = DEFAULT_TOP_KEYS) -> Document:
    """The document of :func:`tutor.walkthroughs.generation.generate`'s recording.

    ``info`` is the recording's info; ``source_labels`` the source (Seq2Seq) or prompt tokens;
    ``expected`` the task's answer (toy models), shown beside the output; ``limits`` lines
    saying what cut the run short or where it went past what the model knows (shown with
    the prompt, the output and in the notes). A token with GPT-2's byte-level markers (Ġ, Ċ)
    adds one line explaining them. ``view="lines"`` adds, before the output, every step's
    attention in the last layer drawn as lines (its ``top`` strongest keys each)."""
    w = DocumentBuilder(trace, precision)
    tok = _Tokens(info["tokens"])
    rule, seq2seq = info["rule"], info["kind"] == "seq2seq"
    beam, sampling = rule["kind"] == "beam", rule["kind"] == "sampling"
    explain = info.get("explain_cache", False)
    n0 = info["prefix_length"]
    steps_data = []
    if seq2seq:
        memory = np.asarray(w["memory"])
        low, high = float(memory.min()), float(memory.max())
        picture = w.view("memory", "memory", unique_labels(source_labels), index=(ROW,),
                         heat=True, compact=True, heat_range=(low, high))
        w.step("Encode the source once", "memory = Encoder(source)", r"\mathrm{memory} = "
               r"\mathrm{Encoder}(x)",
               Part("", [picture], [f"source: {' '.join(source_labels)}",
                             f"memory: {memory.shape[1]} × {memory.shape[2]} numbers, one "
                             "vector per source token"],
                    "The encoder runs once; every decoding step reads this memory through "
                    "encoder–decoder attention, so the source is never encoded again."),
               key="memory")
    else:
        byte_level = any(mark in text for text in info["tokens"].values() for mark in "ĠĊ")
        w.step("Read the prompt", "one pass over the prompt, then one token per step",
               r"h = \mathrm{Decoder}(x_{1..n})",
               Part("", [], [f"prompt: {' '.join(source_labels)} ({n0} tokens)"]
                    + ([BYTE_LEVEL_NOTE] if byte_level else []) + list(limits or []),
                    "A decoder-only model has no source: it continues the prompt, each new "
                    "position attending causally to the tokens before it."), key="prompt")
    if explain:
        _cache_intro(w, info)
    n_steps = _n_steps(w)
    best_finished = None                       # beam: (tokens, score) of the best ended so far
    for t in range(n_steps):
        prefix = np.asarray(w[f"step.{t}.prefix"])[ROW]                # [n]
        keys = list(source_labels) if seq2seq else [tok(i) for i in prefix]
        views, reads, attention = _attention(w, t, info, keys)
        chart, candidates = _candidates(w, t, tok, rule, info.get("vocab_size"))
        worked = [f"so far: {tok.join(prefix)}"]
        entry = {"token_number": t + 1, "step_index": t, "so_far": {"ids": [int(i) for i in prefix],
                                       "tokens": [tok(i) for i in prefix]},
                 "candidates": candidates,
                 "candidates_from": "the sampled distribution" if sampling else "the model",
                 "attention": attention}
        if beam:
            beams = np.asarray(w[f"step.{t}.beams"])
            logp = np.asarray(w[f"step.{t}.beam_logprobs"])
            score = np.asarray(w[f"step.{t}.beam_scores"])
            for b in range(beams.shape[0]):
                worked.append(f"beam {b + 1}: {tok.join(beams[b][n0:])}   log P = "
                              f"{_logp(w, logp[b])}, score {_logp(w, score[b])}")
            ended = np.asarray(w[f"step.{t}.finished.tokens"])
            ended_score = np.asarray(w[f"step.{t}.finished.scores"])
            ended_logp = np.asarray(w[f"step.{t}.finished.logprobs"])
            best = int(np.argmax(ended_score)) if ended.shape[0] else None
            if best is not None:
                worked.append(f"finished here (best of {ended.shape[0]}): "
                              f"{tok.join(ended[best])}   score {_logp(w, ended_score[best])}")
                if best_finished is None or ended_score[best] > best_finished[1]:
                    best_finished = (list(ended[best]), float(ended_score[best]))
            # what the search ranks first after this step: the best score among the live
            # beams (beam 1: all have one length) and every hypothesis finished so far
            if beams.shape[0] and (best_finished is None or score[0] > best_finished[1]):
                first = f"{tok.join(beams[0][n0:])} (beam 1)"
            else:
                first = f"{tok.join(best_finished[0])} (finished)"
                worked.append(f"ranked first: {first[:-len(' (finished)')]}   score "
                              f"{_logp(w, best_finished[1])}, better than every live beam")
            entry["beams"] = [{"tokens": [tok(i) for i in beams[b][n0:]],
                               "ids": [int(i) for i in beams[b][n0:]],
                               "logprob": float(logp[b]), "score": float(score[b])}
                              for b in range(beams.shape[0])]
            entry["finished"] = [{"tokens": [tok(i) for i in ended[f]], "logprob": float(ended_logp[f]),
                                  "score": float(ended_score[f])} for f in range(ended.shape[0])]
        else:
            choice = int(np.asarray(w[f"step.{t}.choice"])[ROW])
            p_model = float(np.asarray(w[f"step.{t}.probs"])[ROW, choice])
            if sampling:
                p_drawn = float(np.asarray(w[f"step.{t}.sample_probs"])[ROW, choice])
                kept = int(np.asarray(w[f"step.{t}.kept"])[ROW].sum())
                worked.append(f"{sampling_settings(rule)}: {kept} token{'s' if kept > 1 else ''}"
                              " kept")
                worked.append(f"drew {tok(choice)!r} (p = {w.fmt(p_drawn, False)} among the "
                              f"kept; the model's p = {w.fmt(p_model, False)})")
            else:
                worked.append(f"chose {tok(choice)!r} (p = {w.fmt(p_model, False)})")
            entry["chosen"] = {"id": choice, "token": tok(choice), "probability": p_model,
                               **({"sampled_probability": p_drawn} if sampling else {})}
        worked.append(reads)
        if explain or not info.get("use_cache", True):
            lines, cache = _cache_lines(w, t, info, len(prefix))
            worked += lines
            entry["cache"] = cache
        steps_data.append(entry)
        meaning = rule_meaning(rule) if t == 0 else ""
        if t == 0:
            meaning += (" The heat rows are where the newest position looks; the bars are the "
                        "next-token distribution.")
            if info.get("suppressed"):
                meaning += (f" {_names([tok(i) for i in info['suppressed']])} "
                            f"{'is' if len(info['suppressed']) == 1 else 'are'} never chosen: "
                            f"not output tokens, their logits are set to -inf, so every "
                            f"probability shown is among the others.")
        chosen = first if beam else tok(entry["chosen"]["id"])
        w.step(f"token {t + 1}: {chosen}", rule_line(rule), r"y_t = \mathrm{rule}(p(\cdot \mid y_{<t}))",
               Part("", views, worked, meaning, charts=[chart]), key=f"step.{t}")
    if explain:
        _cache_summary(w, n_steps, info)
    if view == "lines":
        _lines_step(w, info, n_steps, tok, source_labels, top)
    output = [int(i) for i in np.asarray(w["output"]).reshape(-1, np.shape(w["output"])[-1])[ROW]]
    new = output[n0:]
    summary = [f"output: {tok.join(new)}"] + list(limits or [])
    if expected is not None:
        answer = [t for t in (tok(i) for i in new) if tok(info["eos_id"]) != t] \
            if info.get("eos_id") is not None else [tok(i) for i in new]
        summary.append(f"the task's answer: {' '.join(expected)} "
                       + ("(the same)" if answer == list(expected) else "(different)"))
    if beam:
        for h in info["hypotheses"]:
            summary.append(f"hypothesis {tok.join(h['tokens'])}: log P = "
                           f"{_logp(w, h['logprob'])}, score {_logp(w, h['score'])}")
    index = (ROW,) if np.ndim(w["output"]) == 2 else ()
    ids_view = w.view("token ids", "output", ["id"], unique_labels([tok(i) for i in output]),
                      index=index)
    w.step("Output", "the tokens written, after the " + ("start token" if seq2seq else "prompt"),
           r"y", Part("", [ids_view], summary, ""), key="output")
    result = {"model": model_name, "kind": info["kind"], "rule": rule,
              "source": list(source_labels),
              "output": {"ids": new, "tokens": [tok(i) for i in new]},
              "steps": steps_data, "hypotheses": info["hypotheses"]}
    subtitle = (f"{model_name}: {'encoder–decoder' if seq2seq else 'decoder-only'}, "
                f"{info['n_layers']} decoder layers, {info['n_heads']} heads · "
                f"{rule['kind']}" + ("" if info.get("use_cache", True) else " · no cache"))
    title = ("Generate: " + " ".join(source_labels) + " → " + tok.join(new))
    notes = list(limits or []) + ([BYTE_LEVEL_NOTE] if not seq2seq and byte_level else [])
    return w.document("generate", title, list(source_labels), settings or {},
                      subtitle=subtitle, notes=notes, extra={"result": result})


def _cache_intro(w: DocumentBuilder, info: dict) -> None:
    """What each decoder layer keeps between steps, with the shapes (from the model's sizes)."""
    layers, heads, d_head = info["n_layers"], info["n_heads"], info["d_head"]
    kv = info.get("n_kv_heads", heads)
    seq2seq = info["kind"] == "seq2seq"
    lines = [f"each of the {layers} decoder layers keeps between steps:",
             f"· self-attention K, V: 2 × [1, {kv}, n, {d_head}], a row per position so far"]
    if kv != heads:                            # grouped-query attention: fewer key/value heads
        size = np.dtype(info.get("dtype", "float32")).itemsize
        gqa, full = (2 * layers * h * d_head * size for h in (kv, heads))
        lines += [f"grouped-query attention: {kv} key/value heads, each read by "
                  f"{heads // kv} of the {heads} query heads",
                  f"bytes per token (2 × {layers} layers × heads × {d_head} × {size} bytes): "
                  f"{gqa:,} with {kv} key/value heads, {full:,} with full multi-head "
                  f"attention ({heads}): {full / gqa:.0f}× less"]
    if seq2seq:
        s = info["n_src"]
        lines.append(f"· cross-attention K, V: 2 × [1, {heads}, {s}, {d_head}] = "
                     f"{_count(2 * heads * s * d_head)} numbers, made once")
    lines.append("a step computes Q, K, V of the newest position only")
    w.step("What the cache keeps", "K, V per layer: [batch, heads, positions, d_head]",
           r"K, V \in \mathbb{R}^{B \times h \times n \times d_{head}}",
           Part("", [], lines, "Without the cache every step recomputes the keys and values of "
                "every earlier position" + (" and of the source" if seq2seq else "")
                + ", although they never change: a position only sees those before it."),
           key="cache.keeps")


def _cache_summary(w: DocumentBuilder, n_steps: int, info: dict) -> None:
    """Per step: the counted multiply-adds of the run (with the cache and recomputing; all
    live beams in beam search) and the measured time of the output replayed alone."""
    cache_on = info.get("use_cache", True)
    rows = ["step  multiply-adds: cached  recomputed   time: cached  recomputed"]
    macs = np.zeros(2)
    secs = np.zeros(2)
    diff = 0.0
    for t in range(n_steps):
        a, b = int(w[f"step.{t}.work.cached"]), int(w[f"step.{t}.work.uncached"])
        sa, sb = float(w[f"replay.{t}.cached_seconds"]), float(w[f"replay.{t}.uncached_seconds"])
        diff = max(diff, float(w[f"replay.{t}.max_logit_diff"]))
        macs += (a, b)
        secs += (sa, sb)
        counted = f"{a:>21,}" if cache_on else f"{'—':>21}"
        rows.append(f"{t + 1:>4}  {counted}  {b:>10,}   {sa * 1000:>9.3f} ms  {sb * 1000:>7.3f} ms")
    if cache_on:
        rows.append(f"counted: {macs[1] / macs[0]:.1f}× fewer multiply-adds with the cache")
    else:
        rows.append("counted: this run used no cache; the replay measured both ways")
    if info["rule"]["kind"] == "beam":
        rows.append("(counts cover all live beams; times, the output replayed alone)")
    rows.append(f"measured: {secs[1] / secs[0]:.1f}× faster (wall time, fastest of "
                f"{info['repeats']} replays)")
    if secs[1] / secs[0] < 2:
        rows.append("(a model this small spends a step mostly in Python, not in the math)")
    rows.append(f"largest |logits cached − recomputed|: {diff:.1e} ({info['dtype']})")
    w.step("What the cache saved", "per step: with the cache 1 new position; recomputing all n",
           r"O(n) \text{ vs } O(n^2)",
           Part("", [], rows,
                "With the cache a step computes one position and reads the keys and values "
                "kept from earlier steps" + (" (and the encoder's, computed once)"
                                             if info["kind"] == "seq2seq" else "")
                + "; recomputing runs every position through every layer again, so its cost "
                "grows with the output."),
           key="cache")
