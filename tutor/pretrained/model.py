"""A pretrained BERT or GPT-2 from a Hugging Face folder, run by tutor.nn's own layers.

Only two things here are new: the embedding stage (:func:`bert_embeddings`,
:func:`gpt2_embeddings`) and the name mapping (:mod:`.mapping`). Every layer is
:func:`tutor.nn.layers.encoder_layer` on PyTorch's parameter names, post-norm for BERT and
pre-norm with a causal mask for GPT-2, so the trace records what it records for tutor's own
stack: under ``layers.<i>.`` the layer's ``input`` (the hidden states entering it),
``self_attn.q``/``k``/``v`` [1, n_head, n, d_head], ``self_attn.scores``/``scaled``/
``weights`` [1, n_head, n, n], ``add1``, ``norm1.*``, ``ff.*``, ``add2``, ``norm2.*``,
``output``. Layers and heads are numbered from 0 here (the commands show them from 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParameterError, ShapeError, TutorError
from ..limits import MAX_MODEL_FILE_BYTES
from ..nn.functional import layer_norm, linear
from ..nn.layers import encoder_layer
from ..nn.masks import causal_mask
from ..nn.params import ParamView, TransformerConfig
from ..trace import NULL_TRACE, AttentionWeights
from ..weightfiles import load_safetensors, pickle_refusal, read_safetensors_header
from .config import PretrainedConfig, read_config
from .mapping import parameter_sources, plan_names
from .tokenizer import Encoding, Tokenizer

FLOAT_DTYPES = ("F16", "F32", "F64")


# -- the embedding stage (the only new math) -------------------------------------------------

def bert_embeddings(ids, token_type_ids, p, eps: float, *, trace=NULL_TRACE):
    """BERT's input: LayerNorm(word[ids] + position[0..n-1] + token_type[token_type_ids]).

    ``ids``, ``token_type_ids``: [n] integers; ``p`` holds ``word`` [V, E], ``position``
    [P, E], ``token_type`` [T, E], ``norm.weight``/``norm.bias`` [E]. Returns [n, E].
    Source: Devlin et al. 2018, section 3 (Figure 2); ``transformers`` ``BertEmbeddings``.
    """
    n = len(ids)
    word = p["word"][ids]                                              # [n] -> [n, E]
    position = p["position"][:n]                                       # [n, E]
    token_type = p["token_type"][token_type_ids]                       # [n] -> [n, E]
    summed = word + position + token_type                              # [n, E]
    trace.record("word", word)
    trace.record("position", position)
    trace.record("token_type", token_type)
    trace.record("sum", summed)
    out = layer_norm(summed, p["norm.weight"], p["norm.bias"], eps, trace=trace.scope("norm"))  # [n, E]
    trace.record("out", out)
    return out


def gpt2_embeddings(ids, p, *, start: int = 0, trace=NULL_TRACE):
    """GPT-2's input: word[ids] + position[start..start+n-1] (no norm; each layer norms its
    own input).

    ``ids``: [n] or [B, n] integers; ``p`` holds ``word`` [V, E] and ``position`` [P, E];
    ``start`` is the position of the first id (when decoding step by step with a cache).
    Returns [(B,) n, E]. Source: Radford et al. 2019; ``transformers`` ``GPT2Model.forward``.
    """
    n = np.shape(ids)[-1]
    word = p["word"][ids]                                              # [(B,) n] -> [(B,) n, E]
    position = p["position"][start:start + n]                          # [n, E]
    out = word + position                                              # [(B,) n, E]
    trace.record("word", word)
    trace.record("position", position)
    trace.record("out", out)
    return out


# -- results ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class HeadWeights:
    """One head's slices of the query, key and value projections, in the notes' X*W form:
    Q = X Wq + bq. ``w_*`` are [d_model, d_head], ``b_*`` are [d_head]."""

    w_q: np.ndarray
    b_q: np.ndarray
    w_k: np.ndarray
    b_k: np.ndarray
    w_v: np.ndarray
    b_v: np.ndarray

    def __iter__(self):
        return iter((self.w_q, self.b_q, self.w_k, self.b_k, self.w_v, self.b_v))


@dataclass(frozen=True)
class ModelOutput:
    """What a forward pass gives, as ``transformers`` lays it out with
    ``output_hidden_states=True, output_attentions=True`` (batch dimension dropped).

    ``hidden_states``: n_layer + 1 arrays [n, E]: the embedding stage's output, then each
    layer's output. hidden_states[i] is therefore what enters layer i. For GPT-2 (as in
    ``GPT2Model``) the last entry has the final norm ``ln_f`` applied.
    ``attentions``: [n_layer, n_head, n, n] (``[layer][head][query][key]``), or None when not
    asked for. ``last_hidden_state`` is ``hidden_states[-1]``.
    """

    hidden_states: list[np.ndarray]
    attentions: np.ndarray | None

    @property
    def last_hidden_state(self) -> np.ndarray:
        return self.hidden_states[-1]


# -- the model -------------------------------------------------------------------------------

class PretrainedModel:
    """A BERT-style encoder or a GPT-2-style decoder read from a Hugging Face folder.

    Build it with :func:`load_pretrained` (or :func:`tutor.pretrained.load_model` by name).
    ``params`` uses tutor.nn's names (``embed.*``, ``layers.<i>.self_attn.in_proj_weight``,
    ..., ``final_norm.*`` for GPT-2); ``unused_tensors`` lists the file's tensors that play
    no part (task heads, buffers).
    """

    def __init__(self, config: PretrainedConfig, params: dict, tokenizer: Tokenizer | None,
                 *, path=None, name: str | None = None, unused_tensors=()):
        self.config = config
        self.params = params
        self.tokenizer = tokenizer
        self.path = None if path is None else Path(path)
        self.name = name or (self.path.name if self.path else config.model_type)
        self.unused_tensors = tuple(unused_tensors)
        self.dtype = params["embed.word"].dtype
        self.layer_config = TransformerConfig(
            d_model=config.d_model, nhead=config.n_head, num_encoder_layers=config.n_layer,
            num_decoder_layers=1, dim_feedforward=config.d_ff, norm_first=config.norm_first,
            activation=config.activation, layer_norm_eps=config.layer_norm_eps)
        self._view = ParamView(params, "")

    n_layer = property(lambda self: self.config.n_layer)
    n_head = property(lambda self: self.config.n_head)
    d_model = property(lambda self: self.config.d_model)
    d_head = property(lambda self: self.config.d_head)

    def __repr__(self) -> str:
        c = self.config
        return (f"PretrainedModel({self.name!r}, model_type={c.model_type!r}, n_layer={c.n_layer}, "
                f"n_head={c.n_head}, d_model={c.d_model}, d_head={c.d_head}, dtype={self.dtype})")

    # -- tokens --------------------------------------------------------------------------
    def encode(self, text: str) -> Encoding:
        """Tokens of ``text`` with their ids, character spans and special-token flags.
        Raises TutorError when the text has more tokens than the model has positions."""
        if self.tokenizer is None:
            raise TutorError(f"{self.name}: the model folder has no tokenizer")
        found = self.tokenizer.encode(text)
        if len(found) > self.config.max_positions:
            raise TutorError(f"text has {len(found):,} tokens; {self.name} reads at most "
                             f"{self.config.max_positions:,}")
        if len(found) == 0:
            raise TutorError("text has no tokens; expected at least one word")
        return found

    def tokenize(self, text: str) -> tuple[list[int], list[str]]:
        """``(ids, tokens)`` of ``text`` as the model's tokenizer gives them."""
        found = self.encode(text)
        return found.ids, found.tokens

    # -- forward -------------------------------------------------------------------------
    def _check_ids(self, ids, name: str, limit: int):
        ids = np.asarray(ids)
        if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise ShapeError(f"{name} must be a non-empty 1-D array of integers, got shape "
                             f"{ids.shape} of {ids.dtype}")
        if ids.size > self.config.max_positions:
            raise ShapeError(f"{name} has {ids.size} positions; the model has "
                             f"{self.config.max_positions}")
        if ids.min() < 0 or ids.max() >= limit:
            raise ShapeError(f"{name} must lie in [0, {limit}), got values from {ids.min()} "
                             f"to {ids.max()}")
        return ids

    def embed(self, ids, token_type_ids=None, *, trace=NULL_TRACE):
        """The embedding stage: token ids [n] -> [n, d_model] (what enters layer 0)."""
        ids = self._check_ids(ids, "ids", self.config.vocab_size)
        view = self._view.scope("embed")
        if self.config.model_type == "gpt2":
            if token_type_ids is not None:
                raise TutorError("token_type_ids are a BERT input; GPT-2 has none")
            return gpt2_embeddings(ids, view, trace=trace)
        if token_type_ids is None:
            token_type_ids = np.zeros_like(ids)                        # one sentence: segment 0
        token_type_ids = self._check_ids(token_type_ids, "token_type_ids",
                                         self.config.type_vocab_size)
        if token_type_ids.shape != ids.shape:
            raise ShapeError(f"token_type_ids has shape {token_type_ids.shape}, ids {ids.shape}")
        return bert_embeddings(ids, token_type_ids, view, self.config.layer_norm_eps, trace=trace)

    def forward(self, ids, *, token_type_ids=None, output_attentions: bool = True,
                trace=NULL_TRACE) -> ModelOutput:
        """Run the model on one sequence of token ids [n]; see :class:`ModelOutput`.

        The embedding stage is recorded under ``embeddings.``, layer i under ``layers.<i>.``
        (tutor.nn's names), GPT-2's final norm under ``final_norm.``. Raises ShapeError for
        ids outside the vocabulary or longer than the model's positions.
        """
        emb = self.embed(ids, token_type_ids, trace=trace.scope("embeddings"))  # [n, E]
        n = emb.shape[0]
        mask = causal_mask(n) if self.config.causal else None          # [n, n], True = not allowed
        layer_trace = trace
        if output_attentions and not trace.enabled:
            layer_trace = AttentionWeights()                           # the weights alone
        x = emb[None]                                                  # [1, n, E]
        hidden = [emb]
        for i in range(self.config.n_layer):
            x = encoder_layer(x, self._view.scope(f"layers.{i}"), self.layer_config,
                              src_mask=mask, trace=layer_trace.scope(f"layers.{i}"))  # [1, n, E]
            hidden.append(x[0])
        if self.config.model_type == "gpt2":
            final = layer_norm(x[0], self.params["final_norm.weight"], self.params["final_norm.bias"],
                               self.config.layer_norm_eps, trace=trace.scope("final_norm"))  # [n, E]
            hidden[-1] = final
        attentions = None
        if output_attentions:
            kept = [layer_trace[f"layers.{i}.self_attn.weights"] for i in range(self.config.n_layer)]
            attentions = np.stack([w[0] for w in kept])                # [n_layer, n_head, n, n]
        return ModelOutput(hidden, attentions)

    def lm_logits(self, hidden):
        """GPT-2's language-model head, tied to the word embeddings (``lm_head.weight`` is
        ``wte``): logits = h · wteᵀ, [..., E] -> [..., V]. Source: Radford et al. 2019;
        ``transformers`` ``GPT2LMHeadModel`` (tie_word_embeddings). TutorError for BERT."""
        if self.config.model_type != "gpt2":
            raise TutorError(f"{self.name} is a {self.config.model_type} encoder; only a GPT-2 "
                             "style model predicts the next token")
        return linear(hidden, self.params["embed.word"])               # [..., E] -> [..., V]

    def next_token_logits(self, ids):
        """Logits of the token after each position, recomputing everything: ids [n] ->
        [n, V] (``lm_logits`` of the final hidden states). The reference a cached stepper
        must match."""
        return self.lm_logits(self.forward(ids, output_attentions=False).last_hidden_state)

    def run(self, text: str, *, output_attentions: bool = True, trace=NULL_TRACE):
        """Tokenize ``text`` and run the model: returns (Encoding, ModelOutput)."""
        found = self.encode(text)
        return found, self.forward(np.asarray(found.ids), output_attentions=output_attentions,
                                   trace=trace)

    # -- one head, for a walkthrough --------------------------------------------------------
    def _check_layer_head(self, layer: int, head: int | None = None):
        if type(layer) is not int or not 0 <= layer < self.config.n_layer:
            raise TutorError(f"layer must be 0 to {self.config.n_layer - 1} (numbered from 0 "
                             f"here), got {layer!r}")
        if head is not None and (type(head) is not int or not 0 <= head < self.config.n_head):
            raise TutorError(f"head must be 0 to {self.config.n_head - 1} (numbered from 0 "
                             f"here), got {head!r}")

    def head_weights(self, layer: int, head: int) -> HeadWeights:
        """Head ``head`` of layer ``layer``: its slices of Wq, Wk, Wv [d_model, d_head] and of
        their biases [d_head], so that Q = X Wq + bq (X = hidden_states[layer]), as
        multi_head_attention computes it (rows head*d_head ... of each projection).
        Raises TutorError for a layer or head out of range."""
        self._check_layer_head(layer, head)
        d, dh = self.config.d_model, self.config.d_head
        w_in = self.params[f"layers.{layer}.self_attn.in_proj_weight"]  # [3E, E], rows q, k, v
        b_in = self.params[f"layers.{layer}.self_attn.in_proj_bias"]    # [3E]
        parts = []
        for block in range(3):                                         # query, key, value
            rows = slice(block * d + head * dh, block * d + (head + 1) * dh)
            parts += [w_in[rows].T, b_in[rows]]                        # [E, d_head], [d_head]
        return HeadWeights(*parts)

    def layer_params(self, layer: int) -> ParamView:
        """Layer ``layer``'s parameters under tutor.nn's names (``self_attn.in_proj_weight``...)."""
        self._check_layer_head(layer)
        return self._view.scope(f"layers.{layer}")


