"""One ``--model`` contract: an adapter per model kind, the same small interface for all, so a
command, the explorer and a lesson never ask what a model is.

* :class:`ToyModel`: an encoder-decoder trained by ``tutor train`` (the shipped reverse,
  copy, sort, dates, or a file it wrote); it reads what its task reads: digits, or for
  dates a written date, one token per character.
* :class:`HuggingFaceModel`: a pretrained model read from a Hugging Face folder (BERT /
  MiniLM, GPT-2, ... :mod:`tutor.pretrained.families`); it reads its own tokens.

The interface: ``name``; ``kind`` ("toy" or "pretrained"); ``model`` (what the engine runs);
``read(text) -> tokens`` (:class:`ModelInputError`, naming the limit, for text the model
cannot read; a Hugging Face model's tokens are kept, so a command tokenizes once);
``blocks`` (the attention blocks it has: "encoder" and "decoder" self-attention, or one
self-attention per layer, ``None``) with ``n_layer(block)`` and ``n_head``;
``head(text, layer, head, block)`` (one head's six steps, a Recording); ``heads(text)``
(every head, a Recording) and ``attention_blocks(recording)`` (its
:class:`~tutor.walkthroughs.toy_heads.AttentionBlock` list, titled "encoder layer 1 ·
self-attention", "layer 1 · self-attention"); ``writes`` (it can generate) and
``generation_model`` (what :func:`tutor.walkthroughs.generation.generate` steps).
"""

from __future__ import annotations

from tutor.errors import TutorError
from tutor.limits import MAX_MODEL_TOKENS

from . import Recording


class ModelInputError(TutorError):
    """Text a model cannot read; the message names the limit (digits, tokens, positions)."""


class ToyModel:
    """A toy encoder-decoder trained by ``tutor train`` (a
    :class:`tutor.training.shipped.TrainedModel`)."""

    kind = "toy"
    blocks = ("encoder", "decoder")
    writes = True

    def __init__(self, trained):
        self.trained = trained
        self.name = trained.name
        self.model = trained.model
        self.generation_model = trained.model
        self.n_head = trained.model.config.nhead

    def n_layer(self, block: str | None = "encoder") -> int:
        config = self.model.config
        return config.num_decoder_layers if block == "decoder" else config.num_encoder_layers

    def source(self, text: str) -> str:
        """The text as the model's task reads it: the digits with the spaces taken out
        ("3 1 4" -> "314"), a written date as it is (dates)."""
        return text if self.trained.task == "dates" else "".join(text.split())

    def read(self, text: str, *, least: int = 1) -> list[str]:
        """"3 1 4" or "314" -> ["3", "1", "4"]. ModelInputError unless 1 to 8 digits (the
        lengths tutor train's tasks use). A dates model reads a written date, one token per
        character ("7 Dec 2026" -> ["7", "␣", "d", "e", "c", ...]); ModelInputError naming the
        limit (1 to 32 characters: letters, digits, spaces, ',' and '.')."""
        from tutor.training.tasks import MAX_LENGTH, MIN_LENGTH

        if self.trained.task == "dates":
            try:
                tokens = self.trained.source_tokens(text)
            except TutorError as exc:
                raise ModelInputError(f"{exc} ({self.name}, a toy model trained by tutor "
                                      f"train on the dates task, reads a written date, one "
                                      f"token per character)") from None
            if len(tokens) < least:
                raise ModelInputError(f"expected at least {least} characters, got "
                                      f"{len(tokens)}")
            return tokens
        digits = "".join(text.split())
        if not (max(MIN_LENGTH, least) <= len(digits) <= MAX_LENGTH and digits.isdigit()
                and digits.isascii()):
            shown = text if len(text) <= 30 else text[:29] + "…"
            raise ModelInputError(f"expected {MIN_LENGTH} to {MAX_LENGTH} digits for "
                                  f"{self.name}, a toy model trained by tutor train on the "
                                  f"{self.trained.task} task, got {shown!r}")
        return list(digits)

    def head(self, text: str, layer: int, head: int, block: str | None = None) -> Recording:
        """Head ``head`` of layer ``layer`` (from 0) of the encoder's self-attention
        (``block`` None or "encoder") or the decoder's masked self-attention."""
        from .toy_heads import toy_model_head

        self.read(text)
        return toy_model_head(self.trained, self.source(text), layer, head, block or "encoder")

    def heads(self, text: str) -> Recording:
        """Every block's heads (:func:`tutor.walkthroughs.toy_heads.toy_model_heads`) on the
        digits of ``text`` ("3 1 4" or "314"), or the written date (dates); TutorError for
        text the model cannot read (see :meth:`read`)."""
        from .toy_heads import toy_model_heads

        if self.trained.task == "dates":
            self.read(text)                        # the limit named, as for the digits
        return toy_model_heads(self.trained, self.source(text))

    def attention_blocks(self, recording: Recording) -> list:
        return recording.info["blocks"]


