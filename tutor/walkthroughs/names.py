"""Every name a walkthrough records, declared once with its shape and meaning.

The engine (``tutor.nn``) records named intermediates into the trace it is given; the
walkthroughs (this package) choose the scopes. The renderers, the lesson reference patterns
(``"attn:weights[the, sat]"``) and the lesson views read these names as strings, so they are
declared here, next to the code that records them, and ``tests/test_recorded_names.py``
checks that what every walkthrough records, what the renderers read and what the lesson
files reference all exist in this declaration.

A name may hold placeholders: ``{i}`` a layer number, ``{h}`` a head number (both from 0),
``{d}`` a width dk, ``{t}`` a decoding step, ``{b}`` a block of keys (all from 0). Shapes use one vocabulary: n tokens, d_model, d_k / d_v (per head
d_head), h heads, B batch, S source and T target positions, d_ff, n_pos positions, V words,
N samples, n_dk widths. Adding a recorded name (a new ``trace.record`` in ``tutor.nn`` or a
new walkthrough) means adding it here, with its shape and meaning.

The shapes are load-bearing: a :class:`~tutor.walkthroughs.Recording` labels the axes of an
entry by the axes its declared shape names (:func:`shape_of`, :func:`axis_names`), so a
lesson's answer ``"tf:decoder.layers.0.multihead_attn.weights[head1, chat, cat]"`` finds
head1 on axis h, chat on T and cat on S. Name an axis by what it runs over (S, T, n_q,
n_k), not by its size, where a lesson may read it.
"""

from __future__ import annotations

import re

Table = dict[str, tuple[str, str]]          # name -> (shape, meaning)


def table(text: str) -> Table:
    """A table written as lines ``name | shape | meaning``."""
    rows = (line.split(" | ") for line in text.strip().splitlines())
    return {name.strip(): (shape.strip(), meaning.strip()) for name, shape, meaning in rows}


def without(names: Table, left_out) -> Table:
    """The table without the names ``left_out``."""
    return {name: entry for name, entry in names.items() if name not in left_out}


def scoped(prefix: str, names: Table) -> Table:
    """The same names under ``prefix.`` (the way ``trace.scope(prefix)`` records them)."""
    return {f"{prefix}.{name}": entry for name, entry in names.items()}


def like(names: Table, x: str) -> Table:
    """The table with the shapes "like x" written out as ``x`` (``"[rows, cols]"``)."""
    return {name: (x if shape == "like x" else shape, meaning)
            for name, (shape, meaning) in names.items()}


def renamed(names: Table, only=None, **axes: str) -> Table:
    """The table with axes of its shapes renamed (of the names ``only``, default all):
    ``renamed(MULTI_HEAD, n_q="T", n_k="S")`` is cross-attention, queries from the target
    and keys from the source."""
    def rename(shape: str) -> str:
        return re.sub(r"[A-Za-z_][A-Za-z_0-9]*", lambda m: axes.get(m.group(0), m.group(0)),
                      shape) if shape.startswith("[") else shape
    return {name: (rename(shape) if only is None or name in only else shape, meaning)
            for name, (shape, meaning) in names.items()}


# --- what one function of tutor.nn records (in its own scope) -------------------------------

SOFTMAX = table("""
shifted | like x | x minus the maximum along the axis (the same softmax, no overflow)
exp | like x | e to the shifted values
sum | x with the axis of size 1 | the sum of exp along the axis
out | like x | exp / sum: the probabilities, summing to 1 along the axis
""")                      # tutor.nn.functional.softmax

NORM = table("""
mean | x with the normalised axis of size 1 | the mean (per row; per column in batch norm)
var | like mean | the biased variance, as PyTorch
normalized | like x | (x - mean) / sqrt(var + eps)
out | like x | gamma * normalized + beta
""")                      # tutor.nn.functional.layer_norm / batch_norm

ATTENTION = {             # tutor.nn.attention.scaled_dot_product_attention / attention_head
    **table("""
q | [..., n, d_k] | queries, X·Wq
k | [..., n, d_k] | keys, X·Wk
v | [..., n, d_v] | values, X·Wv
scores | [..., n_q, n_k] | Q·Kᵀ, one row per query
scaled | [..., n_q, n_k] | scores ÷ √d_k (or × the scale given)
mask | [n_q, n_k] | the additive mask: 0 allowed, -inf hidden (only with a mask)
masked | [..., n_q, n_k] | scaled + mask (only with a mask)
weights | [..., n_q, n_k] | softmax of each row: how much each query takes of each key
out | [..., n_q, d_v] | weights·V, the contextual vectors
"""), **scoped("softmax", SOFTMAX)}
UNMASKED = ("mask", "masked")       # recorded only when a mask is given

