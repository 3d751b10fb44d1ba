"""The trained models shipped in tutor/data/models: each solves its task on held-out sequences,
each records the `tutor train` command that made it, the reverse model's cross-attention
reads the source back to front, and the dates model's month digits read the month's word and
its year digits the year."""

import numpy as np
import pytest

from tutor.errors import TutorError
from tutor.trace import Trace
from tutor.training import tasks
from tutor.training.loop import exact_match, predict
from tutor.training.shipped import load_shipped_model, models_dir, shipped_models

THRESHOLD = 0.98          # exact-sequence accuracy on 100 held-out sequences; measured: 1.00 each


def test_the_four_models_are_shipped_small():
    assert shipped_models() == ["copy", "dates", "reverse", "sort"]
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


@pytest.mark.parametrize("name", ["copy", "reverse", "sort", "dates"])
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
    dates = load_shipped_model("dates")
    for text in ("7 December 2026", "Dec 7, 2026", "the 7th of December 2026", "07.12.2026",
                 "December 7, 2026", "7 Dec 2026"):
        assert dates.run(text) == "2026-12-07", text


def test_unknown_name_lists_the_shipped_models():
    with pytest.raises(TutorError, match="no shipped model 'french'; the shipped models are "
                                         "copy, dates, reverse, sort"):
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


# -- dates -----------------------------------------------------------------------------------

def test_dates_model_was_trained_with_the_defaults():
    """The shipped dates model is what `tutor train --task dates` makes with the defaults
    (only --seed 0 and --steps 1500 spelled out), so its figures are the defaults' figures."""
    from tutor.training.loop import TrainConfig

    trained = load_shipped_model("dates")
    defaults = TrainConfig(task="dates").to_dict()
    assert trained.config == defaults
    assert trained.model.vocab_size == 43 and trained.model.dtype == np.float32


def test_dates_model_writes_held_out_dates_as_iso_dates():
    """1,000 dates never trained on (held out by date, in every writing; seed 1, not the
    training run's evaluation set): measured 99.7% of 2,000 exactly right; README and the
    issue promise >= 99%."""
    import datetime

    trained = load_shipped_model("dates")
    src, tgt = tasks.held_out_set("dates", 1000, seed=1)
    ordinals = [datetime.date.fromisoformat(tasks.decode_ids(t[1:-1], "dates")).toordinal()
                for t in tgt]
    assert tasks.date_is_held_out(ordinals).all()
    accuracy = exact_match(predict(trained.model, src, "dates"), tgt).mean()
    assert accuracy >= 0.99, accuracy


def _date_spans(ordinal: int, style: int, width: int):
    """Boolean masks [width] of the source positions of the month (its word, or its two
    digits in "07.12.2026") and of the year's four digits, for the date as written."""
    import datetime

    text = tasks.write_date(ordinal, style).lower()
    month, year = np.zeros(width, bool), np.zeros(width, bool)
    year[len(text) - 4:len(text)] = True                               # every format ends with it
    if "{m}" in tasks.DATE_FORMATS[style]:
        month[3:5] = True                                              # dd.mm.yyyy
    else:
        name = tasks.MONTHS[datetime.date.fromordinal(ordinal).month - 1].lower()
        word = name if "{month}" in tasks.DATE_FORMATS[style] else name[:3]
        start = text.index(word)
        month[start:start + len(word)] = True
    return month, year


def test_dates_model_reads_the_month_word_and_the_year_in_cross_attention():
    """In the attention over the encoder (mean over every decoder layer and head), the
    decoder positions that write the month's two digits (queries 5 and 6: they read "-" and
    the month's first digit) put most of their weight on the source month's characters, and
    those that write the year (queries 0-3) on the year's digits. Over 600 held-out dates in
    all six writings, measured: month 0.80, year 0.89 of the weight, where spreading it evenly
    over the source would give 0.31 (the spans' share of the characters). The threshold 0.7
    is more than twice that, with room for rounding; a model that read positions blindly
    could not reach it, since the month word moves between writings."""
    trained = load_shipped_model("dates")
    rng = np.random.default_rng([1, 0x4E1D])
    ordinals, styles = tasks.sample_dates(rng, 600, held_out=True)
    src, tgt = tasks.make_date_batch(ordinals, styles)
    trace = Trace()
    trained.model.logits(src, tgt[:, :-1], src_key_padding_mask=src == tasks.PAD_ID, trace=trace)
    layers = trained.config["num_layers"]
    weights = np.mean([trace[f"transformer.decoder.layers.{i}.multihead_attn.weights"]
                       for i in range(layers)], axis=0).mean(axis=1)   # [B, T, S]
    on_month, on_year, even = [], [], []
    for row, (ordinal, style) in enumerate(zip(ordinals, styles)):
        month, year = _date_spans(int(ordinal), int(style), src.shape[1])
        on_month.append(weights[row, [5, 6]][:, month].sum(axis=-1).mean())
        on_year.append(weights[row, [0, 1, 2, 3]][:, year].sum(axis=-1).mean())
        even.append((month.sum() + year.sum()) / 2 / (src[row] != tasks.PAD_ID).sum())
    assert 0.25 < np.mean(even) < 0.35
    assert np.mean(on_month) >= 0.7, np.mean(on_month)
    assert np.mean(on_year) >= 0.7, np.mean(on_year)


def test_a_dates_example_for_teacher_forcing():
    """walkthroughs.learning.task_example gives a dates model's right answer (the ISO date),
    on which the trained model's loss is near 0; a date with no answer is refused, naming why."""
    from tutor.nn.loss import cross_entropy
    from tutor.walkthroughs.learning import task_example

    trained = load_shipped_model("dates")
    src, tgt = task_example(trained, "Dec 7, 2026")
    assert tasks.decode_ids(tgt, "dates") == "<bos>2026-12-07<eos>"
    assert tasks.decode_ids(src, "dates") == "dec 7, 2026"
    logits = trained.model.logits(src[None], tgt[None, :-1])[0]        # [11, 43]
    assert float(cross_entropy(logits, tgt[1:])) < 0.05
    with pytest.raises(TutorError, match="February 2026 has 28 days"):
        task_example(trained, "31 February 2026")