class HuggingFaceModel:
    """A pretrained model from a Hugging Face folder (a
    :class:`tutor.pretrained.PretrainedModel`)."""

    kind = "pretrained"
    blocks = (None,)

    def __init__(self, model):
        self.model = model
        self.name = model.name
        self.n_head = model.n_head
        self.writes = model.can_write
        self.generation_model = model
        self._read: dict[str, object] = {}                             # text -> Encoding

    def n_layer(self, block: str | None = None) -> int:
        return self.model.n_layer

    def encoding(self, text: str, *, least: int = 1):
        """The model's tokens of ``text`` (a :class:`tutor.pretrained.Encoding`), tokenized
        once per text: at most MAX_MODEL_TOKENS and the model's positions, at least
        ``least``. ModelInputError naming the limit otherwise."""
        if text not in self._read:
            try:
                found = self.model.encode(text)
            except TutorError as exc:              # more tokens than the model has positions
                raise ModelInputError(str(exc)) from None
            if len(self._read) >= 4:                                   # a command reads 1 or 2
                self._read.clear()
            self._read[text] = found
        found = self._read[text]
        if len(found) > MAX_MODEL_TOKENS:
            raise ModelInputError(f"expected at most {MAX_MODEL_TOKENS} tokens, got "
                                  f"{len(found)} (the model's own tokens)")
        if len(found) < least:
            raise ModelInputError(f"expected at least {least} tokens, got {len(found)}")
        return found

    def read(self, text: str, *, least: int = 1) -> list[str]:
        """The model's own tokens of ``text``; see :meth:`encoding`."""
        return list(self.encoding(text, least=least).tokens)

    def head(self, text: str, layer: int, head: int, block: str | None = None) -> Recording:
        """Head ``head`` of layer ``layer`` (from 0): :func:`.pretrained.model_head`."""
        from .pretrained import model_head

        if block is not None:
            raise TutorError(f"{self.name} has one self-attention per layer, no {block}")
        return model_head(self.model, text, layer, head, encoding=self.encoding(text))

    def heads(self, text: str) -> Recording:
        """Every head's weights and pattern (:func:`.pretrained.model_heads`)."""
        from .pretrained import model_heads

        return model_heads(self.model, text, encoding=self.encoding(text))

    def attention_blocks(self, recording: Recording) -> list:
        from .toy_heads import AttentionBlock

        info = recording.info
        tokens, causal = info["tokens"], info["causal"]
        kind = "masked self-attention" if causal else "self-attention"
        return [AttentionBlock("attentions", f"layer {i + 1} · {kind}", tokens, tokens, True,
                               (i,), causal=causal) for i in range(info["n_layer"])]


def adapt(model):
    """The adapter of ``model``: a :class:`ToyModel` for a ``tutor train`` model, a
    :class:`HuggingFaceModel` for a pretrained one; an adapter is returned as it is.
    TypeError for anything else."""
    from tutor.pretrained.model import PretrainedModel
    from tutor.training.shipped import TrainedModel

    if isinstance(model, (ToyModel, HuggingFaceModel)):
        return model
    if isinstance(model, TrainedModel):
        return ToyModel(model)
    if isinstance(model, PretrainedModel):
        return HuggingFaceModel(model)
    raise TypeError(f"expected a toy or a pretrained model, got {type(model).__name__}")