MULTI_HEAD_XW = {         # tutor.nn.attention.multi_head_attention_xw (the notes' form)
    **scoped("head{h}", {**ATTENTION, **table("""
w_q | [d_model, d_head] | this head's columns of Wq
w_k | [d_model, d_head] | this head's columns of Wk
w_v | [d_model, d_head_v] | this head's columns of Wv
""")}),
    **table("""
concat | [n, d_v] | the heads' outputs side by side
out | [n, d_model] | Concat·Wo, multi-head attention's output
""")}

MULTI_HEAD = {            # tutor.nn.attention.multi_head_attention (PyTorch's parameters)
    **{name: (shape.replace("[...,", "[B, h,"), meaning)
       for name, (shape, meaning) in ATTENTION.items() if name != "out"},
    **table("""
out | [B, h, T, d_head] | each head's weights·V
concat | [B, T, d_model] | the heads' outputs side by side
out_proj | [B, T, d_model] | Concat·W_out + b_out, the sublayer's output
""")}

FEED_FORWARD = table("""
hidden | [B, S, d_ff] | x·W1ᵀ + b1
activated | [B, S, d_ff] | relu or gelu of hidden
out | [B, S, d_model] | activated·W2ᵀ + b2
""")                      # tutor.nn.functional.feed_forward

ENCODER_LAYER = {         # tutor.nn.layers.encoder_layer, as the walkthroughs run it (no mask)
    **table("""
input | [B, S, d_model] | the layer's input
add1 | [B, S, d_model] | x + self-attention (the sublayer's own input added)
add2 | [B, S, d_model] | x + feed-forward
output | [B, S, d_model] | the layer's output
"""),
    **scoped("self_attn", renamed(without(MULTI_HEAD, UNMASKED), n_q="S", n_k="S", n="S",
                                  T="S")),
    **scoped("norm1", NORM), **scoped("ff", FEED_FORWARD), **scoped("norm2", NORM)}

DECODER_LAYER = {         # tutor.nn.layers.decoder_layer (masked self-attention when causal)
    **{name: (shape.replace("S", "T"), meaning) for name, (shape, meaning) in ENCODER_LAYER.items()},
    **table("""
add2 | [B, T, d_model] | x + encoder-decoder attention
add3 | [B, T, d_model] | x + feed-forward (the third sublayer)
"""),
    **scoped("self_attn", renamed(MULTI_HEAD, n_q="T", n_k="T", n="T")),
    **scoped("multihead_attn", renamed(renamed(without(MULTI_HEAD, UNMASKED), ("k", "v"), n="S"),
                                       n_q="T", n_k="S", n="T")),
    **scoped("norm3", NORM)}

ENCODER = {**scoped("encoder.layers.{i}", ENCODER_LAYER), **scoped("encoder.norm", NORM)}
DECODER = {**scoped("decoder.layers.{i}", DECODER_LAYER), **scoped("decoder.norm", NORM)}

SINUSOIDAL = table("""
frequencies | [d_model] | 1 / 10000^(2i/d) of each column
angles | [n_pos, d_model] | pos × frequency
pe | [n_pos, d_model] | sin of the angles on even columns, cos on odd ones
""")                      # tutor.nn.posenc.sinusoidal_encoding

ADD_PE = table("""
embedded | [n, d_model] | the word vectors X
pe | [n, d_model] | the positional encodings of positions 0..n-1
out | [n, d_model] | X + PE, the input rows
""")                      # tutor.nn.posenc.add_positional_encoding

ADD_AND_NORM = {**table("""
input | [d] | the sublayer's input x
sublayer | [d] | the sublayer's output
add | [d] | x + sublayer(x)
"""), **scoped("norm", NORM)}   # tutor.nn.analysis.add_and_norm

NEXT_TOKEN = {**table("""
hidden | [d_model] | the decoder's last output vector
logits | [V] | hidden · each word's embedding
"""), **scoped("softmax", SOFTMAX)}   # tutor.nn.analysis.next_token_distribution

SCALING = table("""
dk{d}.dots | [N] | one q·k per sample, q and k with N(0, 1) entries
dk{d}.std | [] | the spread of q·k (about √dk)
dk{d}.max_weight_unscaled | [] | mean largest softmax weight, scores not scaled
dk{d}.max_weight_scaled | [] | mean largest softmax weight, scores ÷ √dk
dk{d}.grad_unscaled | [] | mean norm of the softmax's Jacobian, not scaled
dk{d}.grad_scaled | [] | mean norm of the softmax's Jacobian, scaled
table | [n_dk, 7] | per dk: dk, √dk, std, the two max weights, the two gradients
""")                      # tutor.nn.analysis.scaling_statistics

