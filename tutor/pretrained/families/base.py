"""What a model family is: one record (:class:`Family`) that says everything tutor needs to
read and run one kind of Hugging Face model, and the default weight loader (one
``model.safetensors``) a family uses unless it brings its own.

A family module (``bert.py``, ``gpt2.py``, ...) builds one :class:`Family`; the registry
(:mod:`tutor.pretrained.families`) maps config.json's ``model_type`` to it. Nothing outside
this folder asks which family a model is: it asks the record (``model.family.causal``,
``model.family.writes``, ``model.family.embed(...)``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ...errors import ParameterError, TutorError
from ...files import not_regular
from ...limits import MAX_MODEL_FILE_BYTES
from ...nn.functional import layer_norm
from ...nn.layers import encoder_layer
from ...weightfiles import load_safetensors, pickle_refusal, read_safetensors_header

FLOAT_DTYPES = ("F16", "F32", "F64")


@dataclass(frozen=True)
class Family:
    """One model family (an architecture as config.json's ``model_type`` names it).

    Reading it:

    * ``parse_config(raw: dict, path: str) -> PretrainedConfig``: check config.json's values
      (TutorError naming the file and the key) and map them to tutor's vocabulary.
    * ``parameter_sources(config) -> {tutor name: mapping.Source}``: which file tensors make
      each parameter under tutor.nn's names (``embed.*``, ``layers.<i>.self_attn.*``,
      ``final_norm.*``, ``lm_head.weight``), with the shapes the config implies.
    * ``prefix``: what a checkpoint with a task head puts before the base model's names
      ("bert.", "transformer."); ``roots``: the base model's own names begin with these;
      ``ignored``: names (after the prefix) known and not used (buffers, task heads);
      ``own_head``: a tensor read under its full name, outside the prefix (an untied
      language-model head), or None.
    * ``load_weights(family, folder, config, dtype) -> (params, unused file tensors)``:
      :func:`safetensors_weights` by default; a family whose weights come in another file
      (a GGUF file) gives its own.

    Running it:

    * ``embed(model, ids [B, n], *, token_type_ids, position_ids [B, n], start, trace) ->
      [B, n, d_model]``: the embedding stage (what enters layer 0).
    * ``layer``: the layer function, called as :func:`tutor.nn.layers.encoder_layer` is
      (``layer(x, params, layer_config, src_mask=, src_key_padding_mask=, cache=, trace=)``).
    * ``final_norm(model, x, trace) -> x``: applied to the last layer's output, or None.
    * ``causal``: a causal mask in every layer; ``writes``: the model has a language-model
      head (:meth:`PretrainedModel.lm_logits`; tied to the word embeddings unless config.json
      says ``"tie_word_embeddings": false``); ``pad_positions_from_tokens``: with padding,
      position ids count the tokens only (as ``generate`` passes them), else every position.

    Showing it: ``description`` (one line for a screen), ``embedding_stage`` (what the
    embedding stage adds, "word + position"), ``kind`` ("encoder", "decoder-only").
    Tokenizing: ``tokenizer_classes`` (transformers' class names of this family),
    ``tokenizer_defaults`` (the special tokens that class brings), ``tokenizer_files`` (the
    older vocabulary layout that implies this family).
    One file instead of a folder (a GGUF file): ``file_suffixes`` (".gguf") and
    ``read_file(path, *, name, tokenizer) -> PretrainedModel``. ``chat_prompt(tokenizer,
    prompt) -> text``: the prompt wrapped in the model's chat template (TutorError naming a
    template it does not write), or None when the family has no chat template.
    ``rope_heads``: each layer's parameters hold ``self_attn.wqkv`` [E, (H + 2 H_kv) d_head]
    (no biases) and ``self_attn.rope_theta``: queries and keys are rotated by RoPE (Hugging
    Face's halves order) and each key/value head serves a group of query heads; a head's
    walkthrough shows the rotation and the sharing.
    ``step_macs(config, n_new, n_total, batch) -> int``: the multiply-adds of one decoding
    step, when the family's layer is not :func:`tutor.nn.layers.encoder_layer` (whose count
    is :func:`tutor.nn.decoding.decoder_step_macs`).
    The block screen (``tutor explore --model``, ``b``): ``layer_roles`` maps its roles
    ("input", "attn_out", "add1", "norm1", "ff.activated", ...) to what the family's
    ``layer`` records (None: :func:`tutor.nn.layers.encoder_layer`'s names); ``norm_name``
    ("RMSNorm") and ``activation_name`` ("swiglu"; None: the config's activation) say what
    it shows.
    """

    name: str                                   # config.json's model_type
    description: str
    kind: str
    embedding_stage: str
    parse_config: Callable
    parameter_sources: Callable
    prefix: str
    roots: tuple[str, ...]
    ignored: re.Pattern
    embed: Callable
    causal: bool
    writes: bool
    own_head: str | None = None
    final_norm: Callable | None = None
    layer: Callable = encoder_layer
    load_weights: Callable | None = None
    pad_positions_from_tokens: bool = False
    tokenizer_classes: tuple[str, ...] = ()
    tokenizer_defaults: dict = field(default_factory=dict)
    tokenizer_files: tuple[str, ...] = ()
    file_suffixes: tuple[str, ...] = ()
    read_file: Callable | None = None
    chat_prompt: Callable | None = None
    rope_heads: bool = False
    step_macs: Callable | None = None
    layer_roles: dict | None = None
    norm_name: str = "layer norm"
    activation_name: str | None = None

    def read_weights(self, folder: Path, config, dtype):
        """The parameters under tutor.nn's names and the file's unused tensor names."""
        loader = self.load_weights or safetensors_weights
        return loader(self, folder, config, dtype)


def layer_norm_final(model, x, trace):
    """A final layer norm on ``final_norm.weight``/``.bias`` [d_model]: [..., E] -> [..., E]."""
    return layer_norm(x, model.params["final_norm.weight"], model.params["final_norm.bias"],
                      model.config.layer_norm_eps, trace=trace)


# -- the default weight file: one model.safetensors --------------------------------------------

def weights_file(folder: Path) -> Path:
    """The folder's one ``model.safetensors``. TutorError naming the folder when the weights
    are split in several files, only pickled (refused with the export that works), or absent."""
    st = folder / "model.safetensors"
    if st.is_file():
        return st
    if (folder / "model.safetensors.index.json").is_file():
        raise TutorError(f"{folder}: the weights are split into several .safetensors files "
                         "(model.safetensors.index.json); tutor reads one model.safetensors")
    for pickled in ("pytorch_model.bin", "model.pt", "model.pth"):
        if (folder / pickled).is_file():
            raise pickle_refusal(folder / pickled)
    odd = not_regular(st)                                              # a FIFO, a device, a loop
    if odd is not None:
        raise TutorError(f"{st}: {odd}, expected model.safetensors (a regular file)")
    raise TutorError(f"{folder}: no model.safetensors in the folder")


def safetensors_weights(family: Family, folder: Path, config, dtype):
    """Read ``folder/model.safetensors`` for ``family``: the header checked against the
    file's size, every expected tensor present with the shape the config implies in a float
    dtype, no tensor of the base model unexplained (:func:`..mapping.plan_names`), all before
    a tensor is read; then only the needed tensors, converted to ``dtype``.
    Returns (params {tutor name: array}, unused file tensor names). Raises TutorError /
    ParameterError naming the file."""
    from ..mapping import plan_names

    path = weights_file(folder)
    header = read_safetensors_header(path, max_file_bytes=MAX_MODEL_FILE_BYTES)
    sources = family.parameter_sources(config)
    plan = plan_names(family, config, {k: t.shape for k, t in header.tensors.items()},
                      sources, os.fspath(path))
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
    return params, plan.unused
