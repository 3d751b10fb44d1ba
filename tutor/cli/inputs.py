"""Kept for code written before the split: the command-line inputs now live by concept in
:mod:`.usage` (usage errors, limits checks, input/output file bookkeeping),
:mod:`.matrix_specs` (SPEC matrices, ``WORD=v1,...``) and :mod:`.values` (sentences,
vectors, numbers, random streams). Import from those."""

from __future__ import annotations

from .matrix_specs import (FILE_SUFFIXES, MATRIX, SPEC_FORMS, WORD_VECTOR, MatrixSpec,  # noqa: F401
                           MatrixSpecType, SpecError, WordVectorType, parse_inline, parse_spec,
                           read_matrix_file)
from .usage import (check_limit, check_output, note_input, quote, shape_text,  # noqa: F401
                    usage_error)
from .values import (check_finite, parse_numbers, parse_sentence, parse_vector,  # noqa: F401
                     read_vectors, rng_for)
