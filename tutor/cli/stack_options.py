"""Model options and loading for ``tutor encode`` and ``tutor transformer``: a random model
from --seed or a real one from --weights, the dtype it runs in, and writing its results."""

from __future__ import annotations

import os
import re

import click

from tutor.errors import TutorError
from tutor.limits import (MAX_DIM, MAX_FF, MAX_HEADS, MAX_LAYERS, MAX_MODEL_DIM,
                          MAX_WEIGHTS_BYTES)

from .output import output_path_check

def stack_options(command):
    """--weights, --heads, --layers, --dim, --ff, --norm-first, --activation, --eps,
    --save-weights, --output, --detail: shared by `tutor encode` and `tutor transformer`."""
    decorators = [
        click.option("--weights", type=str, default=None, metavar="FILE",
                     help="A real model: an .npz or .safetensors file of PyTorch state-dict "
                          "names (nn.Transformer; for encode also nn.TransformerEncoder); "
                          "widths and layer counts are read from the shapes."),
        click.option("--heads", type=int, default=None, metavar="H",
                     help="Attention heads, must divide d_model. [default: 2; required with "
                          "--weights, whose file does not say]"),
        click.option("--layers", type=int, default=None, metavar="N",
                     help=f"Layers per stack, 1-{MAX_LAYERS}. [default: 1; random model only]"),
        click.option("--dim", type=int, default=None, metavar="D",
                     help="d_model. [default: 4; random model only]"),
        click.option("--ff", type=int, default=None, metavar="F",
                     help=f"Feed-forward width, 1-{MAX_FF}. [default: 2×d_model; random model only]"),
        click.option("--norm-first", is_flag=True, help="Pre-norm: x + sublayer(norm(x))."),
        click.option("--activation", type=click.Choice(["relu", "gelu", "gelu_tanh"]), default="relu",
                     show_default=True, help="Feed-forward activation (gelu_tanh: GELU with "
                                             "approximate='tanh')."),
        click.option("--eps", type=float, default=1e-5, show_default=True, metavar="E",
                     help="Layer-norm epsilon (> 0)."),
        click.option("--save-weights", type=str, default=None,
                     callback=output_path_check("npz"), metavar="FILE.npz",
                     help="Save the model as .npz."),
        click.option("--output", "output_path", type=str, default=None,
                     callback=output_path_check("npy"), metavar="FILE.npy",
                     help="Write the final output array as .npy."),
        click.option("--detail", type=click.Choice(["summary", "full"]), default="summary",
                     show_default=True, help="summary: attention and each layer's output; "
                                             "full: every add & norm and feed-forward too."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def build_model(weights, heads, layers, dim, ff, norm_first, activation, eps, seed, *,
                encoder_only: bool = False):
    """The Transformer to run: loaded from --weights, or random from --seed. Limits are checked
    before anything is allocated; a file of the wrong shape names the parameter (exit 1).
    With ``encoder_only`` (``tutor encode``) an ``nn.TransformerEncoder`` state dict loads as a
    :class:`~tutor.nn.stacks.TransformerEncoder`; any other kind of state dict that cannot run
    here is a usage error naming --weights."""
    from tutor.errors import TutorError
    from tutor.nn.model import Transformer
    from tutor.nn.params import state_dict_kind
    from tutor.nn.stacks import TransformerEncoder
    from tutor.weightfiles import load_weights

    from .usage import check_limit, note_input, quote, unusable_file, usage_error
    from .values import check_finite

    if heads is None and weights is None:
        heads = 2
    if heads is not None:
        check_limit("--heads", heads, MAX_HEADS, "a number of heads")
    check_finite("--eps", eps, positive=True)
    if weights is not None:
        for option, value in (("--layers", layers), ("--dim", dim), ("--ff", ff)):
            if value is not None:
                raise usage_error(option, "expected no size with --weights (they are read from "
                                          f"the file), got {option} {value}")
        if not os.path.isfile(weights):
            raise usage_error("--weights", f"expected an existing .npz or .safetensors file, got {quote(weights, 60)}")
        if heads is None:                                              # as nn.Transformer's nhead
            raise usage_error("--heads", "expected the number of heads the --weights model "
                                         "was made with (a state dict does not record it), "
                                         "got none")
        note_input(weights)
        try:
            state = load_weights(weights, max_bytes=MAX_WEIGHTS_BYTES)
        except TutorError as exc:               # an unreadable input file: a usage error
            raise unusable_file("--weights", weights, exc) from None
        kind = state_dict_kind(state)
        if kind == "decoder" or (kind == "encoder" and not encoder_only):
            needs = ("tutor encode" if kind == "encoder" else "the Python API "
                     "(tutor.TransformerDecoder)")
            raise usage_error("--weights", f"expected an nn.Transformer state dict, got one of "
                                           f"an nn.Transformer{kind.capitalize()} alone in "
                                           f"{quote(weights, 60)} (use {needs})")
        key = ("layers.0.self_attn.in_proj_weight" if kind == "encoder"
               else "encoder.layers.0.self_attn.in_proj_weight")
        if key in state and state[key].ndim == 2:
            d_model = state[key].shape[1]
            if d_model > MAX_MODEL_DIM:
                raise usage_error("--weights", f"expected d_model at most {MAX_MODEL_DIM}, got "
                                               f"{d_model} in {weights}")
            if d_model % heads:
                raise usage_error("--heads", f"expected a number that divides d_model {d_model} "
                                             f"(from --weights), got {heads}")
        stacks = {"encoder": r"(?:encoder\.)?layers\.(\d+)\.", "decoder": r"decoder\.layers\.(\d+)\."}
        for stack, pattern in stacks.items():
            found = {int(m.group(1)) for m in map(re.compile(pattern).match, state) if m}
            if kind == "encoder" and stack == "decoder":
                continue
            if found and max(found) + 1 > MAX_LAYERS:
                raise usage_error("--weights", f"expected at most {MAX_LAYERS} {stack} layers, "
                                               f"got {max(found) + 1} in {quote(weights, 60)}")
        try:
            cls = TransformerEncoder if kind == "encoder" else Transformer
            return cls.from_state_dict(state, heads, norm_first=norm_first,
                                               activation=activation, layer_norm_eps=eps)
        except TutorError as exc:               # parameters that do not fit: a usage error
            raise unusable_file("--weights", weights, exc) from None
    layers = 1 if layers is None else layers
    dim = 4 if dim is None else dim
    check_limit("--layers", layers, MAX_LAYERS, "a number of layers")
    check_limit("--dim", dim, MAX_DIM, "a width")
    ff = 2 * dim if ff is None else ff
    check_limit("--ff", ff, MAX_FF, "a width")
    if dim % heads:
        raise usage_error("--heads", f"expected a number that divides --dim {dim}, got {heads}")
    return Transformer.random(dim, heads, layers, layers, ff, seed=seed, norm_first=norm_first,
                              activation=activation, layer_norm_eps=eps)


def width_from_vectors(weights, dim, option: str, path):
    """--dim for a random model that is given only vectors: their width, so that it need not
    be repeated. With --weights or --dim the vectors are checked against those instead."""
    from .usage import usage_error
    from .values import read_vectors

    if weights is not None or dim is not None or path is None:
        return dim
    width = read_vectors(option, path).shape[-1]
    if width > MAX_DIM:
        raise usage_error(option, f"expected at most {MAX_DIM} columns for a random model "
                                  f"(give --weights for a wider one), got {width}")
    return width


def match_dtype(model, weights, option: str, vectors):
    """The model in the dtype of the user's vectors: a random model is built in float64 and
    follows them; a model from --weights keeps its dtype, and vectors of another dtype are a
    usage error (as in PyTorch, nothing is converted silently)."""
    from .usage import usage_error

    if vectors.dtype == model.dtype:
        return model
    if weights is None:
        return model.astype(vectors.dtype)
    raise usage_error(option, f"expected {model.dtype} numbers like --weights, got "
                              f"{vectors.dtype}; save both in one dtype")


def save_results(model, save_weights, output_path, result) -> None:
    """--save-weights and --output: write the model and the final array."""
    import numpy as np

    from tutor.files import atomic_write

    from .output import write_files

    write_files([("--save-weights", save_weights, model.save),
                 ("--output", output_path,
                  lambda path: atomic_write(path, lambda f: np.save(f, result)))])