# -- reading a folder ------------------------------------------------------------------------

def _weights_file(folder: Path) -> Path:
    st = folder / "model.safetensors"
    if st.is_file():
        return st
    if (folder / "model.safetensors.index.json").is_file():
        raise TutorError(f"{folder}: the weights are split into several .safetensors files "
                         "(model.safetensors.index.json); tutor reads one model.safetensors")
    for pickled in ("pytorch_model.bin", "model.pt", "model.pth"):
        if (folder / pickled).is_file():
            raise pickle_refusal(folder / pickled)
    raise TutorError(f"{folder}: no model.safetensors in the folder")


def load_pretrained(folder, *, dtype=np.float32, name: str | None = None,
                    tokenizer: bool = True) -> PretrainedModel:
    """Read a Hugging Face model folder: ``config.json``, ``model.safetensors`` and the
    tokenizer (``tokenizer.json``, ``vocab.txt``, or ``vocab.json`` + ``merges.txt``).

    Order of checks, all before any tensor is read: config values; the safetensors header
    against the file's size; every expected tensor present with the shape the config implies,
    in a float dtype; no tensor of the base model left unexplained. Then only the needed
    tensors are read, and converted to ``dtype`` (float32 by default, float64 on request;
    an F16 file is converted because it is asked for). Never downloads, never unpickles
    (``pytorch_model.bin`` alone is refused with the export that works).
    Raises TutorError / ParameterError naming the folder or file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise TutorError(f"{folder}: not a folder")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TutorError(f"dtype must be float32 or float64, got {dtype}")
    config = read_config(folder / "config.json")
    path = _weights_file(folder)
    header = read_safetensors_header(path, max_file_bytes=MAX_MODEL_FILE_BYTES)
    sources = parameter_sources(config)
    plan = plan_names(config, {k: t.shape for k, t in header.tensors.items()}, sources,
                      os.fspath(path))
    for hf, found in plan.file_names.items():
        kind = header.tensors[found].dtype
        if kind not in FLOAT_DTYPES:
            raise ParameterError(f"{path}: tensor {found!r} is {kind}, expected a float dtype "
                                 f"({', '.join(FLOAT_DTYPES)})")
    arrays = load_safetensors(path, list(plan.file_names.values()), header=header)
    params: dict[str, np.ndarray] = {}
    for name_, source in sources.items():
        parts = [arrays[plan.file_names[hf]] for hf in source.names]
        if source.transpose:                                           # Conv1D [in, out] -> [out, in]
            parts = [part.T for part in parts]
        value = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)  # BERT q,k,v: 3 x [E, E] -> [3E, E]
        if name_.startswith("layers.") and value.ndim == 2:            # a layer's [out, in] weight:
            # kept column-major, so its transpose [in, out] is row-major and linear's x W^T is
            # the plain product, which OpenBLAS runs ~5% faster (same numbers, same shape)
            value = np.array(value, dtype=dtype, order="F")            # [out, in], a copy
        else:
            value = np.ascontiguousarray(value, dtype=dtype)          # the shape the config implies
        if not np.all(np.isfinite(value)):
            raise ParameterError(f"{path}: {', '.join(source.names)} holds NaN or infinite values")
        params[name_] = value
    tok = Tokenizer(folder) if tokenizer else None
    if tok is not None and tok.vocab_size > config.vocab_size:
        raise TutorError(f"{folder}: the tokenizer has {tok.vocab_size:,} tokens but the model's "
                         f"vocab_size is {config.vocab_size:,}")
    return PretrainedModel(config, params, tok, path=folder, name=name,
                           unused_tensors=plan.unused)
