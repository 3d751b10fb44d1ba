"""Kept for code written before the split: the shared options now live by concept in
:mod:`.output` (output options and display), :mod:`.common` (the settings every command
repeats: :func:`~.common.tutor_command`, :func:`~.common.calculator_options`, --seed) and
:mod:`.model_options` (model options and loading). Import from those."""

from __future__ import annotations

from .common import calculator_options, seed_option, tutor_command  # noqa: F401
from .model_options import (build_model, match_dtype, save_results, stack_options,  # noqa: F401
                            width_from_vectors)
from .output import (DEFAULT_PRECISION, FORMATS, TEXT_FORMATS, Output,  # noqa: F401
                     check_output_path, make_output, no_color_requested, output_options,
                     pass_output, pause_option, resolve_format, show_document, step_option)
