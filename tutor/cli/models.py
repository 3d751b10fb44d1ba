"""`tutor models`: the models tutor can find without a download, and where it looked."""

from __future__ import annotations

import importlib.util

from .common import tutor_command
from .output import output_options, pass_output, show_document

EPILOG = """\b
Where --model NAME looks, in order: the toy models shipped with tutor, a
folder path, the local Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub,
else ~/.cache/huggingface/hub: models--ORG--NAME/snapshots/...), and
installed Python packages that ship a model folder. A .npz file written by
tutor train works where the toy models do. Nothing is downloaded.

\b
Examples:
  tutor models
  tutor models --format json
"""


@tutor_command(EPILOG)
@output_options
@pass_output
def models(output):
    """List the models tutor can use (--model), the commands that take each, and where each
    was found."""
    from tutor.pretrained import alias_status, available_models, hf_cache_dir, toy_models_dir
    from tutor.render.pretrained import models_document

    from .pretrained_options import model_commands, model_problem

    found = available_models()
    aliases = alias_status()
    missing = [name for name in ("safetensors", "tokenizers")
               if importlib.util.find_spec(name) is None]
    doc = models_document(found, aliases, hf_cache=str(hf_cache_dir()),
                          toy_folder=str(toy_models_dir()),
                          commands=[model_commands(loc) for loc in found],
                          problems=[model_problem(loc) for loc in found],
                          missing_extra=missing)
    show_document(output, doc)
