"""A pretrained model from a Hugging Face folder (BERT / MiniLM, GPT-2, ...), run by
tutor.nn's own layers.

What differs between families (the embedding stage, the name mapping, the final norm, the
output head, the layer function, the weight file) is each family's record
(:mod:`tutor.pretrained.families`); this module runs any of them. Every layer of BERT and
GPT-2 is :func:`tutor.nn.layers.encoder_layer` on PyTorch's parameter names, post-norm for
BERT and pre-norm with a causal mask for GPT-2, so the trace records what it records for
tutor's own stack: under ``layers.<i>.`` the layer's ``input`` (the hidden states entering
it), ``self_attn.q``/``k``/``v`` [1, n_head, n, d_head], ``self_attn.scores``/``scaled``/
``weights`` [1, n_head, n, n], ``add1``, ``norm1.*``, ``ff.*``, ``add2``, ``norm2.*``,
``output``. Layers and heads are numbered from 0 here (the commands show them from 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ShapeError, TutorError
from ..nn.attention import HeadWeights, head_weights
from ..nn.functional import linear
from ..nn.masks import causal_mask
from ..nn.params import ParamView, TransformerConfig
from ..trace import NULL_TRACE, AttentionWeights
from .config import PretrainedConfig, read_config
from .families import family_named
from .families.base import weights_file  # noqa: F401  (re-exported: where the weights are)
from .tokenizer import Encoding, Tokenizer


# -- results ---------------------------------------------------------------------------------

def check_finite(model, x, where: str):
    """``x`` when every number in it is finite, else TutorError naming the model and
    ``where`` ("the embeddings", "layer 2 of 6 (layers.1)", "the logits"): the first place
    activations become NaN or infinite (weights too large for the dtype overflow there),
    which every later number would inherit."""
    if not np.isfinite(x).all():
        raise TutorError(f"{model.name}: the activations become NaN or infinite in {where}, "
                         f"computed in {np.dtype(model.dtype).name}: the model's weights are too "
                         f"large to compute with")
    return x


def layer_name(i: int, n: int) -> str:
    """'layer 2 of 6 (layers.1)': a layer as the screens count it and by its parameters."""
    return f"layer {i + 1} of {n} (layers.{i})"


@dataclass(frozen=True)
class ModelOutput:
    """What a forward pass gives, as ``transformers`` lays it out with
    ``output_hidden_states=True, output_attentions=True`` (batch dimension dropped).

    ``hidden_states``: n_layer + 1 arrays [n, E] ([B, n, E] for a batch): the embedding
    stage's output, then each layer's output. hidden_states[i] is therefore what enters layer i. For GPT-2 (as in
    ``GPT2Model``) the last entry has the final norm ``ln_f`` applied.
    ``attentions``: [n_layer, n_head, n, n] (``[layer][head][query][key]``; a batch:
    [n_layer, B, n_head, n, n]), or None when not asked for. ``last_hidden_state`` is ``hidden_states[-1]``.
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
        self.family = family_named(config.family)                      # what differs per family
        self.params = params
        self.tokenizer = tokenizer
        self.path = None if path is None else Path(path)
        self.name = name or (self.path.name if self.path else config.family)
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
        return (f"PretrainedModel({self.name!r}, model_type={c.family!r}, n_layer={c.n_layer}, "
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
    def check_ids(self, ids, name: str, limit: int):
        """``ids`` as an integer array [n] or [B, n] within the model's positions and in
        [0, limit). ShapeError naming ``name`` otherwise."""
        ids = np.asarray(ids)
        if ids.ndim not in (1, 2) or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise ShapeError(f"{name} must be a non-empty [n] or [batch, n] array of integers, "
                             f"got shape {ids.shape} of {ids.dtype}")
        if ids.shape[-1] > self.config.max_positions:
            raise ShapeError(f"{name} has {ids.shape[-1]} positions; the model has "
                             f"{self.config.max_positions}")
        if ids.min() < 0 or ids.max() >= limit:
            raise ShapeError(f"{name} must lie in [0, {limit}), got values from {ids.min()} "
                             f"to {ids.max()}")
        return ids

    def padding(self, ids, attention_mask=None, position_ids=None):
        """Check a batch's ``attention_mask`` and find the position ids it implies.

        ``ids`` [(B,) n]; ``attention_mask`` [(B,) n] of 1 (a token) and 0 (padding), as
        ``transformers`` takes it (bool accepted), or None (no padding); ``position_ids``
        [(B,) n] or None. Returns (key padding mask [(B,) n], True at padding, or None;
        position ids [(B,) n] int64).

        Default position ids: GPT-2 (a family with ``pad_positions_from_tokens``) with a mask counts only the tokens, cumsum(mask) - 1 with
        0 at padding, the ids ``transformers``' ``generate`` passes (``GPT2Model.forward``
        alone counts every position from 0, pads included, so a left-padded row would not
        equal the row alone); BERT counts every position from 0 as ``BertModel`` does (its
        tokenizer pads on the right, so each row equals the row alone). Raises ShapeError for
        a mask of another shape, values other than 0/1, or a row without a token.
        """
        n = ids.shape[-1]
        pad = None
        if attention_mask is not None:
            mask = np.asarray(attention_mask)
            if mask.shape != ids.shape:
                raise ShapeError(f"attention_mask must have the shape of the ids {ids.shape}, "
                                 f"got {mask.shape}")
            if mask.dtype != np.bool_ and not (np.issubdtype(mask.dtype, np.integer)
                                               and np.isin(mask, (0, 1)).all()):
                raise ShapeError("attention_mask must hold 1 (a token) and 0 (padding), got "
                                 f"{mask.dtype} values")
            if not mask.any(axis=-1).all():
                raise ShapeError("attention_mask has a row without a single token (all 0)")
            pad = mask == 0                                            # [(B,) n], True = padding
        if position_ids is None:
            if pad is not None and self.family.pad_positions_from_tokens:
                counted = np.cumsum(~pad, axis=-1) - 1                 # [(B,) n]
                return pad, np.where(pad, 0, counted).astype(np.int64)
            return pad, np.broadcast_to(np.arange(n, dtype=np.int64), ids.shape)
        position_ids = self.check_ids(position_ids, "position_ids", self.config.max_positions)
        if position_ids.shape != ids.shape:
            raise ShapeError(f"position_ids has shape {position_ids.shape}, ids {ids.shape}")
        return pad, position_ids

    def embed(self, ids, token_type_ids=None, *, position_ids=None, trace=NULL_TRACE):
        """The embedding stage: token ids [(B,) n] -> [(B,) n, d_model] (what enters layer
        0); ``position_ids`` [(B,) n] (default 0 .. n-1)."""
        ids = self.check_ids(ids, "ids", self.config.vocab_size)
        if position_ids is not None:
            position_ids = self.padding(ids, None, position_ids)[1]
        return self.family.embed(self, ids, token_type_ids=token_type_ids,
                                 position_ids=position_ids, trace=trace)

    def params_view(self, scope: str = "") -> ParamView:
        """The parameters under ``scope`` ("embed", "layers.0", ...) by their short names."""
        return self._view.scope(scope) if scope else self._view

    def final(self, x, *, trace=NULL_TRACE):
        """The family's final norm on the last layer's output [..., E] (GPT-2's ``ln_f``), or
        ``x`` itself for a family without one."""
        return x if self.family.final_norm is None else self.family.final_norm(self, x, trace)

    @property
    def can_write(self) -> bool:
        """Whether the model predicts the next token (a decoder-only family with a head)."""
        return self.family.writes and self.config.causal

    def forward(self, ids, *, token_type_ids=None, attention_mask=None, position_ids=None,
                output_attentions: bool = True, trace=NULL_TRACE) -> ModelOutput:
        """Run the model on token ids [n], or on a batch [B, n]; see :class:`ModelOutput`.

        ``attention_mask`` [(B,) n] (1 = token, 0 = padding, as ``transformers`` takes it)
        hides the padded keys from every query (a key padding mask), and sets the position
        ids as :meth:`padding` says, so each row of a padded batch gives (to rounding) the
        numbers of that row alone at its token positions. A padded query position whose
        keys are all hidden (GPT-2, left padding) gets attention weights of zero: its
        numbers mean nothing. The embedding stage is recorded under ``embeddings.``, layer i
        under ``layers.<i>.`` (tutor.nn's names), GPT-2's final norm under ``final_norm.``.
        Raises ShapeError for ids outside the vocabulary or longer than the model's
        positions, or a bad mask; TutorError naming the model and the first stage (the
        embeddings, a layer, the final norm) whose numbers are NaN or infinite.
        """
        ids = self.check_ids(ids, "ids", self.config.vocab_size)
        batched = ids.ndim == 2
        pad, positions = self.padding(ids, attention_mask, position_ids)
        if not batched:
            ids, positions = ids[None], positions[None]                # [n] -> [1, n]
            pad = None if pad is None else pad[None]
            if token_type_ids is not None:
                token_type_ids = np.asarray(token_type_ids)[None]      # [n] -> [1, n]
        emb = self.embed(ids, token_type_ids, position_ids=positions,
                         trace=trace.scope("embeddings"))              # [B, n, E]
        n = emb.shape[1]
        mask = causal_mask(n) if self.config.causal else None          # [n, n], True = not allowed
        layer_trace = trace
        if output_attentions and not trace.enabled:
            layer_trace = AttentionWeights()                           # the weights alone
        x = check_finite(self, emb, "the embeddings")                   # [B, n, E]
        hidden = [emb]
        for i in range(self.config.n_layer):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                x = self.family.layer(x, self._view.scope(f"layers.{i}"), self.layer_config,
                                      src_mask=mask, src_key_padding_mask=pad,
                                      trace=layer_trace.scope(f"layers.{i}"))  # [B, n, E]
            hidden.append(check_finite(self, x, layer_name(i, self.config.n_layer)))
        if self.family.final_norm is not None:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                hidden[-1] = self.final(x, trace=trace.scope("final_norm"))  # [B, n, E]
            check_finite(self, hidden[-1], "the final norm")
        attentions = None
        if output_attentions:
            kept = [layer_trace[f"layers.{i}.self_attn.weights"] for i in range(self.config.n_layer)]
            attentions = np.stack(kept)                                # [n_layer, B, n_head, n, n]
        if not batched:
            hidden = [h[0] for h in hidden]                            # [n, E] each
            attentions = None if attentions is None else attentions[:, 0]  # [n_layer, n_head, n, n]
        return ModelOutput(hidden, attentions)

    def lm_logits(self, hidden):
        """GPT-2's language-model head: logits = h · Wᵀ, [..., E] -> [..., V], where W
        [V, E] is the word embeddings ``wte`` when the head is tied (config.json's
        ``tie_word_embeddings``, default true) and the folder's own ``lm_head.weight`` when
        it says false. Source: Radford et al. 2019; ``transformers`` ``GPT2LMHeadModel``.
        TutorError for a model without a language-model head (BERT)."""
        if not self.family.writes:
            raise TutorError(f"{self.name} is a {self.family.name} {self.family.kind}; only a "
                             "GPT-2 style model predicts the next token")
        with np.errstate(over="ignore", invalid="ignore"):
            logits = linear(hidden, self.output_embeddings)            # [..., E] -> [..., V]
        return check_finite(self, logits, "the logits")

    @property
    def output_embeddings(self):
        """The language-model head's weight [V, E]: ``lm_head.weight`` when untied, else the
        word embeddings (GPT-2's tied head)."""
        return self.params.get("lm_head.weight", self.params["embed.word"])

    def next_token_logits(self, ids, *, attention_mask=None):
        """Logits of the token after each position, recomputing everything: ids [(B,) n] ->
        [(B,) n, V] (``lm_logits`` of the final hidden states; ``attention_mask`` as in
        :meth:`forward`). The reference a cached stepper must match."""
        out = self.forward(ids, attention_mask=attention_mask, output_attentions=False)
        return self.lm_logits(out.last_hidden_state)

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
        return head_weights(self.params[f"layers.{layer}.self_attn.in_proj_weight"],
                            self.params[f"layers.{layer}.self_attn.in_proj_bias"], head,
                            self.config.n_head)                        # [E, d_head], [d_head]

    def layer_params(self, layer: int) -> ParamView:
        """Layer ``layer``'s parameters under tutor.nn's names (``self_attn.in_proj_weight``...)."""
        self._check_layer_head(layer)
        return self._view.scope(f"layers.{layer}")


# -- reading a folder ------------------------------------------------------------------------

def load_pretrained(folder, *, dtype=np.float32, name: str | None = None,
                    tokenizer: bool = True) -> PretrainedModel:
    """Read a Hugging Face model folder: ``config.json``, ``model.safetensors`` and the
    tokenizer (``tokenizer.json``, ``vocab.txt``, or ``vocab.json`` + ``merges.txt``).

    The family config.json declares reads its weights (:meth:`Family.read_weights`; by
    default one ``model.safetensors``). Order of checks, all before any tensor is read: config values; the safetensors header
    against the file's size; every expected tensor present with the shape the config implies,
    in a float dtype; no tensor of the base model left unexplained. Then only the needed
    tensors are read, and converted to ``dtype`` (float32 by default, float64 on request;
    an F16 file is converted because it is asked for). Never downloads, never unpickles
    (``pytorch_model.bin`` alone is refused with the export that works).
    Raises TutorError / ParameterError naming the folder or file.
    """
    folder = Path(folder)
    if folder.is_file():                       # one model file (GGUF): its family reads it
        from .families import family_of_file

        family = family_of_file(folder)
        if family is None:
            raise TutorError(f"{folder}: not a model file tutor reads (a .gguf file)")
        return family.read_file(folder, name=name, tokenizer=tokenizer)
    if not folder.is_dir():
        raise TutorError(f"{folder}: not a folder")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TutorError(f"dtype must be float32 or float64, got {dtype}")
    config = read_config(folder / "config.json")
    params, unused = family_named(config.family).read_weights(folder, config, dtype)
    tok = Tokenizer(folder) if tokenizer else None
    if tok is not None and tok.vocab_size > config.vocab_size:
        raise TutorError(f"{folder}: the tokenizer has {tok.vocab_size:,} tokens but the model's "
                         f"vocab_size is {config.vocab_size:,}")
    if tok is not None and tok.max_id >= config.vocab_size:           # gaps or repeated lines
        raise TutorError(f"{tok.source}: token ids go up to {tok.max_id:,}, but the model's "
                         f"vocab_size is {config.vocab_size:,} (ids 0 to "
                         f"{config.vocab_size - 1:,})")
    return PretrainedModel(config, params, tok, path=folder, name=name,
                           unused_tensors=unused)
