"""Hugging Face tensor names -> the names tutor.nn's layers use (each family's own table is
its ``parameter_sources``, in :mod:`tutor.pretrained.families`; the matching is here).

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

from dataclasses import dataclass

from ..errors import ParameterError
from .config import PretrainedConfig


@dataclass(frozen=True)
class Source:
    """How one tutor parameter is made: from these file tensors, concatenated on axis 0
    (after transposing each, for GPT-2's Conv1D weights)."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    transpose: bool = False


def norm_sources(prefix: str, hf: str, d: int) -> dict[str, Source]:
    """A layer norm's two parameters ``{prefix}weight``/``{prefix}bias`` [d] from the
    tensors ``{hf}.weight``/``{hf}.bias``."""
    return {f"{prefix}weight": Source((f"{hf}.weight",), ((d,),)),
            f"{prefix}bias": Source((f"{hf}.bias",), ((d,),))}


#: Old TensorFlow-converted BERT checkpoints call LayerNorm's weight and bias gamma and beta.
_LEGACY = {".weight": ".gamma", ".bias": ".beta"}


@dataclass(frozen=True)
class NamePlan:
    """Which file tensor provides each Hugging Face name, and what is left unused."""

    file_names: dict[str, str]                                         # HF name -> name in the file
    unused: tuple[str, ...]                                            # file names not used


def plan_names(family, config: PretrainedConfig, file_shapes: dict[str, tuple[int, ...]],
               sources: dict[str, Source], where: str) -> NamePlan:
    """Match the file's tensor names to the expected ones and check every shape, before any
    tensor is read. ``family`` (a :class:`~.families.base.Family`) gives the prefix, the
    base model's roots, its own head and the names known and not used.
    Raises ParameterError naming the missing, mis-shaped or unknown tensors."""
    prefix = family.prefix
    present: dict[str, str] = {}                                       # name without prefix -> file name
    heads: list[str] = []
    for name in file_shapes:
        short = name[len(prefix):] if name.startswith(prefix) else name
        if short.startswith(family.roots) or name == family.own_head:
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
    head = family.own_head
    if head is not None and any(m.startswith(f"{head} ") for m in missing):
        raise ParameterError(f"{where}: no tensor {head!r}, but config.json says "
                             "\"tie_word_embeddings\": false, so the next-token logits come from "
                             "that head, not from the word embeddings; tutor would compute "
                             "other logits (use the folder of a GPT2LMHeadModel, or a config "
                             "without that line if the head is tied)")
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise ParameterError(f"{where}: missing tensor{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(missing[:3])}{more} (model_type {family.name!r})")
    if misshaped:
        more = f" and {len(misshaped) - 3} more" if len(misshaped) > 3 else ""
        raise ParameterError(f"{where}: {'; '.join(misshaped[:3])}{more}")
    used = set(file_names.values())
    ignored = family.ignored
    unknown = [f for s, f in present.items() if f not in used and not ignored.fullmatch(s)]
    if unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise ParameterError(f"{where}: tensor{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(unknown[:3])}{more} not understood for model_type "
                             f"{family.name!r}; tutor would ignore {'them' if len(unknown) > 1 else 'it'} "
                             "and compute something else")
    unused = tuple(sorted(set(file_shapes) - used))
    return NamePlan(file_names, unused)