SOFTMAX_WITH_TEMPERATURE = {**table("""
input | [n] | the numbers given
logits | [n] | input × scale / temperature
"""), **scoped("softmax", SOFTMAX)}   # tutor.nn.analysis.softmax_with_temperature

ATTENTION_GRADS = {       # tutor.nn.backward.scaled_dot_product_attention_backward
    **table("""
out.grad | [..., n_q, d_v] | dL/dZ, the gradient arriving at the output
weights.grad | [..., n_q, n_k] | dL/dweights = dL/dZ·Vᵀ
masked.grad | [..., n_q, n_k] | dL/dmasked, equal to dL/dscaled (only with a mask)
scaled.grad | [..., n_q, n_k] | dL/dscaled = weights ⊙ (dL/dweights − grad_mean), through the softmax
scores.grad | [..., n_q, n_k] | dL/dscores = dL/dscaled × the scale (÷ √d_k)
q.grad | [..., n_q, d_k] | dL/dQ = dL/dscores·K
k.grad | [..., n_k, d_k] | dL/dK = dL/dscoresᵀ·Q
v.grad | [..., n_k, d_v] | dL/dV = weightsᵀ·dL/dZ
"""), **scoped("softmax", table("""
grad_mean | [..., n_q, 1] | Σ_j weights_j·dL/dweights_j, each row's gradient averaged by its weights
"""))}

HEAD_GRADS = {            # tutor.nn.backward.attention_head_backward
    **ATTENTION_GRADS, **table("""
w_q.grad | [d_model, d_k] | dL/dWq = Xᵀ·dL/dQ
w_k.grad | [d_model, d_k] | dL/dWk = Xᵀ·dL/dK
w_v.grad | [d_model, d_v] | dL/dWv = Xᵀ·dL/dV
x.grad | [n, d_model] | dL/dX, the three paths added (self-attention)
x.grad.via_q | [n, d_model] | dL/dQ·Wqᵀ, what reaches X through the queries
x.grad.via_k | [n, d_model] | dL/dK·Wkᵀ, through the keys
x.grad.via_v | [n, d_model] | dL/dV·Wvᵀ, through the values
x_q.grad | [n_q, d_model] | dL/dX_q (query input, cross-attention)
x_kv.grad | [n_k, d_model] | dL/dX_kv (key-value input, cross-attention)
""")}
CROSS_ONLY = ("x_q.grad", "x_kv.grad")   # recorded only when queries and keys differ

SQUARED_ERROR = table("""
error | like out | out − target, which is also dL/dout
loss | [] | ½‖out − target‖²
""")                      # tutor.nn.loss.squared_error

GRADIENT_DESCENT = table("""
sq_norm | [] | the sum of every squared gradient entry, ‖g‖²
predicted_decrease | [] | lr·‖g‖², the loss's drop a first-order expansion predicts
""")                      # tutor.nn.optim.gradient_descent_step

TRAINING_RUN = table("""
loss | [steps] | the training loss of every step (shorter if the run diverged)
final_loss | [] | the mean loss of the last 20 steps (inf if the run diverged)
accuracy | [] | held-out exact-sequence accuracy at the end
initial_max_weight | [] | each query's largest attention weight before training, averaged
steps_to_target | [] | the first step whose 20-step mean loss is at most 0.5 (NaN: never)
""")                      # one run of tutor.training.scaling_training.scaling_experiment


