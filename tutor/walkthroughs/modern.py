"""The walkthroughs of today's parts, each beside the 2017 part it replaced: RMSNorm beside
layer norm, RoPE beside sinusoidal encodings, grouped-query beside multi-head attention,
gated feed-forward beside ReLU/GELU, block quantization, online softmax beside
softmax attention, byte-level BPE with a real model's merges, and a decoder-only model's
causal mask and tied head. Shared by ``tutor rmsnorm``, ``rope``, ``gqa``, ``ffn``,
``quantize``, ``flash``, ``bpe`` and ``decoder-only``. The math is :mod:`tutor.nn.modern`,
:mod:`tutor.nn.llama` and :mod:`tutor.nn.bpe`."""

from __future__ import annotations

import numpy as np

from tutor.nn import modern
from tutor.nn.attention import attention_head, scaled_dot_product_attention
from tutor.nn.functional import feed_forward, layer_norm
from tutor.nn.llama import grouped_query_attention, swiglu
from tutor.nn.posenc import sinusoidal_encoding

from . import Recording, new_trace

#: SmolLM2-135M's sizes (its config.json / GGUF metadata), for the memory tables.
SMOLLM2 = {"n_layer": 30, "d_model": 576, "n_head": 9, "n_kv_head": 3, "d_head": 64,
           "d_ff": 1536, "vocab_size": 49152}


def smollm2_parameters() -> tuple[int, int]:
    """(numbers in matrices, numbers in norm weights) of SmolLM2-135M with tied embeddings:
    the embedding V·d, per layer W_Q, W_O (d·d), W_K, W_V (d·kv·d_head), three d·d_ff and two
    norms of d, then the final norm. 134,515,008 in all."""
    s = SMOLLM2
    d, kv = s["d_model"], s["n_kv_head"] * s["d_head"]
    per_layer = 2 * d * d + 2 * d * kv + 3 * d * s["d_ff"]
    matrices = s["vocab_size"] * d + s["n_layer"] * per_layer
    return matrices, 2 * s["n_layer"] * d + d


def rmsnorm_beside_layer_norm(x, gamma, eps: float) -> Recording:
    """RMSNorm of a vector x [d] (under ``rms.``) beside layer norm of the same numbers with
    the same γ and no β (under ``layer.``), and RMSNorm of x − mean (under ``centered.``),
    which equals layer norm: dropping the mean is the whole difference. ``counts`` [2, 3]:
    operations, reductions and parameters of layer norm, then of RMSNorm."""
    trace = new_trace()
    x = np.asarray(x, dtype=np.float64)
    trace.record("input", x)
    trace.record("gamma", gamma)
    out = modern.rms_norm_steps(x, gamma, eps, trace=trace.scope("rms"))   # [d]
    layer_norm(x, gamma, None, eps, trace=trace.scope("layer"))            # [d]
    modern.rms_norm_steps(x - x.mean(), gamma, eps, trace=trace.scope("centered"))
    counts = modern.norm_operation_counts(x.shape[-1])
    trace.record("counts", np.array([[c["operations"], c["reductions"], c["parameters"]]
                                     for c in (counts["layernorm"], counts["rmsnorm"])]))
    return Recording(trace, out, walkthrough="modern.rmsnorm_beside_layer_norm")


