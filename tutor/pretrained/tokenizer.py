"""Tokenizing with a model folder's own tokenizer, through the ``tokenizers`` package (the
``models`` extra), imported only here.

A folder gives its tokenizer as ``tokenizer.json`` (any model), or ``vocab.txt`` (BERT's
WordPiece; lower-casing from ``tokenizer_config.json``'s ``do_lower_case``, default true),
or ``vocab.json`` + ``merges.txt`` (GPT-2's byte-level BPE). Padding and truncation set in
the file are switched off: one sentence in, all of its tokens out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import TutorError
from ..files import parse_json, read_bytes, read_json
from ..limits import MAX_CONFIG_BYTES, MAX_TOKENIZER_BYTES, MAX_VOCAB_TOKENS
from ..weightfiles import MODELS_EXTRA_HINT

MAX_TEXT_CHARS = 100_000


@dataclass(frozen=True)
class Encoding:
    """One tokenized text: ``ids`` and ``tokens`` as the tokenizer gives them, the character
    span ``(start, end)`` of each token in the text (special tokens: (0, 0)), and whether each
    token is special ([CLS], [SEP], ...)."""

    ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]
    special: list[bool]

    def __len__(self) -> int:
        return len(self.ids)


def _tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise TutorError(f"reading a model's tokenizer needs the 'tokenizers' package: "
                         f"{MODELS_EXTRA_HINT}") from None
    return tokenizers


class Tokenizer:
    """The tokenizer of a Hugging Face model folder. Raises TutorError naming the folder
    when no tokenizer file is there or the file cannot be read."""

    def __init__(self, folder):
        folder = Path(folder)
        self.folder = folder
        tokenizers = _tokenizers()
        check_tokenizer_files(folder)                                  # caps, before any parse
        try:
            if (folder / "tokenizer.json").is_file():
                self.source = folder / "tokenizer.json"
                backend = tokenizers.Tokenizer.from_file(str(self.source))
            elif (folder / "vocab.txt").is_file():
                self.source = folder / "vocab.txt"
                from tokenizers.implementations import BertWordPieceTokenizer
                backend = BertWordPieceTokenizer(str(self.source), lowercase=_lower_case(folder))
            elif (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
                self.source = folder / "vocab.json"
                from tokenizers.implementations import ByteLevelBPETokenizer
                backend = ByteLevelBPETokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
            else:
                raise TutorError(f"{folder}: no tokenizer; expected tokenizer.json, vocab.txt, "
                                 "or vocab.json with merges.txt")
        except TutorError:
            raise
        except Exception as exc:                                       # the package's own errors
            raise TutorError(f"{folder}: the tokenizer cannot be read ({exc})") from None
        backend.no_padding()
        backend.no_truncation()
        self._backend = backend

    @property
    def vocab_size(self) -> int:
        return self._backend.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> Encoding:
        """Tokenize ``text`` with the model's special tokens (BERT: [CLS] ... [SEP])."""
        if not isinstance(text, str):
            raise TutorError(f"text must be a string, got {type(text).__name__}")
        if len(text) > MAX_TEXT_CHARS:
            raise TutorError(f"text must be at most {MAX_TEXT_CHARS:,} characters, got {len(text):,}")
        found = self._backend.encode(text)
        return Encoding(list(found.ids), list(found.tokens), [tuple(o) for o in found.offsets],
                        [bool(s) for s in found.special_tokens_mask])

    def id_to_token(self, token_id: int) -> str | None:
        return self._backend.id_to_token(token_id)


def _lower_case(folder: Path) -> bool:
    path = folder / "tokenizer_config.json"
    try:
        settings = read_json(path, MAX_CONFIG_BYTES, "a tokenizer_config.json") \
            if os.path.lexists(path) else {}
    except (OSError, ValueError):
        raise TutorError(f"{os.fspath(path)}: not a readable JSON file") from None
    value = settings.get("do_lower_case", True) if isinstance(settings, dict) else True
    return bool(value)


#: the tokenizer files a folder may hold, each capped at MAX_TOKENIZER_BYTES
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "merges.txt")


def check_tokenizer_files(folder: Path) -> None:
    """Refuse, in well under a second, a tokenizer file the ``tokenizers`` package would
    take long or much memory to read (a 40 MB tokenizer.json takes 596 MB, a 10M-line
    vocab.txt 1.7 GB and 15 s): each present file must be a regular file of at most
    ``MAX_TOKENIZER_BYTES``; vocab.txt, vocab.json and merges.txt hold at most
    ``MAX_VOCAB_TOKENS`` entries; vocab.json is JSON nested at most ``MAX_NESTING`` deep.
    (tokenizer.json's own nesting is bounded by the package's parser, serde_json, at 128.)
    Raises TutorError naming the file, the cap and what it holds."""
    for name in TOKENIZER_FILES:
        path = folder / name
        if not os.path.lexists(path):
            continue
        data = read_bytes(path, MAX_TOKENIZER_BYTES, f"a {name}")    # FileReadError: a TutorError
        if name == "tokenizer.json":
            continue
        if name == "vocab.json":
            vocab = parse_json(data, os.fspath(path))
            count = len(vocab) if isinstance(vocab, dict) else 0
        else:
            count = data.count(b"\n") + (not data.endswith(b"\n") and bool(data))
        if count > MAX_VOCAB_TOKENS:
            raise TutorError(f"{os.fspath(path)}: {count:,} entries, expected at most "
                             f"{MAX_VOCAB_TOKENS:,}")