DECODING = table("""
memory | [B, S, d_model] | the encoder's output, computed once (Seq2SeqStepper)
step.{t}.prefix | [B, n] int | the tokens the step reads (the start, then what was chosen)
step.{t}.logits | [B, V] | scores of the next token (the newest position's output row)
step.{t}.probs | [B, V] | softmax(logits), the model's next-token distribution
step.{t}.scaled | [B, V] | logits / temperature (sampling)
step.{t}.kept | [B, V] bool | tokens top-k and top-p leave in the running (sampling)
step.{t}.sample_probs | [B, V] | the distribution sampled from: softmax(scaled) over the kept tokens, zero elsewhere (sampling)
step.{t}.candidates | [B, c] int | the most likely next tokens, best first, under the distribution the choice uses (sample_probs when sampling, else probs)
step.{t}.candidate_probs | [B, c] | their probabilities
step.{t}.choice | [B] int | the token the rule chose (greedy, sampling); a row that has already ended writes the end token instead
step.{t}.cross_attn.{i}.heads | [B, H, S] | the newest position's encoder-decoder attention over the source tokens, per head (Seq2Seq)
step.{t}.cross_attn.{i}.mean | [B, S] | the same, averaged over the heads
step.{t}.self_attn.{i}.heads | [B, H, n] | the newest position's causal self-attention over the tokens so far, per head
step.{t}.self_attn.{i}.mean | [B, n] | the same, averaged over the heads
step.{t}.cache.self_attn | [layers] int | numbers held as self-attention keys and values after the step, read from the cache (2 * B * n * d_model)
step.{t}.cache.cross_attn | [layers] int | numbers held as encoder-decoder keys and values (2 * B * S * d_model, computed at step 0, then reused)
step.{t}.work.cached | int | multiply-adds of this step with the cache (counted)
step.{t}.work.uncached | int | multiply-adds of this step recomputing everything (counted)
step.{t}.logprobs | [n_live, V] | log softmax(logits) of each live beam (beam search)
step.{t}.beams | [n_live, n] int | the live beams after the step, best first (beam search)
step.{t}.parents | [n_live] int | the beam each live beam extends (beam search)
step.{t}.beam_logprobs | [n_live] | log P(beam), the sum of its tokens' log-probabilities
step.{t}.beam_scores | [n_live] | log P(beam) / lp(beam), lp(Y) = ((5 + |Y|) / 6)^alpha
step.{t}.finished.tokens | [f, t + 1] int | hypotheses that ended at this step (the end token, or the last step reached), new tokens only
step.{t}.finished.logprobs | [f] | their log-probabilities
step.{t}.finished.scores | [f] | their length-penalised scores
output | [B, n] int | prefix and new tokens (generate); [n] the best hypothesis (beam)
""")   # tutor.nn.decoding.generate / beam_search with Seq2SeqStepper or the pretrained
# CausalLMStepper ({i}: a decoder layer). Not recorded by the walkthroughs, so not declared:
# step.{t}.seconds (only with a clock), and encode.* and step.{t}.model.* (only with
# Seq2SeqStepper(record_model=True)).

REPLAY = table("""
replay.{t}.cached_seconds | scalar | fastest wall time of step t replayed with the cache (measured)
replay.{t}.uncached_seconds | scalar | fastest wall time of step t recomputing everything (measured)
replay.{t}.max_logit_diff | scalar | largest |logits with the cache − logits recomputed| of step t
""")                      # walkthroughs.generation (explain_cache)

# --- what each walkthrough records (its whole trace) ------------------------------------------

_SELF_ATTENTION_INPUTS = {**table("""
x | [n, d_model] | the word vectors X, one row per token
w_q | [d_model, d_k] | query weights Wq
w_k | [d_model, d_k] | key weights Wk
w_v | [d_model, d_v] | value weights Wv
w_o | [d_v, d_model] | output projection Wo (multi-head form)
"""), **scoped("posenc", SINUSOIDAL), **scoped("input", ADD_PE)}
_SELF_ATTENTION_RUN = {**ATTENTION, **MULTI_HEAD_XW}
_ORDERINGS = ("a.plain", "a.with_pe", "b.plain", "b.with_pe")
_POSITIONAL_TABLE = {**scoped("sinusoidal", SINUSOIDAL), **table("""
table | [max_positions, d_model] | a learned table (untrained: N(0, 1))
learned.pe | [n_pos, d_model] | its first n_pos rows
""")}
_GAMMA_BETA = table("""
gamma | [d] | scale γ
beta | [d] | shift β
""")

SEQ2SEQ_EMBED = table("""
tokens | [B, n, d_model] | each token id's row of the embedding table
pe | [n, d_model] | the positional encodings of positions 0..n-1
out | [B, n, d_model] | tokens × √d_model + pe, the stack's input
""")                      # tutor.nn.model.Seq2Seq.embed

_BACKWARD_STEP = {**GRADIENT_DESCENT, **ATTENTION, **SQUARED_ERROR, **table("""
w_q | [d_model, d_k] | Wq − lr·dL/dWq
w_k | [d_model, d_k] | Wk − lr·dL/dWk
w_v | [d_model, d_v] | Wv − lr·dL/dWv
""")}

_MODEL_HEAD = {**table("""
hidden | [n, d_model] | the hidden states entering the layer (the embedding stage's output for layer 1)
x | [n, d_model] | X: the hidden states, after the layer's norm1 for a pre-norm model (GPT-2)
w_q | [d_model, d_head] | this head's slice of the layer's query weights
b_q | [d_head] | this head's slice of the query bias
w_k | [d_model, d_head] | this head's slice of the key weights
b_k | [d_head] | this head's slice of the key bias
w_v | [d_model, d_head] | this head's slice of the value weights
b_v | [d_head] | this head's slice of the value bias
"""), **ATTENTION}       # walkthroughs.pretrained.model_head (mask and masked: GPT-2 only)