def rope_beside_sinusoidal(queries, keys, *, base: float = 10000.0, pairs=((2, 5), (7, 10)),
                           tokens: list[str] | None = None) -> Recording:
    """RoPE on queries [n, d] and keys [n, d] (row p at position p), beside sinusoidal PE.

    Records ``queries``, ``keys``; ``rope.theta`` [d/2], ``rope.angles`` [n, d/2], ``rope.out``
    (the rotated queries) and ``rope.keys`` [n, d]; ``rope.lengths`` [n] (each rotated
    query's length); ``scores.plain`` (Q·Kᵀ, no positions),
    ``scores.rope`` (rotated) and ``scores.sinusoidal`` ((Q + PE)·(K + PE)ᵀ) [n, n], with the
    table under ``sinusoidal.``; ``offset`` [p, 4]: m, n, m − n and the score of the first
    query at m with the last key at n; ``layouts.scores`` [n, n]: the same rotation in the
    pairs layout on the permuted vectors, and ``layouts.max_diff`` []. Su et al. 2021."""
    trace = new_trace()
    q, k = (np.asarray(a, dtype=np.float64) for a in (queries, keys))
    n, d = q.shape
    positions = np.arange(n)
    trace.record("queries", q)
    trace.record("keys", k)
    rq = modern.rope_rotate(q, positions, base, trace=trace.scope("rope"))  # [n, d]
    rk = modern.rope_rotate(k, positions, base)                             # [n, d]
    trace.record("rope.keys", rk)
    trace.record("rope.lengths", np.linalg.norm(rq, axis=1))
    trace.record("scores.plain", q @ k.T)
    scores = rq @ rk.T                                                      # [n, n]
    trace.record("scores.rope", scores)
    pe = sinusoidal_encoding(n, d, trace=trace.scope("sinusoidal"))         # [n, d]
    trace.record("scores.sinusoidal", (q + pe) @ (k + pe).T)
    trace.record("offset", np.array([[m, p, m - p, modern.rope_score(q[0], k[-1], m, p, base)]
                                     for m, p in pairs], dtype=np.float64))
    perm = modern.halves_to_pairs(d)
    rq2 = modern.rope_rotate(q[:, perm], positions, base, layout="pairs")
    rk2 = modern.rope_rotate(k[:, perm], positions, base, layout="pairs")
    other = rq2 @ rk2.T
    trace.record("layouts.scores", other)
    trace.record("layouts.max_diff", np.abs(other - scores).max())
    return Recording(trace, rq, list(tokens or []), {"base": base},
                     walkthrough="modern.rope_beside_sinusoidal")


