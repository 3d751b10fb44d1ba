"""Hugging Face tensor names -> the names tutor.nn's layers use.

tutor.nn's encoder layer takes PyTorch's ``nn.TransformerEncoderLayer`` names: one packed
``self_attn.in_proj_weight`` [3*d_model, d_model] (rows: query, key, value) and its bias,
``self_attn.out_proj.*``, ``linear1.*``, ``linear2.*``, ``norm1.*``, ``norm2.*``. Every
weight is [out, in] (y = x W^T + b, ``nn.Linear``).

* BERT keeps separate ``query``/``key``/``value`` Linear layers: they are concatenated (rows).
* GPT-2 uses ``Conv1D`` (y = x W + b, weight [in, out]): each of its weights is transposed.
  Its ``c_attn`` already packs query, key, value (columns), so ``c_attn.weight.T`` is the
  packed in-projection.

The embedding tensors keep short names under ``embed.``, GPT-2's final norm is ``final_norm``.
Tensors of task heads (pooler, masked-LM / next-sentence heads, ``lm_head``) and buffers
(``position_ids``, GPT-2's ``attn.bias`` mask) are not used and are listed as such; any
other tensor under the model's own names is an error that names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ParameterError
from .config import PretrainedConfig

#: Prefixes a checkpoint with a task head puts before the base model's names.
BASE_PREFIX = {"bert": "bert.", "gpt2": "transformer."}

#: Names (regular expressions, after the prefix is removed) that are known and not used.
IGNORED = {
    "bert": re.compile(r"embeddings\.position_ids|pooler\..*"),
    "gpt2": re.compile(r"h\.\d+\.attn\.(bias|masked_bias)|lm_head\.weight"),
}

#: The base model's own names begin with these; anything else is a task head, not used.
BASE_ROOTS = {"bert": ("embeddings.", "encoder."), "gpt2": ("wte.", "wpe.", "h.", "ln_f.")}

#: Tensors read under their full name, outside the base model's prefix: GPT-2's own output
#: head ``lm_head.weight`` [vocab_size, d_model] (``nn.Linear``), used when config.json says
#: ``"tie_word_embeddings": false`` (with the default, true, the head is ``wte`` and a stored
#: ``lm_head.weight`` is the same tensor, listed as not used).
OWN_HEAD = {"gpt2": "lm_head.weight"}


@dataclass(frozen=True)
class Source:
    """How one tutor parameter is made: from these file tensors, concatenated on axis 0
    (after transposing each, for GPT-2's Conv1D weights)."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    transpose: bool = False


def _norm(hf: str, d: int) -> dict[str, Source]:
    return {"weight": Source((f"{hf}.weight",), ((d,),)), "bias": Source((f"{hf}.bias",), ((d,),))}


def parameter_sources(config: PretrainedConfig) -> dict[str, Source]:
    """For every tutor parameter name, the Hugging Face tensors it comes from and their
    expected shapes (without the task-head prefix)."""
    d, f = config.d_model, config.d_ff
    out: dict[str, Source] = {}

    def add(prefix: str, parts: dict[str, Source]):
        for name, source in parts.items():
            out[f"{prefix}{name}"] = source

    if config.model_type == "bert":
        out["embed.word"] = Source(("embeddings.word_embeddings.weight",), ((config.vocab_size, d),))
        out["embed.position"] = Source(("embeddings.position_embeddings.weight",),
                                       ((config.max_positions, d),))
        out["embed.token_type"] = Source(("embeddings.token_type_embeddings.weight",),
                                         ((config.type_vocab_size, d),))
        add("embed.norm.", _norm("embeddings.LayerNorm", d))
        for i in range(config.n_layer):
            hf, tu = f"encoder.layer.{i}.", f"layers.{i}."
            qkv = tuple(f"{hf}attention.self.{part}" for part in ("query", "key", "value"))
            out[f"{tu}self_attn.in_proj_weight"] = Source(
                tuple(f"{n}.weight" for n in qkv), ((d, d),) * 3)
            out[f"{tu}self_attn.in_proj_bias"] = Source(tuple(f"{n}.bias" for n in qkv), ((d,),) * 3)
            out[f"{tu}self_attn.out_proj.weight"] = Source((f"{hf}attention.output.dense.weight",), ((d, d),))
            out[f"{tu}self_attn.out_proj.bias"] = Source((f"{hf}attention.output.dense.bias",), ((d,),))
            add(f"{tu}norm1.", _norm(f"{hf}attention.output.LayerNorm", d))
            out[f"{tu}linear1.weight"] = Source((f"{hf}intermediate.dense.weight",), ((f, d),))
            out[f"{tu}linear1.bias"] = Source((f"{hf}intermediate.dense.bias",), ((f,),))
            out[f"{tu}linear2.weight"] = Source((f"{hf}output.dense.weight",), ((d, f),))
            out[f"{tu}linear2.bias"] = Source((f"{hf}output.dense.bias",), ((d,),))
            add(f"{tu}norm2.", _norm(f"{hf}output.LayerNorm", d))
        return out
    out["embed.word"] = Source(("wte.weight",), ((config.vocab_size, d),))
    out["embed.position"] = Source(("wpe.weight",), ((config.max_positions, d),))
    for i in range(config.n_layer):
        hf, tu = f"h.{i}.", f"layers.{i}."
        add(f"{tu}norm1.", _norm(f"{hf}ln_1", d))
        out[f"{tu}self_attn.in_proj_weight"] = Source((f"{hf}attn.c_attn.weight",), ((d, 3 * d),), True)
        out[f"{tu}self_attn.in_proj_bias"] = Source((f"{hf}attn.c_attn.bias",), ((3 * d,),))
        out[f"{tu}self_attn.out_proj.weight"] = Source((f"{hf}attn.c_proj.weight",), ((d, d),), True)
        out[f"{tu}self_attn.out_proj.bias"] = Source((f"{hf}attn.c_proj.bias",), ((d,),))
        add(f"{tu}norm2.", _norm(f"{hf}ln_2", d))
        out[f"{tu}linear1.weight"] = Source((f"{hf}mlp.c_fc.weight",), ((d, f),), True)
        out[f"{tu}linear1.bias"] = Source((f"{hf}mlp.c_fc.bias",), ((f,),))
        out[f"{tu}linear2.weight"] = Source((f"{hf}mlp.c_proj.weight",), ((f, d),), True)
        out[f"{tu}linear2.bias"] = Source((f"{hf}mlp.c_proj.bias",), ((d,),))
    add("final_norm.", _norm("ln_f", d))
    if not config.tie_word_embeddings:                                 # GPT2LMHeadModel, untied
        out["lm_head.weight"] = Source((OWN_HEAD["gpt2"],), ((config.vocab_size, d),))
    return out


#: Old TensorFlow-converted BERT checkpoints call LayerNorm's weight and bias gamma and beta.
_LEGACY = {".weight": ".gamma", ".bias": ".beta"}


@dataclass(frozen=True)
class NamePlan:
    """Which file tensor provides each Hugging Face name, and what is left unused."""

    file_names: dict[str, str]                                         # HF name -> name in the file
    unused: tuple[str, ...]                                            # file names not used


def plan_names(config: PretrainedConfig, file_shapes: dict[str, tuple[int, ...]],
               sources: dict[str, Source], where: str) -> NamePlan:
    """Match the file's tensor names to the expected ones and check every shape, before any
    tensor is read. Raises ParameterError naming the missing, mis-shaped or unknown tensors."""
    prefix = BASE_PREFIX[config.model_type]
    present: dict[str, str] = {}                                       # name without prefix -> file name
    heads: list[str] = []
    for name in file_shapes:
        short = name[len(prefix):] if name.startswith(prefix) else name
        if short.startswith(BASE_ROOTS[config.model_type]) or name == OWN_HEAD.get(config.model_type):
            present[short] = name
        else:
            heads.append(name)
    file_names: dict[str, str] = {}
    missing, misshaped = [], []
    for source in sources.values():
        for hf, shape in zip(source.names, source.shapes):
            found = present.get(hf)
            if found is None and "LayerNorm" in hf:
                stem, dot, last = hf.rpartition(".")
                found = present.get(stem + _LEGACY.get(dot + last, ""))
            if found is None:
                missing.append(f"{hf} {shape}")
                continue
            if tuple(file_shapes[found]) != shape:
                misshaped.append(f"{found} has shape {tuple(file_shapes[found])}, config.json "
                                 f"implies {shape}")
            file_names[hf] = found
    head = OWN_HEAD.get(config.model_type)
    if any(m.startswith(f"{head} ") for m in missing):
        raise ParameterError(f"{where}: no tensor {head!r}, but config.json says "
                             "\"tie_word_embeddings\": false, so the next-token logits come from "
                             "that head, not from the word embeddings; tutor would compute "
                             "other logits (use the folder of a GPT2LMHeadModel, or a config "
                             "without that line if the head is tied)")
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise ParameterError(f"{where}: missing tensor{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(missing[:3])}{more} (model_type {config.model_type!r})")
    if misshaped:
        more = f" and {len(misshaped) - 3} more" if len(misshaped) > 3 else ""
        raise ParameterError(f"{where}: {'; '.join(misshaped[:3])}{more}")
    used = set(file_names.values())
    ignored = IGNORED[config.model_type]
    unknown = [f for s, f in present.items() if f not in used and not ignored.fullmatch(s)]
    if unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise ParameterError(f"{where}: tensor{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(unknown[:3])}{more} not understood for model_type "
                             f"{config.model_type!r}; tutor would ignore {'them' if len(unknown) > 1 else 'it'} "
                             "and compute something else")
    unused = tuple(sorted(set(file_shapes) - used))
    return NamePlan(file_names, unused)