_ROPE_HEAD = {**table("""
hidden | [n, d_model] | the hidden states entering the layer (the word vectors for layer 1)
x | [n, d_model] | X: the hidden states after the layer's RMSNorm (attn_norm)
w_q | [d_model, d_head] | this query head's columns of the layer's query weights
w_k | [d_model, d_head] | the columns of the key/value head it shares, of the key weights
w_v | [d_model, d_head] | the same key/value head's columns of the value weights
q_before_rope | [n, d_head] | X·Wq, before the rotation
k_before_rope | [n, d_head] | X·Wk, before the rotation
rope_cos | [n, d_head / 2] | cos(p·θ_i) of RoPE's angle for position p and pair i
rope_sin | [n, d_head / 2] | sin(p·θ_i)
rope.theta | [d_head / 2] | θ_i = base^(−2i/d), the angle per position of pair i (float32)
"""), **ATTENTION}       # walkthroughs.pretrained.rope_head (q, k: after RoPE)

RECORDED: dict[str, Table] = {
    "pretrained.model_head": _MODEL_HEAD,
    "pretrained.rope_head": _ROPE_HEAD,
    "pretrained.model_heads": table(
        "attentions | [n_layer, h, n, n] | every head's weights, [layer][head][query][key]"),
    "pretrained.model_context": table("""
similarity | [n_layer + 1] | cos(word in A, word in B) after the embeddings and each layer
control_similarity | [n_layer + 1] | the same for the control word
"""),
    "attention.self_attention": {**_SELF_ATTENTION_INPUTS, **_SELF_ATTENTION_RUN,
                                 **scoped("with_scaling", _SELF_ATTENTION_RUN)},
    "attention.word_order": {  # one head, identity weights, no mask; without and with PE
        **{name: entry for run in _ORDERINGS
           for name, entry in scoped(run, without(_SELF_ATTENTION_INPUTS, ("w_o",))).items()
           if run.endswith("with_pe") or ".posenc." not in name and ".input." not in name},
        **{name: entry for run in _ORDERINGS
           for name, entry in scoped(run, without(ATTENTION, UNMASKED)).items()}},
    "posenc.positional_table": {**_POSITIONAL_TABLE, **scoped("input", ADD_PE)},
    "posenc.sinusoidal_beside_learned": _POSITIONAL_TABLE,
    "norm.layer_norm_steps": {**_GAMMA_BETA, **table("layer.input | [d] | the vector x"),
                              **scoped("layer", NORM)},
    "norm.batch_beside_layer_norm": {**_GAMMA_BETA,
                                     **table("input | [n, d] | the batch, one row per item"),
                                     **scoped("layer", NORM), **scoped("batch", NORM)},
    "norm.add_and_norm": {**_GAMMA_BETA, **ADD_AND_NORM},
    "softmax.softmax_steps": SOFTMAX_WITH_TEMPERATURE,
    "softmax.softmax_rows": {**table("logits | [rows, cols] | the numbers, one softmax per row"),
                             **scoped("softmax", like(SOFTMAX, "[rows, cols]"))},
    "softmax.scaling": SCALING,
    "stack.encode": {**scoped("input", ADD_PE), **ENCODER,
                     **table("src | [B, S, d_model] | the vectors given (a batch of one if 2-D)")},
    "stack.transform": {**scoped("src_input", ADD_PE), **scoped("tgt_input", ADD_PE),
                        **ENCODER, **DECODER, **scoped("next", NEXT_TOKEN), **table("""
src | [B, S, d_model] | the source vectors given
tgt | [B, T, d_model] | the target vectors given
vocab_embeddings | [V, d_model] | the vectors of the sentences' words
""")},
    "backward.backpropagation": {
        **without(_SELF_ATTENTION_INPUTS, ("w_o",)), **ATTENTION,
        **scoped("with_scaling", ATTENTION), **SQUARED_ERROR, **without(HEAD_GRADS, CROSS_ONLY),
        **table("target | [n, d_v] | the target T the output Z is compared with"),
        **scoped("step", _BACKWARD_STEP)},
    "scaling_training.scaling_training": {
        **scoped("dk{d}.scaled", TRAINING_RUN), **scoped("dk{d}.unscaled", TRAINING_RUN),
        **table("""
curves | [2·n_dk, points] | each run's loss curve as means of equal buckets of steps
checkpoints | [2·n_dk, 6] | each run's 20-step mean loss at six steps
table | [2·n_dk, 5] | per run: heads, initial largest weight, steps to 0.5, final loss, accuracy
""")},
    "stack.norms_in_encoder_layer": {**ENCODER, **scoped("ln", NORM), **scoped("bn", NORM)},
    "stack.post_and_pre_norm": {**scoped("post", {**ENCODER, **scoped("stats", NORM)}),
                                **scoped("pre", {**ENCODER, **scoped("stats", NORM)})},
    "feed_forward.position_wise": {
        **table("""
x | [n, d_model] | the token vectors, one row per token
relu | [n, d_ff] | relu of ff.hidden, beside another activation (not with relu)
"""), **scoped("ff", {name: (shape.replace("[B, S,", "[n,"), meaning)
                      for name, (shape, meaning) in FEED_FORWARD.items()})},
    "generation.generate": {**DECODING, **REPLAY},
    "toy_heads.toy_model_heads": {**scoped("src_embed", SEQ2SEQ_EMBED),
                              **scoped("tgt_embed", SEQ2SEQ_EMBED),
                              **scoped("transformer", {**ENCODER, **DECODER}),
                              **table("logits | [B, T, V] | the scores of every token of the "
                                      "vocabulary at each target position")},
    "toy_heads.toy_model_head": _MODEL_HEAD,        # a toy model's head, read from toy_model_heads
}