def grouped_query(tokens: list[str], x, w_q, w_k, w_v, n_head: int, n_kv_head: int, *,
                  context: int = 2048) -> Recording:
    """Grouped-query attention on x [n, d_model]: w_q [d_model, n_head·d_head], w_k and w_v
    [d_model, n_kv_head·d_head]; query head h reads key/value head h // (n_head / n_kv_head)
    (Ainslie et al. 2023). Records ``x``, ``q`` [h, n, d_head], ``k``, ``v`` [kv, n, d_head],
    ``group`` [h], what grouped_query_attention records under ``gqa.`` (``scores``,
    ``scaled``, ``weights`` [1, h, n, n], ``out`` [1, h, n, d_head]), ``mha.out`` (multi-head attention
    on the key/value heads repeated: the same numbers), ``mha.max_diff`` [] (their largest
    difference) and the cache in bytes per token,
    ``cache.here`` (one layer, float32) and ``cache.smollm2`` [3, 2]: key/value heads and
    bytes for MHA, GQA, MQA; ``cache.context`` [3]: SmolLM2's cache for ``context`` tokens
    (default 2,048, its training context), in bytes."""
    trace = new_trace()
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    d_head = w_q.shape[1] // n_head
    q = (x @ w_q).reshape(n, n_head, d_head).transpose(1, 0, 2)          # [h, n, d_head]
    k = (x @ w_k).reshape(n, n_kv_head, d_head).transpose(1, 0, 2)       # [kv, n, d_head]
    v = (x @ w_v).reshape(n, n_kv_head, d_head).transpose(1, 0, 2)
    group = n_head // n_kv_head
    for name, value in (("x", x), ("q", q), ("k", k), ("v", v),
                        ("group", np.arange(n_head) // group)):
        trace.record(name, value)
    out, _ = grouped_query_attention(q[None], k[None], v[None], trace=trace.scope("gqa"))
    repeated = modern.repeat_kv(k[None], group), modern.repeat_kv(v[None], group)
    mha = scaled_dot_product_attention(q[None], *repeated)[0]          # [1, h, n, d_head]
    trace.record("mha.out", mha)
    trace.record("mha.max_diff", np.abs(out - mha).max())
    for name, layers, heads, d, size in (("here", 1, n_head, d_head, 4),
                                         ("smollm2", SMOLLM2["n_layer"], SMOLLM2["n_head"],
                                          SMOLLM2["d_head"], 4)):
        kv = SMOLLM2["n_kv_head"] if name == "smollm2" else n_kv_head
        trace.record(f"cache.{name}", np.array(
            [[h, modern.kv_cache_bytes(layers, h, d, size)] for h in (heads, kv, 1)]))
    trace.record("cache.context", trace["cache.smollm2"][:, 1] * context)
    return Recording(trace, out[0], list(tokens), {"group": group, "context": context},
                     walkthrough="modern.grouped_query")


def gated_feed_forward(tokens: list[str], x, kind: str, w_in, w_out, w_up=None) -> Recording:
    """One feed-forward block on x [n, d_model], weights [in, out] without biases.

    relu / gelu: act(x·W1)·W2 with ``w_in`` = W1 [d_model, d_ff], ``w_out`` = W2 (recorded
    under ``ff.`` as :func:`~tutor.nn.functional.feed_forward` records). swiglu:
    (SiLU(x·W_gate) ⊙ x·W_up)·W_down with ``w_in`` = W_gate, ``w_up``, ``w_out`` = W_down
    (under ``swiglu.``: ``gate``, ``up``, ``hidden``, ``out``, and ``silu`` = SiLU(gate)).
    ``params`` [4, 2]: width and weights of relu, gelu, swiglu at the same width and swiglu
    at 2/3 of it; ``params_smollm2`` [2, 2]: SwiGLU at SmolLM2's 1536 beside the two-matrix
    width of the same size. Shazeer 2020."""
    trace = new_trace()
    x = np.asarray(x, dtype=np.float64)
    trace.record("x", x)
    d_model, d_ff = w_in.shape
    if kind == "swiglu":
        out = swiglu(x, np.concatenate([w_in, w_up], axis=1), w_out, trace=trace.scope("swiglu"))
    else:
        out = feed_forward(x, w_in.T, None, w_out.T, None, kind, trace=trace.scope("ff"))
    third = modern.swiglu_width_at_equal_size(d_ff)
    trace.record("params", np.array(
        [[d_ff, modern.ffn_parameters("relu", d_model, d_ff)],
         [d_ff, modern.ffn_parameters("gelu", d_model, d_ff)],
         [d_ff, modern.ffn_parameters("swiglu", d_model, d_ff)],
         [third, modern.ffn_parameters("swiglu", d_model, third)]]))
    s = SMOLLM2
    wide = 3 * s["d_ff"] // 2
    trace.record("params_smollm2", np.array(
        [[s["d_ff"], modern.ffn_parameters("swiglu", s["d_model"], s["d_ff"])],
         [wide, modern.ffn_parameters("relu", s["d_model"], wide)]]))
    return Recording(trace, out, list(tokens), {"kind": kind},
                     walkthrough="modern.gated_feed_forward")


def quantize_block(x, kind: str) -> Recording:
    """GGML block quantization of the numbers x [n] (``kind`` Q8_0 or Q4_1): records
    ``input``, what :func:`tutor.nn.modern.quantize_blocks` returns (``scale``, ``min`` for
    Q4_1, ``codes``, ``reconstruction``, ``error``), ``max_error`` [], ``amax`` [blocks] (each
    block's max |x|, Q8_0) or ``max`` [blocks] (each block's max x, Q4_1), ``bits`` [4] (bits
    per weight) and
    ``memory`` [4]:
    SmolLM2-135M's bytes (matrices at the type, norm weights F32) for
    F32, F16, Q8_0, Q4_1."""
    trace = new_trace()
    x = np.asarray(x, dtype=np.float64)
    trace.record("input", x)
    parts = modern.quantize_blocks(x, kind)
    for name in ("scale", "min", "codes", "reconstruction", "error"):
        if name in parts:
            trace.record(name, parts[name])
    trace.record("max_error", np.abs(parts["error"]).max())
    blocks = [x[i:i + 32] for i in range(0, x.size, 32)]            # the last may be short
    if kind == "Q8_0":
        trace.record("amax", np.array([np.abs(b).max() for b in blocks]))
    else:
        trace.record("max", np.array([b.max() for b in blocks]))
    _record_memory(trace)
    return Recording(trace, parts["reconstruction"], info={"kind": kind},
                     walkthrough="modern.quantize_block")


def _record_memory(trace) -> None:
    matrices, vectors = smollm2_parameters()
    bits = np.array([modern.BITS_PER_WEIGHT[t] for t in ("F32", "F16", "Q8_0", "Q4_1")])
    trace.record("bits", bits)
    trace.record("memory", np.array([matrices * int(b * 4) // 32 + vectors * 4 for b in bits]))


def stored_block(raw, kind: str, *, tensor: str, block: int, source: str) -> Recording:
    """One block of a real model's tensor as the file stores it (``raw``: its bytes, uint8;
    ``kind`` Q8_0 or Q4_1), taken apart by :func:`tutor.nn.modern.stored_blocks`: records
    ``scale``, ``min`` (Q4_1), ``codes`` [32], ``reconstruction`` [32] (the numbers the model
    computes with; the original float weights are not in the file), ``bits`` and ``memory``
    as :func:`quantize_block` does."""
    trace = new_trace()
    parts = modern.stored_blocks(raw, kind)
    for name in ("scale", "min", "codes", "reconstruction"):
        if name in parts:
            trace.record(name, parts[name])
    _record_memory(trace)
    return Recording(trace, parts["reconstruction"],
                     info={"kind": kind, "tensor": tensor, "block": block, "source": source},
                     walkthrough="modern.stored_block")


def online_softmax(tokens: list[str], x, w_q, w_k, w_v, block: int) -> Recording:
    """Self-attention on x [n, d_model] computed with online softmax, ``block`` keys at a
    time (under ``online.``, see :func:`tutor.nn.modern.online_softmax_attention`), beside
    the one-pass softmax attention (under ``reference.``). Records ``x``, ``q``, ``k``,
    ``v``, ``max_diff`` [] and ``memory`` [3]: numbers held for the scores by softmax
    attention (n²) and by online softmax (2n + n·block), and the output's n·d_v."""
    trace = new_trace()
    x = np.asarray(x, dtype=np.float64)
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    for name, value in (("x", x), ("q", q), ("k", k), ("v", v)):
        trace.record(name, value)
    out = modern.online_softmax_attention(q, k, v, block, trace=trace.scope("online"))
    ref = modern.softmax_attention(q, k, v, trace=trace.scope("reference"))
    trace.record("max_diff", np.abs(out - ref).max())
    mem = modern.attention_memory(x.shape[0], v.shape[1], block)
    trace.record("memory", np.array([mem["softmax"], mem["online"], mem["output"]]))
    return Recording(trace, out, list(tokens), {"block": block},
                     walkthrough="modern.online_softmax")


def bpe(model_or_tokenizer, text: str) -> Recording:
    """Byte-level BPE of ``text`` as the model's tokenizer does it, with tutor's own merge
    loop (:func:`tutor.nn.bpe.merge_piece`) on the model's merges. ``model_or_tokenizer``: a
    tokenizer (:class:`~tutor.pretrained.tokenizer.Tokenizer`, a GGUF file's), a
    :class:`~tutor.pretrained.model.PretrainedModel` or a ``HuggingFaceModel`` adapter.

    Records ``bytes`` [n_bytes] (UTF-8), ``pieces`` [p, 3] (each piece's first byte, its
    bytes, 1 for an added token kept whole), ``merges`` [m, 4] (piece, position, rank,
    merged token's id) and ``ids`` [k]. ``info`` holds the strings: ``chars`` (each byte's
    byte-level character), ``pieces``, ``pairs`` ([left, right] of each merge), ``after``
    (the piece's symbols after each merge), ``tokens``, ``source`` and ``agrees`` (the ids
    equal the ``tokenizers`` library's own). Raises TutorError for a tokenizer that is not
    byte-level BPE (:func:`tutor.pretrained.bpe.byte_level_bpe`)."""
    from tutor.errors import TutorError
    from tutor.nn.bpe import byte_level, merge_piece
    from tutor.pretrained.bpe import byte_level_bpe
    from tutor.pretrained.model import PretrainedModel

    from .models import HuggingFaceModel

    tok = model_or_tokenizer
    if isinstance(tok, HuggingFaceModel):
        tok = tok.model
    if isinstance(tok, PretrainedModel):
        tok = tok.tokenizer
    tables = byte_level_bpe(tok)
    trace = new_trace()
    data = text.encode("utf-8")
    trace.record("bytes", np.frombuffer(data, dtype=np.uint8).astype(np.int64))
    pieces, rows, merges, pairs, after, ids, tokens = [], [], [], [], [], [], []
    start = 0
    for segment, is_added in tables.split_added(text):
        if is_added:
            n = len(segment.encode("utf-8"))
            pieces.append(segment)
            rows.append([start, n, 1])
            ids.append(tables.added[segment][0])
            tokens.append(segment)
            start += n
            continue
        for piece, _span in tables.pre_tokenize(segment):
            p = len(pieces)
            pieces.append(piece)
            rows.append([start, len(piece), 0])
            start += len(piece)
            symbols, steps = merge_piece(piece, tables.ranks, vocab=tables.vocab,
                                         ignore_merges=tables.ignore_merges)
            for at, rank, left, right, now in steps:
                merges.append([p, at, rank, tables.vocab.get(left + right, -1)])
                pairs.append([left, right])
                after.append(now)
            for symbol in symbols:
                if symbol not in tables.vocab:
                    raise TutorError(f"{tables.source}: the token {symbol!r} is not in the "
                                     "vocabulary")
                ids.append(tables.vocab[symbol])
                tokens.append(symbol)
    trace.record("pieces", np.array(rows, dtype=np.int64).reshape(-1, 3))
    trace.record("merges", np.array(merges, dtype=np.int64).reshape(-1, 4))
    trace.record("ids", np.array(ids, dtype=np.int64))
    info = {"chars": list(byte_level(text)), "pieces": pieces, "pairs": pairs, "after": after,
            "tokens": tokens, "source": tables.source,
            "agrees": ids == tables.reference_ids(text)}
    return Recording(trace, ids, tokens, info, walkthrough="modern.bpe")


#: The sublayers of each kind of block (rows) in the 2017 model and in a decoder-only one.
BLOCK_PARTS = ("2017 encoder", "2017 decoder", "decoder-only")
SUBLAYERS = ("self-attn", "causal", "cross-attn", "FFN")
TYING_COLUMNS = ("V", "d_model", "V·d", "tied", "ties")


def decoder_only(tokens: list[str], x, w_q, w_k, w_v, embedding, *,
                 model: dict | None = None) -> Recording:
    """A decoder-only model's two differences from the 2017 encoder–decoder, on x [n,
    d_model]: causal self-attention is the only attention (no encoder, no cross-attention:
    the causal mask is the only mask), and the output head is the embedding matrix
    transposed (weight tying, Press & Wolf 2017; GPT-2, SmolLM2).

    Records ``parts`` [3, 4] (1 where a block of each kind has each sublayer), ``x``,
    self-attention with the causal mask under ``attn.`` (what
    :func:`~tutor.nn.attention.attention_head` records), ``h`` [n, d_model] =
    x + attention's output (the hidden states the head reads), ``embedding`` E [V,
    d_model], ``logits.tied`` [n, V] = h·Eᵀ, ``logits.untied`` [n, V] = h·Wᵀ with an untied
    head W a copy of E, ``max_diff`` [] and ``tying`` [r, 5]: vocabulary V, d_model, V·d
    (the numbers tying saves), the parameters with the head tied, and 1 if the model ties,
    for the numbers here, SmolLM2-135M (its config) and ``model`` if given (a dict of
    ``name``, ``vocab``, ``d_model``, ``total`` (parameters in its file), ``tied``)."""
    from tutor.nn.functional import linear
    from tutor.nn.masks import causal_mask

    trace = new_trace()
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    parts = np.array([[1, 0, 0, 1], [1, 1, 1, 1], [1, 1, 0, 1]])
    trace.record("parts", parts)
    trace.record("x", x)
    out, _ = attention_head(x, x, w_q, w_k, w_v, causal_mask(n), trace=trace.scope("attn"))
    h = x + out                                                        # [n, d_model]
    trace.record("h", h)
    e = np.asarray(embedding, dtype=np.float64)                       # [V, d_model]
    trace.record("embedding", e)
    tied = linear(h, e)                                                # [n, V]
    untied = linear(h, e.copy())                                       # its own weight
    trace.record("logits.tied", tied)
    trace.record("logits.untied", untied)
    trace.record("max_diff", np.abs(tied - untied).max())
    vocab = e.shape[0]
    here_total = e.size + w_q.size + w_k.size + w_v.size
    matrices, vectors = smollm2_parameters()
    rows = [[vocab, d, vocab * d, here_total, 1],
            [SMOLLM2["vocab_size"], SMOLLM2["d_model"], SMOLLM2["vocab_size"] * SMOLLM2["d_model"],
             matrices + vectors, 1]]
    names = ["here", "SmolLM2"]
    if model is not None:
        saved = model["vocab"] * model["d_model"]
        total = model["total"] if model["tied"] else model["total"] - saved
        rows.append([model["vocab"], model["d_model"], saved, total, int(model["tied"])])
        names.append(model["name"])
    trace.record("tying", np.array(rows, dtype=np.int64))
    words = [f"w{j + 1}" for j in range(vocab)]
    labels = {"n": list(tokens), "n_q": list(tokens), "n_k": list(tokens), "V": words,
              "model": names, "quantity": list(TYING_COLUMNS), "block": list(BLOCK_PARTS),
              "sublayer": list(SUBLAYERS)}
    return Recording(trace, tied, list(tokens), {}, labels=labels,
                     walkthrough="modern.decoder_only")
