"""A byte-level BPE tokenizer's tables, read from the model's own tokenizer, for
:func:`tutor.walkthroughs.bpe.bpe` to run tutor's merge loop (:mod:`tutor.nn.bpe`) on.

What it reads from the ``tokenizers`` object a :class:`~tutor.pretrained.tokenizer.Tokenizer`
(a folder's tokenizer.json, or vocab.json + merges.txt) or a
:class:`~tutor.pretrained.gguf_tokenizer.GGUFTokenizer` (a GGUF file's ``tokenizer.ggml.*``)
holds: the vocabulary, the merges in rank order, the added tokens (``<|im_start|>``, kept
whole) and the pre-tokenizer, which the library runs (the regex split of GPT-2, digits one by
one for SmolLM2). ``tokenizers`` is reached only through the tokenizer object given.
"""

from __future__ import annotations

import json
import re
import weakref
from dataclasses import dataclass, field

from ..errors import TutorError


@dataclass
class ByteLevelBPE:
    """The tables of one byte-level BPE tokenizer. ``vocab``: token -> id; ``ranks``:
    (left, right) -> rank (0 the first merge learned); ``added``: added token -> (id,
    special), matched in the raw text before anything else; ``ignore_merges``: a piece that
    is in the vocabulary is one token (Llama 3). ``source``: the file it came from."""

    vocab: dict[str, int]
    ranks: dict[tuple[str, str], int]
    added: dict[str, tuple[int, bool]]
    ignore_merges: bool
    source: str
    _backend: object = field(repr=False, default=None)
    _added_pattern: re.Pattern | None = field(repr=False, default=None)

    def split_added(self, text: str) -> list[tuple[str, bool]]:
        """``text`` cut at the added tokens: (segment, is an added token) in order, the
        leftmost longest added token first (as the library matches them)."""
        if self._added_pattern is None:
            return [(text, False)] if text else []
        out = []
        for i, part in enumerate(self._added_pattern.split(text)):
            if part:
                out.append((part, i % 2 == 1))
        return out

    def pre_tokenize(self, text: str) -> list[tuple[str, tuple[int, int]]]:
        """The model's own pre-tokenizer on ``text`` (no added tokens in it): the pieces in
        byte-level spelling with their (start, end) character offsets in ``text``."""
        backend = self._backend
        if backend.normalizer is not None:
            text = backend.normalizer.normalize_str(text)
        return [(piece, tuple(span)) for piece, span in
                backend.pre_tokenizer.pre_tokenize_str(text)]

    def reference_ids(self, text: str) -> list[int]:
        """The library's own ids of ``text`` (no special tokens added): what tutor's merge
        loop must give."""
        return list(self._backend.encode(text, add_special_tokens=False).ids)


def _has_byte_level(pre) -> bool:
    if not isinstance(pre, dict):
        return False
    if pre.get("type") == "ByteLevel":
        return True
    return pre.get("type") == "Sequence" and any(
        _has_byte_level(p) for p in pre.get("pretokenizers", ()))


_TABLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def byte_level_bpe(tokenizer) -> ByteLevelBPE:
    """The tables of ``tokenizer`` (a tutor Tokenizer or GGUFTokenizer), read once per
    tokenizer (SmolLM2's 48,900 merges take half a second). Raises TutorError
    naming the tokenizer's file when it is not byte-level BPE: another model (BERT's
    WordPiece has no merges), a BPE without GPT-2's byte-level pre-tokenizer (SentencePiece
    style), or BPE options tutor does not show (dropout, byte fallback, word suffixes)."""
    if tokenizer in _TABLES:
        return _TABLES[tokenizer]
    backend = tokenizer._backend
    source = str(getattr(tokenizer, "source", "") or getattr(tokenizer, "folder", ""))
    data = json.loads(backend.to_str())
    model = data.get("model") or {}
    kind = model.get("type")
    if kind != "BPE" or "merges" not in model:
        raise TutorError(f"{source}: a {kind or 'unknown'} tokenizer has no merges; tutor bpe "
                         "shows byte-level BPE (GPT-2, SmolLM2, a llama .gguf)")
    if not _has_byte_level(data.get("pre_tokenizer")):
        raise TutorError(f"{source}: a BPE tokenizer without the byte-level pre-tokenizer; "
                         "tutor bpe shows byte-level BPE (GPT-2, SmolLM2)")
    for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            raise TutorError(f"{source}: the BPE option {key} is set; tutor bpe shows plain "
                             "byte-level BPE")
    if model.get("byte_fallback"):
        raise TutorError(f"{source}: byte fallback is set; tutor bpe shows plain byte-level BPE")
    ranks = {}
    for rank, merge in enumerate(model["merges"]):
        pair = tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge)
        if len(pair) != 2:
            raise TutorError(f"{source}: merge {rank} is not a pair: {merge!r}")
        ranks.setdefault(pair, rank)
    added = {tok.content: (int(i), bool(tok.special))
             for i, tok in backend.get_added_tokens_decoder().items()}
    pattern = None
    if added:
        words = sorted(added, key=len, reverse=True)
        pattern = re.compile("(" + "|".join(re.escape(w) for w in words) + ")")
    tables = ByteLevelBPE(dict(model.get("vocab") or {}), ranks, added,
                          bool(model.get("ignore_merges")), source, backend, pattern)
    _TABLES[tokenizer] = tables
    return tables


def read_tokenizer(path):
    """The tokenizer alone of the model at ``path`` (a llama .gguf file or a Hugging Face
    folder), without reading its weights: a GGUFTokenizer or a Tokenizer. TutorError naming
    the file when it cannot be read."""
    from pathlib import Path

    path = Path(path)
    if path.is_file():
        from ..gguf import read_gguf
        from .gguf_tokenizer import GGUFTokenizer

        return GGUFTokenizer(read_gguf(path))
    from .tokenizer import Tokenizer

    return Tokenizer(path)