# The later course's walkthroughs (word vectors, a trained model's teacher-forced pass).
RECORDED.update({
    "glove.similarity_table": {**table("""
x | [n, 50] | the words' GloVe vectors, one row per word
cos.a | [n, 1, 50] | the vectors as rows (broadcast against b)
cos.b | [1, n, 50] | the vectors as columns
cos.dot | [n, n] | a·b for every pair of words
cos.norm_a | [n, 1] | the length of each word's vector
cos.norm_b | [1, n] | the same, along the columns
cos.cosine | [n, n] | cos(a, b) = a·b / (|a| |b|), 1 on the diagonal
""")},
    "glove.nearest_words": table(
        "cosine | [k, 1] | cosine similarity of the k nearest words to the word, best first"),
    "learning.teacher_forcing": {
        **{f"{side}_embed.{name}": entry for side in ("src", "tgt") for name, entry in table("""
tokens | [B, n, d_model] | each token's row of the embedding table
pe | [n, d_model] | the sinusoidal positional encoding of the n positions
out | [B, n, d_model] | tokens × √d_model + pe, the stack's input
""").items()},
        **scoped("transformer", {**ENCODER, **DECODER}), **table("""
logits | [B, T, V] | the decoder's scores over the vocabulary at every target position
probs | [T, V] | softmax of the logits: the next-token distribution at each position
correct_prob | [T, 1] | the probability each position gives the right next token
loss.log_probs | [T, V] | log softmax of the logits
loss.valid | [T] | the positions that count (all: no padding)
loss.loss | [] | the cross-entropy: the mean of −log correct_prob
""")},
})

# Today's parts, each beside the 2017 one it replaced (walkthroughs.modern).
RMS_NORM = table("""
mean_square | [1] | mean(x²), the mean of the squared numbers
rms | [1] | √(mean(x²) + ε), the root mean square
normalized | [d] | x / rms
out | [d] | g ⊙ x / rms, RMSNorm's output
""")                      # tutor.nn.modern.rms_norm_steps

ONLINE_BLOCK = table("""
scores | [n_q, block] | this block's q·k / √d_k
max | [n_q] | the running max m of every score so far
rescale | [n_q] | exp(m_old − m_new), what the earlier sum and output are multiplied by
sum | [n_q] | the running sum l of exp(score − m)
acc | [n_q, d_v] | the running output Σ exp(score − m)·v, not yet divided by l
""")                      # tutor.nn.modern.online_softmax_attention, per block

