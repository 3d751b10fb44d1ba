"""The trained models shipped in tutor/data/models: each solves its task on held-out sequences,
each records the `tutor train` command that made it, and the reverse model's cross-attention
reads the source back to front."""

import numpy as np
import pytest

from tutor.errors import TutorError
from tutor.trace import Trace
from tutor.training import tasks
from tutor.training.loop import exact_match, predict
from tutor.training.shipped import load_shipped_model, models_dir, shipped_models

THRESHOLD = 0.98          # exact-sequence accuracy on 100 held-out sequences; measured: 1.00 each


def test_the_three_models_are_shipped_small():
    assert shipped_models() == ["copy", "reverse", "sort"]
    total = sum(p.stat().st_size for p in models_dir().glob("*.npz"))
    assert total <= 1_000_000


@pytest.mark.parametrize("name", ["copy", "reverse", "sort"])
def test_shipped_model_solves_held_out_sequences(name):
    trained = load_shipped_model(name)
    assert trained.task == name and trained.model.dtype == np.float32
    src, tgt = tasks.held_out_set(name, 100, seed=1)                   # not the training-time set
    assert tasks.is_held_out(src - tasks.DIGIT_OFFSET, (src != tasks.PAD_ID).sum(1)).all()
    accuracy = exact_match(predict(trained.model, src), tgt).mean()
    assert accuracy >= THRESHOLD, f"{name}: {accuracy:.2f}"


@pytest.mark.parametrize("name", ["copy", "reverse", "sort"])
def test_shipped_model_records_its_command(name):
    trained = load_shipped_model(name)
    command = trained.command
    assert command[:2] == ["tutor", "train"]
    assert command[command.index("--task") + 1] == name
    assert command[command.index("--steps") + 1] == str(trained.step)
    assert "--weights-only" in command
    assert trained.config["task"] == name and trained.history["loss"].shape == (trained.step,)


def test_shipped_models_answer_examples():
    assert load_shipped_model("reverse").run("3141592") == "2951413"
    assert load_shipped_model("copy").run("2718") == "2718"
    assert load_shipped_model("sort").run("31415926") == "11234569"


def test_unknown_name_lists_the_shipped_models():
    with pytest.raises(TutorError, match="no shipped model 'french'; the shipped models are "
                                         "copy, reverse, sort"):
        load_shipped_model("french")


def test_reverse_model_reads_the_source_back_to_front():
    """In the last decoder layer's cross-attention (mean over heads), output position i of a
    sequence of n digits attends most to source position n - 1 - i. Measured: 95.6% of the
    positions of 100 held-out sequences."""
    trained = load_shipped_model("reverse")
    src, tgt = tasks.held_out_set("reverse", 100, seed=1)
    trace = Trace()
    trained.model.logits(src, tgt[:, :-1], src_key_padding_mask=src == tasks.PAD_ID, trace=trace)
    last = trained.config["num_layers"] - 1
    weights = trace[f"transformer.decoder.layers.{last}.multihead_attn.weights"]  # [B, H, T, S]
    mean = weights.mean(axis=1)                                        # [B, T, S]
    hits = total = 0
    for row, n in enumerate((src != tasks.PAD_ID).sum(axis=1)):
        argmax = mean[row, :n].argmax(axis=-1)                         # [n], output positions
        hits += int((argmax == n - 1 - np.arange(n)).sum())
        total += int(n)
    assert hits / total >= 0.9, hits / total
