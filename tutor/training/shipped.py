"""The trained toy models shipped with tutor (``tutor/data/models/<name>.npz``) and any model
file written by ``tutor train``.

Each shipped file was written by the ``tutor train`` command recorded in it (``command`` in its
``meta.json``; see tutor.training.checkpoint), with ``--weights-only``: float32 parameters, the
run's settings and its loss history, no optimizer state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TutorError, quote
from ..nn.model import Seq2Seq
from ..resources import models_dir
from . import tasks
from .checkpoint import load_checkpoint


@dataclass
class TrainedModel:
    """A model trained on a task of tasks.TASKS, with what is needed to use it.

    ``model`` is the Seq2Seq (vocabulary ``vocab``, tasks.vocab(task): ``<pad>`` 0, ``<bos>``
    1, ``<eos>`` 2, digit d is d + 3; for dates then '-' and the source's characters);
    ``command`` the ``tutor train`` command that made it.
    """

    name: str
    path: str
    model: Seq2Seq
    task: str
    step: int
    command: list[str]
    config: dict[str, Any]
    history: dict[str, np.ndarray]

    pad_id, bos_id, eos_id = tasks.PAD_ID, tasks.BOS_ID, tasks.EOS_ID

    @property
    def vocab(self) -> tuple[str, ...]:
        return tasks.vocab(self.task)

    def encode(self, text: str) -> np.ndarray:
        """"3141" -> source ids [n]; TutorError unless 1 to 8 digits. For dates, "7 Dec 2026"
        -> one id per character (tasks.encode_date_text)."""
        if self.task == "dates":
            return tasks.encode_date_text(text)
        return tasks.encode_digits(text)

    def source_tokens(self, text: str) -> list[str]:
        """The source's tokens as labels: ["3", "1", "4"]; for dates its characters,
        case-folded, a space shown as "␣" ("7 Dec" -> ["7", "␣", "d", "e", "c"])."""
        return [tasks.show_token(self.vocab[int(i)]) for i in self.encode(text)]

    def run(self, text: str) -> str:
        """The model's answer, decoded greedily: run("3141") -> "1413" for ``reverse``,
        run("7 December 2026") -> "2026-12-07" for ``dates``."""
        from .loop import predict

        out = predict(self.model, self.encode(text)[None], self.task)[0]   # [<= n + 3]
        answer = []
        for token in out[1:]:
            if token == tasks.EOS_ID:
                break
            answer.append(self.vocab[int(token)])
        return "".join(answer)


def load_model(path: str | os.PathLike, name: str | None = None) -> TrainedModel:
    """A model file written by ``tutor train`` (a checkpoint or ``--weights-only``).

    Raises TutorError naming the file when it cannot be read or is not a trained model.
    """
    from .loop import TrainConfig, build_model

    source = os.fspath(path)
    checkpoint = load_checkpoint(path)
    config = TrainConfig.from_dict(checkpoint.config, source=source)
    try:
        model = build_model(checkpoint.params, config)
    except TutorError as exc:
        raise TutorError(f"{source}: {exc}") from None
    return TrainedModel(name=name or Path(source).stem, path=source, model=model,
                        task=config.task, step=checkpoint.step, command=checkpoint.command,
                        config=checkpoint.config, history=checkpoint.history)


def shipped_models() -> list[str]:
    """The names of the shipped models, sorted: ['copy', 'dates', 'reverse', 'sort']."""
    folder = models_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.npz"))


def load_shipped_model(name: str) -> TrainedModel:
    """The shipped model ``name`` (see :func:`shipped_models`).

    Raises TutorError naming the available models when there is no such model.
    """
    names = shipped_models()
    if name not in names:
        raise TutorError(f"no shipped model {quote(name)}; the shipped models are "
                         f"{', '.join(names) or 'none'}")
    return load_model(models_dir() / f"{name}.npz", name=name)