RECORDED.update({
    "modern.rmsnorm_beside_layer_norm": {
        **table("""
input | [d] | the vector x
gamma | [d] | the gain g (γ of layer norm; no β)
counts | [2, 3] | operations, reductions, parameters: layer norm, then RMSNorm
"""), **scoped("rms", RMS_NORM), **scoped("layer", NORM), **scoped("centered", RMS_NORM)},
    "modern.rope_beside_sinusoidal": {
        **table("""
queries | [n, d] | the query of each position (one vector repeated, or the words' vectors)
keys | [n, d] | the key of each position
rope.theta | [d/2] | θ_i = base^(−2i/d), the angle per position of pair i
rope.angles | [n, d/2] | pos·θ_i
rope.out | [n, d] | each query with pair i rotated by pos·θ_i
rope.keys | [n, d] | each key rotated the same way
rope.lengths | [n] | |RoPE(q)| of each position: the query's length, which the rotation keeps
scores.plain | [n, n] | q·k without positions
scores.rope | [n, n] | rotated q · rotated k: depends on m − n only
scores.sinusoidal | [n, n] | (q + PE)·(k + PE), sinusoidal encodings added instead
offset | [p, 4] | m, n, m − n, and the score of the first query at m with the last key at n
layouts.scores | [n, n] | rope.scores in the pairs layout on the permuted vectors
layouts.max_diff | [] | the largest difference between the two layouts' scores
"""), **scoped("sinusoidal", SINUSOIDAL)},
    "modern.grouped_query": {
        **table("""
x | [n, d_model] | the word vectors X
q | [h, n, d_head] | the queries of every query head
k | [kv, n, d_head] | the keys of every key/value head
v | [kv, n, d_head] | the values of every key/value head
group | [h] | the key/value head each query head reads
gqa.scores | [1, h, n, n] | each query head's q·k with its group's keys
gqa.scaled | [1, h, n, n] | the scores ÷ √d_head
gqa.weights | [1, h, n, n] | softmax of the scaled scores
gqa.out | [1, h, n, d_head] | weights·V of the group's values
mha.out | [1, h, n, d_head] | multi-head attention with the key/value heads repeated
mha.max_diff | [] | the largest difference between gqa.out and mha.out
cache.here | [3, 2] | key/value heads and cache bytes per token (one layer, float32): MHA, GQA, MQA
cache.smollm2 | [3, 2] | the same at SmolLM2's sizes (30 layers, 9 heads, head 64)
cache.context | [3] | SmolLM2's cache in bytes for a whole context (2,048 tokens): MHA, GQA, MQA
"""), **scoped("gqa.softmax", SOFTMAX)},
    "modern.gated_feed_forward": {
        **table("""
x | [n, d_model] | the token vectors, one row per token
swiglu.gate | [n, d_ff] | x·W_gate
swiglu.silu | [n, d_ff] | SiLU(x·W_gate), the gate
swiglu.up | [n, d_ff] | x·W_up
swiglu.hidden | [n, d_ff] | SiLU(gate) ⊙ up
swiglu.out | [n, d_model] | hidden·W_down
params | [4, 2] | width and weights: relu, gelu, swiglu at the same width, swiglu at 2/3
params_smollm2 | [2, 2] | SmolLM2's SwiGLU (1536) and the two-matrix width of equal size
"""), **scoped("ff", {name: (shape.replace("[B, S,", "[n,"), meaning)
                      for name, (shape, meaning) in FEED_FORWARD.items()})},
    "modern.quantize_block": table("""
input | [n] | the numbers given
scale | [blocks] | each block's scale d (stored as float16)
min | [blocks] | each block's minimum m (Q4_1 only)
amax | [blocks] | each block's max |x|, which d is made from (Q8_0 only)
max | [blocks] | each block's max x, which d is made from with m (Q4_1 only)
codes | [n] | the integer q of each number
reconstruction | [n] | d·q (Q8_0) or d·q + m (Q4_1)
error | [n] | reconstruction − input
max_error | [] | the largest |error|
bits | [4] | bits per weight: F32, F16, Q8_0, Q4_1
memory | [4] | SmolLM2-135M's bytes at F32, F16, Q8_0, Q4_1 (norm weights F32)
"""),
    "modern.stored_block": table("""
scale | [1] | the block's scale d, as stored (float16)
min | [1] | the block's minimum m, as stored (Q4_1 only)
codes | [32] | the integer q of each number, as stored
reconstruction | [32] | d·q (Q8_0) or d·q + m (Q4_1): the numbers the model computes with
bits | [4] | bits per weight: F32, F16, Q8_0, Q4_1
memory | [4] | SmolLM2-135M's bytes at F32, F16, Q8_0, Q4_1 (norm weights F32)
"""),
    "modern.online_softmax": {
        **table("""
x | [n, d_model] | the word vectors X
q | [n, d_k] | queries X·Wq
k | [n, d_k] | keys X·Wk
v | [n, d_v] | values X·Wv
online.out | [n, d_v] | acc / sum after the last block
max_diff | [] | the largest |online − softmax attention|
memory | [3] | numbers held for the scores: softmax n², online 2n + n·block; the output n·d_v
"""), **scoped("online.block{b}", ONLINE_BLOCK),
        **table("""
reference.scores | [n, n] | every q·k / √d_k at once: the n×n matrix online softmax avoids
reference.weights | [n, n] | softmax of each row
reference.out | [n, d_v] | weights·V, softmax attention's output
""")},
    "modern.bpe": table("""
bytes | [n_bytes] | the text's UTF-8 bytes (0–255)
pieces | [p, 3] | each pre-tokenized piece: its first byte, its bytes, 1 for an added token kept whole
merges | [m, 4] | each merge in the order applied: piece, position in it, rank, the merged token's id
ids | [k] | the token ids, the model's own
"""),
    "modern.decoder_only": {
        **table("""
parts | [block, sublayer] | 1 where a 2017 encoder layer, a 2017 decoder layer, a decoder-only block has the sublayer
x | [n, d_model] | the word vectors X
h | [n, d_model] | x + causal self-attention's output: the hidden states the head reads
embedding | [V, d_model] | the embedding matrix E, one row per vocabulary word
logits.tied | [n, V] | h·Eᵀ: the tied head, the embedding matrix transposed
logits.untied | [n, V] | h·Wᵀ with an untied head W, here a copy of E
max_diff | [] | the largest |tied − untied| logit
tying | [model, quantity] | V (vocabulary), d_model, V·d (what tying saves), the parameters when tied, 1 if it ties
"""), **scoped("attn", ATTENTION)},
})

