"""The tokenizer a GGUF file carries (``tokenizer.ggml.*``), rebuilt with ``tokenizers``.

A llama.cpp file of a byte-level BPE model (``tokenizer.ggml.model = "gpt2"``) stores the
vocabulary in id order (``tokens``, in GPT-2's byte-to-character spelling), the ``merges``
("a b", best first), each token's type (1 normal, 3 control such as ``<|im_start|>``,
4 user-defined) and the name of the pre-tokenizer (``tokenizer.ggml.pre``). The split before
BPE is named, not stored; tutor knows these:

* ``smollm`` (SmolLM, SmolLM2): each digit on its own, then GPT-2's byte-level split
  (llama.cpp's ``LLAMA_VOCAB_PRE_TYPE_SMOLLM``; SmolLM2's tokenizer.json pre-tokenizer
  ``Sequence[Digits(individual_digits=True), ByteLevel(use_regex=True)]``);
* ``default`` / ``gpt2`` / ``gpt-2``: GPT-2's byte-level split alone.

Control and user-defined tokens are kept whole wherever they appear in the text (as llama.cpp
and transformers' GGUF tokenizer do). Tested against transformers' GGUF tokenizer on SmolLM2
(tests/test_gguf_tokenizer.py).
"""

from __future__ import annotations

from ..errors import TutorError
from .tokenizer import Encoding, Tokenizer, _tokenizers

PRE_TOKENIZERS = ("smollm", "default", "gpt2", "gpt-2")
CONTROL, USER_DEFINED = 3, 4


class GGUFTokenizer(Tokenizer):
    """The tokenizer of a GGUF file (a :class:`tutor.gguf.GGUFFile`): ``encode``,
    ``id_to_token`` and ``vocab_size`` as :class:`Tokenizer`, plus ``decode``, ``bos_id``,
    ``eos_id``, ``control_ids`` and ``chat_template`` (a Jinja string or None). Raises
    TutorError naming the file for another tokenizer model or pre-tokenizer, or a malformed
    vocabulary."""

    def __init__(self, gguf_file):
        meta, path = gguf_file.metadata, gguf_file.path
        self.folder = self.source = path
        kind = meta.get("tokenizer.ggml.model")
        if kind != "gpt2":
            raise TutorError(f"{path}: tokenizer.ggml.model is {kind!r}; tutor reads byte-level "
                             "BPE ('gpt2') tokenizers")
        pre = meta.get("tokenizer.ggml.pre", "default")
        if pre not in PRE_TOKENIZERS:
            raise TutorError(f"{path}: tokenizer.ggml.pre is {pre!r}; tutor knows "
                             f"{', '.join(PRE_TOKENIZERS)}")
        tokens = meta.get("tokenizer.ggml.tokens")
        merges = meta.get("tokenizer.ggml.merges")
        types = meta.get("tokenizer.ggml.token_type")
        if not isinstance(tokens, list) or not tokens:
            raise TutorError(f"{path}: tokenizer.ggml.tokens must be a list of strings")
        if not isinstance(merges, list) or not all(m.count(" ") == 1 for m in merges):
            raise TutorError(f"{path}: tokenizer.ggml.merges must be strings 'a b'")
        if types is not None and len(types) != len(tokens):
            raise TutorError(f"{path}: tokenizer.ggml.token_type has {len(types)} entries for "
                             f"{len(tokens)} tokens")
        vocab = {token: index for index, token in enumerate(tokens)}
        if len(vocab) != len(tokens):
            raise TutorError(f"{path}: tokenizer.ggml.tokens holds a token twice")
        tokenizers = _tokenizers()
        from tokenizers import AddedToken, decoders, models, pre_tokenizers

        try:
            backend = tokenizers.Tokenizer(models.BPE(
                vocab=vocab, merges=[tuple(m.split(" ")) for m in merges]))
        except Exception as exc:                                       # the package's own errors
            raise TutorError(f"{path}: the tokenizer cannot be built ({exc})") from None
        split = [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
        if pre == "smollm":
            split.insert(0, pre_tokenizers.Digits(individual_digits=True))
        backend.pre_tokenizer = pre_tokenizers.Sequence(split)
        backend.decoder = decoders.ByteLevel()
        self.control_ids: frozenset[int] = frozenset()
        if types is not None:
            kinds = [int(t) for t in types]
            self.control_ids = frozenset(i for i, k in enumerate(kinds) if k == CONTROL)
            control = [AddedToken(t, special=True, normalized=False)
                       for t, k in zip(tokens, kinds) if k == CONTROL]
            user = [AddedToken(t, special=False, normalized=False)
                    for t, k in zip(tokens, kinds) if k == USER_DEFINED]
            backend.add_special_tokens(control)
            backend.add_tokens(user)
        backend.no_padding()
        backend.no_truncation()
        self._backend = backend
        self.bos_id = _token_id(meta, "tokenizer.ggml.bos_token_id", len(tokens))
        self.eos_id = _token_id(meta, "tokenizer.ggml.eos_token_id", len(tokens))
        template = meta.get("tokenizer.chat_template")
        self.chat_template = template if isinstance(template, str) else None

    def encode(self, text: str) -> Encoding:
        """Tokenize ``text`` (no BOS added); ``special`` marks the control tokens in it
        (``<|im_start|>``, ...), each kept whole."""
        found = super().encode(text)
        return Encoding(found.ids, found.tokens, found.offsets,
                        [i in self.control_ids for i in found.ids])

    def decode(self, ids, *, skip_special: bool = False) -> str:
        """The text of token ids (bytes that do not end a UTF-8 character show as U+FFFD)."""
        return self._backend.decode([int(i) for i in ids], skip_special_tokens=skip_special)


def _token_id(meta, key: str, n_tokens: int):
    value = meta.get(key)
    return int(value) if isinstance(value, int) and 0 <= value < n_tokens else None
