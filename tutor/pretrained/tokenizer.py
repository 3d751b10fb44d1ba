"""Tokenizing with a model folder's own tokenizer, through the ``tokenizers`` package (the
``models`` extra), imported only here.

A folder gives its tokenizer as ``tokenizer.json`` (any model), or ``vocab.txt`` (BERT's
WordPiece), or ``vocab.json`` + ``merges.txt`` (GPT-2's byte-level BPE). Padding and
truncation set in the file are switched off: one sentence in, all of its tokens out.

The two older layouts take their settings from ``tokenizer_config.json`` as ``transformers``'
``BertTokenizer`` / ``GPT2Tokenizer`` do (checked against transformers 5.25):

* ``vocab.txt``: ``do_lower_case`` (default true), ``strip_accents`` (default: follows
  ``do_lower_case``; false keeps "café" whole while lower-casing), ``tokenize_chinese_chars``
  (default true: each CJK character is a word), and the names of ``unk_token``,
  ``sep_token``, ``cls_token``, ``pad_token``, ``mask_token``.
* ``vocab.json`` + ``merges.txt``: ``add_prefix_space`` (default false).

The tokenizer class transformers would pick (:func:`tokenizer_class`: tokenizer_config.json's
``tokenizer_class``, else the family config.json declares, else the layout) brings its own
special tokens, in every layout, when the vocabulary holds them: GPT2Tokenizer's
``<|endoftext|>`` (its bos, eos and unk unless named otherwise), BertTokenizer's [UNK],
[SEP], [PAD], [CLS], [MASK].

Every layout then gets the tokens a folder declares (:func:`declared_tokens`):
``tokenizer_config.json``'s ``added_tokens_decoder`` (at their ids), ``added_tokens.json``,
and the special tokens named in ``special_tokens_map.json`` / ``tokenizer_config.json``
(``bos_token`` ... ``mask_token``, ``additional_special_tokens``). A special token is matched
whole before the text is split, so ``<|endoftext|>`` is one token in every layout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import TutorError
from ..files import parse_json, read_bytes, read_json
from ..limits import MAX_CONFIG_BYTES, MAX_TOKENIZER_BYTES, MAX_VOCAB_TOKENS
from ..resources import MODELS_EXTRA_HINT

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
        settings = _json_object(folder / "tokenizer_config.json")
        defaults = class_defaults(folder, settings)                    # the class's own special tokens
        try:
            if (folder / "tokenizer.json").is_file():
                self.source = folder / "tokenizer.json"
                backend = tokenizers.Tokenizer.from_file(str(self.source))
            elif (folder / "vocab.txt").is_file():
                self.source = folder / "vocab.txt"
                from tokenizers.implementations import BertWordPieceTokenizer
                backend = BertWordPieceTokenizer(str(self.source), **bert_options(settings, folder))
            elif (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
                self.source = folder / "vocab.json"
                from tokenizers.implementations import ByteLevelBPETokenizer
                backend = ByteLevelBPETokenizer(
                    str(folder / "vocab.json"), str(folder / "merges.txt"),
                    add_prefix_space=_setting(settings, "add_prefix_space", False, folder))
            else:
                raise TutorError(f"{folder}: no tokenizer; expected tokenizer.json, vocab.txt, "
                                 "or vocab.json with merges.txt")
            _add_declared(backend, folder, settings, defaults)
        except TutorError:
            raise
        except Exception as exc:                                       # the package's own errors
            raise TutorError(f"{folder}: the tokenizer cannot be read ({exc})") from None
        backend.no_padding()
        backend.no_truncation()
        self._backend = backend
        model = getattr(backend, "model", None)
        unk = getattr(model, "unk_token", None) if type(model).__name__ == "WordPiece" else None
        if unk is not None and backend.token_to_id(unk) is None:       # WordPiece fails on any unknown word
            raise TutorError(f"{self.source}: the unknown token {unk!r} is not in the "
                             f"vocabulary (WordPiece needs it for any word it cannot split)")

    @property
    def vocab_size(self) -> int:
        """How many different tokens the tokenizer has (added ones included)."""
        return self._backend.get_vocab_size(with_added_tokens=True)

    @property
    def max_id(self) -> int:
        """The largest token id the tokenizer can give (-1 for an empty vocabulary); a
        vocabulary with gaps or repeated lines has ``max_id >= vocab_size``."""
        return max(self._backend.get_vocab(with_added_tokens=True).values(), default=-1)

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


def class_defaults(folder: Path, settings: dict) -> dict:
    """The special tokens (name -> token) the tokenizer class transformers would pick brings by
    itself (:func:`tokenizer_class`), used for a name no file sets and only when the
    vocabulary holds the token: GPT2Tokenizer's ``<|endoftext|>``, BertTokenizer's [UNK] ...
    Each family declares its own (``tokenizer_defaults``)."""
    family = tokenizer_class(folder, settings)
    return {} if family is None else dict(family.tokenizer_defaults)


def tokenizer_class(folder: Path, settings: dict):
    """The model family whose tokenizer class ``transformers``' AutoTokenizer would pick:
    tokenizer_config.json's ``tokenizer_class``, else the family config.json declares, else
    the layout (``vocab.json`` + ``merges.txt``: gpt2; ``vocab.txt``: bert); None for
    another class (no defaults)."""
    from .families import declared_family, layout_family, tokenizer_family

    named = settings.get("tokenizer_class")
    if named is not None:
        return tokenizer_family(named)
    declared = declared_family(_json_object(folder / "config.json"))
    if declared is not None:
        return declared
    if (folder / "tokenizer.json").is_file():
        return None
    return layout_family(folder)

#: The named special tokens of tokenizer_config.json / special_tokens_map.json, in the order
#: transformers adds those that are not in the vocabulary yet.
NAMED_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                "mask_token")


def _json_object(path: Path) -> dict:
    """A small JSON object file of a tokenizer ({} when absent). TutorError naming it when it
    is not a readable JSON object."""
    if not path.is_file():
        return {}
    try:
        value = read_json(path, MAX_CONFIG_BYTES, "a tokenizer settings file")
    except TutorError:
        raise
    except (OSError, ValueError, RecursionError):
        raise TutorError(f"{os.fspath(path)}: not a readable JSON file") from None
    if not isinstance(value, dict):
        raise TutorError(f"{os.fspath(path)}: expected a JSON object, got a {type(value).__name__}")
    return value


def _setting(settings: dict, key: str, default, folder: Path, *, allow_none: bool = False):
    value = settings.get(key, default)
    if type(value) is bool or (allow_none and value is None):
        return value
    raise TutorError(f"{os.fspath(folder / 'tokenizer_config.json')}: {key} must be true or "
                     f"false{' or null' if allow_none else ''}, got {value!r}")


def _content(value, where: str, key: str) -> str | None:
    """A token as tokenizer_config.json writes it: a string, or {"content": ...}."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("content")
    if not isinstance(value, str) or not value:
        raise TutorError(f"{where}: {key} must be a token (a string), got {value!r}")
    return value