ALL: Table = {name: entry for table in RECORDED.values() for name, entry in table.items()}


def _pattern(name: str) -> str:
    return re.escape(name).replace(r"\{i\}", r"\d+").replace(r"\{h\}", r"\d+") \
        .replace(r"\{d\}", r"\d+").replace(r"\{t\}", r"\d+").replace(r"\{b\}", r"\d+")


_REGEX: dict[str, re.Pattern] = {}


def declared(name: str, walkthrough: str | None = None) -> bool:
    """Whether ``name`` (a concrete recorded name such as ``encoder.layers.1.add1``) is
    declared, for one walkthrough ("attention.self_attention") or for any."""
    table = ALL if walkthrough is None else RECORDED[walkthrough]
    key = walkthrough or "*"
    if key not in _REGEX:
        _REGEX[key] = re.compile("|".join(f"(?:{_pattern(n)})" for n in table) + r"\Z")
    return _REGEX[key].match(name) is not None


def shape_of(name: str, walkthrough: str) -> str | None:
    """The declared shape of recorded name ``name`` (concrete, ``encoder.layers.1.add1``)
    of ``walkthrough``, or None when it does not declare it."""
    for pattern, (shape, _) in RECORDED[walkthrough].items():
        if re.fullmatch(_pattern(pattern), name):
            return shape
    return None


def axis_names(shape: str) -> list[str] | None:
    """The axes a declared shape names, outermost first: ``"[B, h, n_q, n_k]"`` gives
    ``["B", "h", "n_q", "n_k"]``, ``"[..., n_q, n_k]"`` gives ``["...", "n_q", "n_k"]`` (any
    leading axes), ``"[]"``, ``"scalar"`` and ``"int"`` give ``[]``; None for a shape said in
    words (``"like x"``)."""
    if shape in ("scalar", "int"):
        return []
    match = re.fullmatch(r"\[([^\]]*)\](?: \w+)?", shape)
    if match is None:
        return None
    return [axis.strip() for axis in match.group(1).split(",") if axis.strip()]

# The whole block around attention (walkthroughs.block), for the explorer's block tab: one
# layer's residual adds, norms and feed-forward, under one set of names for every kind.
_BLOCK_NORM = like(NORM, "[n, d_model]")
_BLOCK = {**table("""
input | [n, d_model] | X: the block's input (with positional encoding when it is on)
attn_out | [n, d_model] | the attention sublayer's output (after Wo)
add1 | [n, d_model] | X + attention: the first residual add
ff.hidden | [n, d_ff] | norm·W1ᵀ + b1 (llama: SiLU(gate) ⊙ up)
ff.activated | [n, d_ff] | relu or gelu of ff.hidden (llama: SiLU(gate) ⊙ up, what W_down reads)
ff.out | [n, d_model] | the feed-forward's output
add2 | [n, d_model] | the second residual add: its input + the feed-forward
output | [n, d_model] | the block's output
"""), **scoped("norm1", _BLOCK_NORM), **scoped("norm2", _BLOCK_NORM)}
RECORDED.update({
    "block.sentence_block": {**_BLOCK, **table("""
w1 | [d_ff, d_model] | the feed-forward's first weights W1 (PyTorch's linear1)
w2 | [d_model, d_ff] | its second weights W2 (linear2)
""")},
    "block.model_block": {**_BLOCK, **table("""
ff.gate | [n, d_ff] | llama: norm·W_gateᵀ, the gate's values
ff.silu | [n, d_ff] | llama: SiLU(gate) = gate·σ(gate)
ff.up | [n, d_ff] | llama: norm·W_upᵀ
norm1.mean_square | [n, 1] | RMSNorm before attention: mean(x²) of each row
norm2.mean_square | [n, 1] | RMSNorm before the feed-forward: mean(x²) of each row
cross_out | [n, d_model] | a decoder layer's attention over the encoder (after Wo)
add_cross | [n, d_model] | its residual add
logits | [V] | the next token's scores after the last position (a model that writes)
"""), **scoped("norm_cross", _BLOCK_NORM)},
})
RECORDED["block.next_token"] = table("""
logits | [V] | the next token's scores
scaled | [V] | logits / T
kept | [V] bool | the tokens top-k and top-p keep
sample_probs | [V] | softmax of the kept scaled logits: the distribution sampled from
top_ids | [top] int | the model's most likely tokens, best first: those kept, then those left out
""")