def bert_options(settings: dict, folder: Path) -> dict:
    """BertWordPieceTokenizer's options from tokenizer_config.json, with BertTokenizer's
    defaults: lower-casing on, accents stripped when (and only when) lower-casing unless
    ``strip_accents`` says otherwise (None = follow lowercase, as the BertNormalizer reads
    it), CJK characters split apart."""
    where = os.fspath(folder / "tokenizer_config.json")
    options = {
        "lowercase": _setting(settings, "do_lower_case", True, folder),
        "strip_accents": _setting(settings, "strip_accents", None, folder, allow_none=True),
        "handle_chinese_chars": _setting(settings, "tokenize_chinese_chars", True, folder),
        "clean_text": True,
    }
    for key in ("unk_token", "sep_token", "cls_token", "pad_token", "mask_token"):
        if (name := _content(settings.get(key), where, key)) is not None:
            options[key] = name
    return options


def declared_tokens(folder: Path, settings: dict, defaults: dict | None = None):
    """The tokens a folder declares beyond its vocabulary file, in the order they are added:
    a list of (content, id, special, AddedToken options), id None when the file gives none
    and "default" for a layout's own special token (``defaults``: name -> token, used for
    a name no file sets)."""
    where = os.fspath(folder / "tokenizer_config.json")
    out = []
    decoder = settings.get("added_tokens_decoder") or {}
    if not isinstance(decoder, dict):
        raise TutorError(f"{where}: added_tokens_decoder must be an object of id: token")
    for key, entry in sorted(decoder.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else -1):
        if not str(key).isdigit() or not isinstance(entry, dict):
            raise TutorError(f"{where}: added_tokens_decoder entry {key!r} must be id: {{content...}}")
        options = {k: bool(entry[k]) for k in ("single_word", "lstrip", "rstrip", "normalized")
                   if k in entry}
        out.append((_content(entry, where, f"added_tokens_decoder[{key}]"), int(key),
                    bool(entry.get("special", False)), options))
    added = _json_object(folder / "added_tokens.json")
    for content, token_id in sorted(added.items(), key=lambda kv: kv[1] if type(kv[1]) is int else -1):
        if type(token_id) is not int or token_id < 0:
            raise TutorError(f"{os.fspath(folder / 'added_tokens.json')}: the id of {content!r} "
                             f"must be an integer >= 0, got {token_id!r}")
        out.append((content, token_id, False, {}))
    named = {key: (content, True) for key, content in (defaults or {}).items()}
    for source, values in (("special_tokens_map.json", _json_object(folder / "special_tokens_map.json")),
                           ("tokenizer_config.json", settings)):
        for key in NAMED_TOKENS:
            if key in values:
                named[key] = (_content(values[key], os.fspath(folder / source), key), False)
        extra = values.get("additional_special_tokens") or values.get("extra_special_tokens")
        if isinstance(extra, list):
            for i, value in enumerate(extra):
                named[f"additional.{i}.{source}"] = (_content(
                    value, os.fspath(folder / source), "additional_special_tokens"), False)
    for content, is_default in named.values():
        if content is not None:
            out.append((content, "default" if is_default else None, True, {}))
    return out


def _add_declared(backend, folder: Path, settings: dict, defaults: dict) -> None:
    """Add :func:`declared_tokens` to ``backend``; a layout default only when its vocabulary
    already holds it (it never grows the vocabulary). TutorError when a token lands on
    another id than the file declares."""
    from tokenizers import AddedToken

    for content, token_id, special, options in declared_tokens(folder, settings, defaults):
        if token_id == "default":
            if backend.token_to_id(content) is None:                   # not in this vocabulary
                continue
            token_id = None
        token = AddedToken(content, special=special, **options)
        (backend.add_special_tokens if special else backend.add_tokens)([token])
        found = backend.token_to_id(content)
        if token_id is not None and found != token_id:
            raise TutorError(f"{folder}: the tokenizer files declare {content!r} as id {token_id}, "
                             f"but the vocabulary gives it id {found}")


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
