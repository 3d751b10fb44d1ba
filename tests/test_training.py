"""tutor.training: the tasks and their held-out split, checkpoints, the loop (bit-identical
resume, interruption, divergence), the schedule, unscaled attention by a change of variables."""

import itertools
import json
import math
import os
import zipfile

import numpy as np
import pytest

from tutor.errors import TutorError
from tutor.nn.attention import scaled_dot_product_attention
from tutor.nn.model import Seq2Seq
from tutor.training import tasks
from tutor.training.checkpoint import (Checkpoint, load_checkpoint, rng_from_state,
                                       save_checkpoint)
from tutor.training.loop import (StopNow, TrainConfig, Trainer, TrainingDiverged,
                                 effective_params, exact_match, learning_rate, train,
                                 trained_grads)

TINY = dict(d_model=8, nhead=2, num_layers=1, dim_feedforward=16, batch_size=8, eval_every=5,
            eval_size=20, checkpoint_every=5, warmup=5, lr=5e-3)


# -- tasks --------------------------------------------------------------------------------

def test_vocabulary_is_fixed():
    assert tasks.VOCAB == ("<pad>", "<bos>", "<eos>", "0", "1", "2", "3", "4", "5", "6", "7",
                           "8", "9")
    assert (tasks.PAD_ID, tasks.BOS_ID, tasks.EOS_ID, tasks.DIGIT_OFFSET) == (0, 1, 2, 3)


@pytest.mark.parametrize("task, expected", [("reverse", [3, 1, 4]), ("copy", [4, 1, 3]),
                                            ("sort", [1, 3, 4])])
def test_make_batch_pads_and_frames(task, expected):
    digits = np.array([[4, 1, 3, 0, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0, 0, 0]])
    src, tgt = tasks.make_batch(task, digits, np.array([3, 1]))
    assert src.tolist() == [[7, 4, 6], [10, 0, 0]]
    assert tgt.tolist() == [[1, *(d + 3 for d in expected), 2], [1, 10, 2, 0, 0]]


def test_sequence_index_numbers_every_sequence_once():
    seqs = [np.array(s) for n in (1, 2, 3) for s in itertools.product(range(10), repeat=n)]
    digits = np.zeros((len(seqs), 8), dtype=np.int64)
    for row, s in enumerate(seqs):
        digits[row, :len(s)] = s
    lengths = np.array([len(s) for s in seqs])
    index = tasks.sequence_index(digits, lengths)
    assert index.tolist() == list(range(1, 1111))                      # "0" = 1, ..., "999" = 1110


def test_held_out_share_per_length():
    for n, expected in ((1, 0), (2, 7), (3, 62), (4, 626)):
        all_ = np.array(list(itertools.product(range(10), repeat=n)))
        digits = np.zeros((len(all_), 8), dtype=np.int64)
        digits[:, :n] = all_
        assert tasks.is_held_out(digits, np.full(len(all_), n)).sum() == expected


def test_training_batches_and_held_out_sets_are_disjoint():
    rng = np.random.default_rng(1)
    digits, lengths = tasks.sample_digits(rng, 5000)
    assert not tasks.is_held_out(digits, lengths).any()
    assert set(np.unique(lengths)) == set(range(1, 9))
    held_digits, held_lengths = tasks.sample_digits(rng, 500, held_out=True)
    assert tasks.is_held_out(held_digits, held_lengths).all()
    train_set = {tuple(d[:n]) for d, n in zip(digits, lengths)}
    assert not train_set & {tuple(d[:n]) for d, n in zip(held_digits, held_lengths)}


def test_held_out_set_is_fixed_by_its_seed():
    a = tasks.held_out_set("sort", 50, seed=3)
    b = tasks.held_out_set("sort", 50, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], tasks.held_out_set("sort", 50, seed=4)[0])


def test_bad_task_is_named():
    with pytest.raises(TutorError, match="task must be one of reverse, copy, sort, dates, got 'add'"):
        tasks.make_batch("add", np.zeros((1, 8), dtype=np.int64), np.array([1]))


def test_encode_and_decode():
    assert tasks.encode_digits("3141").tolist() == [6, 4, 7, 4]
    assert [tasks.VOCAB[i] for i in (1, 6, 4, 2, 0)] == ["<bos>", "3", "1", "<eos>", "<pad>"]
    with pytest.raises(TutorError, match="expected 1 to 8 digits, got '12a'"):
        tasks.encode_digits("12a")


# -- the dates task -------------------------------------------------------------------------

DEC_7_2026 = 739957                                                    # date(2026, 12, 7).toordinal()


def test_dates_vocabulary_extends_the_digit_vocabulary():
    import datetime

    assert datetime.date.fromordinal(DEC_7_2026) == datetime.date(2026, 12, 7)
    assert tasks.DATES_VOCAB[:13] == tasks.VOCAB and tasks.DATES_VOCAB[13] == "-"
    assert tasks.vocab_size("dates") == 43 == len(set(tasks.DATES_VOCAB))
    assert tasks.vocab("reverse") == tasks.VOCAB and tasks.vocab_size("sort") == 13
    assert tasks.answer_tokens("dates", 26) == 11 and tasks.answer_tokens("reverse", 5) == 6


def test_a_date_is_written_in_six_ways():
    assert [tasks.write_date(DEC_7_2026, s) for s in range(6)] == [
        "7 December 2026", "Dec 7, 2026", "the 7th of December 2026", "07.12.2026",
        "December 7, 2026", "7 Dec 2026"]
    assert [f"{d}{tasks.ordinal_suffix(d)}" for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] \
        == ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]
    assert tasks.iso_date(DEC_7_2026) == "2026-12-07"
    assert tasks.iso_date(tasks.FIRST_DATE) == "1900-01-01"
    assert tasks.iso_date(tasks.LAST_DATE) == "2099-12-31"


def test_date_batch_is_characters_in_and_the_iso_date_out():
    src, tgt = tasks.make_date_batch(np.array([DEC_7_2026, DEC_7_2026]), np.array([2, 3]))
    assert tasks.decode_ids(src[0], "dates") == "the 7th of december 2026"
    assert tasks.decode_ids(src[1], "dates") == "07.12.2026" + "<pad>" * 14
    assert tasks.decode_ids(tgt[0], "dates") == "<bos>2026-12-07<eos>"
    assert src.shape == (2, 24) and tgt.shape == (2, 12) and (tgt[0] == tgt[1]).all()
    assert tasks.encode_date_text("  7   DEC 2026 ").tolist() == src[0][:0].tolist() + [
        tasks.DATES_VOCAB.index(c) for c in "7 dec 2026"]


def test_dates_are_held_out_by_date_in_every_writing():
    every = np.arange(tasks.FIRST_DATE, tasks.LAST_DATE + 1)          # 73,049 days
    share = tasks.date_is_held_out(every).mean()
    assert abs(share - 1 / 16) < 0.002, share
    rng = np.random.default_rng(2)
    ordinals, styles = tasks.sample_dates(rng, 5000)
    assert not tasks.date_is_held_out(ordinals).any()
    assert set(styles.tolist()) == set(range(6))
    held, held_styles = tasks.sample_dates(rng, 600, held_out=True)
    assert tasks.date_is_held_out(held).all() and set(held_styles.tolist()) == set(range(6))
    assert not set(ordinals.tolist()) & set(held.tolist())
    src, tgt = tasks.held_out_set("dates", 50, seed=3)
    again = tasks.held_out_set("dates", 50, seed=3)
    assert np.array_equal(src, again[0]) and np.array_equal(tgt, again[1])
    import datetime
    for row in tgt:                                # every target is a held-out date
        iso = tasks.decode_ids(row[1:-1], "dates")
        assert tasks.date_is_held_out([datetime.date.fromisoformat(iso).toordinal()])[0]


@pytest.mark.parametrize("text, note", [
    ("7 December 2026", None), ("Dec 7, 2026", None), ("the 7th of December 2026", None),
    ("07.12.2026", None), ("29 February 2024", None),
    ("31 February 2026", "February 2026 has 28 days, so there is no day 31"),
    ("29 February 2100", "the model learned the years 1900 to 2099, not 2100"),
    ("yesterday", "'yesterday' is not written as a date the model learned"),
    ("07.13.2026", "there is no month 13"),
    ("7 Decembre 2026", "'decembre' is not a month the model learned"),
    ("the 7st of December 2026", "written as 'the 7th of december 2026'"),
    ("7 Dec 2150", "the model learned the years 1900 to 2099, not 2150")])
def test_date_note_checks_the_calendar(text, note):
    got = tasks.date_note(text)
    if note is None:
        assert got is None and tasks.date_answer(text) in ("2026-12-07", "2024-02-29")
    else:
        assert got is not None and note in got and tasks.date_answer(text) is None


def test_a_date_the_task_cannot_read_is_named():
    with pytest.raises(TutorError, match="expected letters a-z, digits, spaces, ',' and '.' "
                                         "in a date, got '/'"):
        tasks.encode_date_text("7/12/2026")
    with pytest.raises(TutorError, match="expected a date of 1 to 32 characters, got 33"):
        tasks.encode_date_text("x" * 33)
    with pytest.raises(TutorError, match="got 0"):
        tasks.encode_date_text("   ")


def test_dates_loss_falls():
    result = train(TrainConfig(task="dates", steps=40, **TINY))
    losses = result.losses
    assert losses[-10:].mean() < 0.9 * losses[:10].mean()
    assert losses[-10:].mean() < math.log(tasks.vocab_size("dates"))   # better than uniform
    shapes = {k: v.shape for k, v in result.checkpoint.params.items()}
    assert shapes["src_embedding.weight"] == (43, 8) and shapes["generator.bias"] == (43,)


# -- exact-sequence accuracy ----------------------------------------------------------------

def test_exact_match_stops_at_eos():
    tgt = np.array([[1, 5, 6, 2, 0], [1, 5, 6, 2, 0], [1, 5, 6, 2, 0], [1, 5, 6, 2, 0]])
    predicted = np.array([[1, 5, 6, 2, 2, 2],                          # right, then eos repeated
                          [1, 5, 7, 2, 2, 2],                          # a wrong digit
                          [1, 5, 6, 6, 2, 2],                          # one digit too many
                          [1, 5, 6, 5, 6, 5]])                         # never ends
    assert exact_match(predicted, tgt).tolist() == [True, False, False, False]


# -- schedule -------------------------------------------------------------------------------

def test_learning_rate_is_the_papers_schedule_with_its_peak_given():
    from tutor.nn.optim import NoamSchedule

    config = TrainConfig(d_model=32, warmup=200, lr=(32 * 200) ** -0.5)
    paper = NoamSchedule(32, 200)
    for step in (1, 50, 199, 200, 201, 1000, 5000):
        assert learning_rate(config, step) == pytest.approx(paper(step), rel=1e-12)
    assert learning_rate(TrainConfig(lr=2e-3, warmup=200), 200) == pytest.approx(2e-3)
    assert learning_rate(TrainConfig(lr=2e-3, warmup=200), 800) == pytest.approx(1e-3)
    # bit for bit the rates the shipped models were trained with
    for step in (1, 7, 199, 200, 201, 999, 12345):
        assert learning_rate(TrainConfig(lr=3e-3, warmup=200), step) == \
            3e-3 * min(step / 200, math.sqrt(200 / step))
    assert learning_rate(TrainConfig(lr=3e-3, warmup=0), 5) == 3e-3    # no warm-up: constant


# -- checkpoints ----------------------------------------------------------------------------

def test_checkpoint_round_trip_without_pickle(tmp_path):
    trainer = Trainer(TrainConfig(task="sort", steps=3, **TINY), command=["tutor", "train"])
    for _ in range(3):
        trainer.train_step()
    ckpt = trainer.checkpoint()
    path = tmp_path / "c.npz"
    save_checkpoint(path, ckpt)
    assert os.listdir(tmp_path) == ["c.npz"]                           # no temporary file left
    with np.load(path, allow_pickle=False) as archive:                 # plain arrays only
        names = sorted(archive.files)
        meta = json.loads(str(archive["meta.json"]))
    assert names == sorted(["meta.json", "optim/step"]
                           + [f"history/{k}" for k in ckpt.history]
                           + [f"param/{k}" for k in ckpt.params]
                           + [f"optim/{kind}.{k}" for k in ckpt.params
                              for kind in ("exp_avg", "exp_avg_sq")])
    assert meta["command"] == ["tutor", "train"] and meta["step"] == 3 and meta["resumable"]
    back = load_checkpoint(path)
    for name, value in ckpt.params.items():
        assert back.params[name].dtype == np.float32
        assert np.array_equal(back.params[name], value)
    assert back.optimizer["step"].dtype == np.int64 and int(back.optimizer["step"]) == 3
    assert (back.config, back.step, back.command) == (ckpt.config, 3, ["tutor", "train"])
    restored = rng_from_state(back.rng_state)
    assert np.array_equal(restored.integers(0, 10**9, size=5),
                          trainer.rng.integers(0, 10**9, size=5))


def test_weights_only_checkpoint_cannot_resume(tmp_path):
    ckpt = Trainer(TrainConfig(task="sort", steps=3, **TINY)).checkpoint()
    save_checkpoint(tmp_path / "w.npz", ckpt, weights_only=True)
    back = load_checkpoint(tmp_path / "w.npz")
    assert not back.resumable and back.optimizer is None


@pytest.mark.parametrize("content, message", [
    (b"not a zip", "not an .npz file"),
    (None, "not a tutor checkpoint"),
])
def test_bad_checkpoint_files_are_named(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    if content is None:
        np.savez(path, x=np.zeros(2))
    else:
        path.write_bytes(content)
    with pytest.raises(TutorError, match=message):
        load_checkpoint(path)


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(TutorError, match="no such file"):
        load_checkpoint(tmp_path / "none.npz")


# -- the loop -------------------------------------------------------------------------------

def _assert_same_state(a: Checkpoint, b: Checkpoint):
    assert a.step == b.step
    assert a.params.keys() == b.params.keys()
    for name in a.params:                                              # bit for bit
        assert a.params[name].dtype == b.params[name].dtype
        assert a.params[name].tobytes() == b.params[name].tobytes(), name
    for name in a.optimizer:
        assert np.asarray(a.optimizer[name]).tobytes() == np.asarray(b.optimizer[name]).tobytes()
    assert a.rng_state == b.rng_state
    for name in a.history:
        assert a.history[name].tobytes() == b.history[name].tobytes(), name
    assert (a.best_step, a.best_accuracy) == (b.best_step, b.best_accuracy)
    assert (a.last_params is None) == (b.last_params is None)
    for name in a.last_params or {}:
        assert a.last_params[name].tobytes() == b.last_params[name].tobytes(), name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resume_is_bit_identical(tmp_path, dtype):
    full = train(TrainConfig(steps=20, dtype=dtype, **TINY))
    half_path = tmp_path / "half.npz"
    first = train(TrainConfig(steps=10, dtype=dtype, **TINY), checkpoint_path=half_path)
    assert first.checkpoint.step == 10
    resumed = train(TrainConfig(steps=20, dtype=dtype, **TINY),
                    resume=load_checkpoint(half_path))
    _assert_same_state(full.checkpoint, resumed.checkpoint)
    assert full.accuracy == resumed.accuracy
    assert full.checkpoint.params["generator.bias"].dtype == np.dtype(dtype)


def test_stopping_early_writes_a_checkpoint_that_resumes(tmp_path):
    path = tmp_path / "run.npz"
    config = TrainConfig(steps=16, **{**TINY, "checkpoint_every": 100})
    asked = []

    def should_stop():
        asked.append(1)
        return len(asked) > 7                                          # after 7 steps

    stopped = train(config, checkpoint_path=path, should_stop=should_stop)
    assert stopped.interrupted and stopped.checkpoint.step == 7
    on_disk = load_checkpoint(path)
    assert on_disk.step == 7 and on_disk.history["loss"].size == 7
    resumed = train(config, resume=on_disk)
    _assert_same_state(train(config).checkpoint, resumed.checkpoint)


def _scripted_accuracy(monkeypatch, by_step):
    """Trainer.evaluate answers ``by_step[step]``, and the weights it saw are kept by step."""
    seen = {}

    def evaluate(self):
        seen[self.step] = {k: v.copy() for k, v in self.params.items()}
        return by_step[self.step]

    monkeypatch.setattr(Trainer, "evaluate", evaluate)
    return seen


def test_a_run_keeps_its_best_evaluated_weights(tmp_path, monkeypatch):
    """A run that passes 90% and ends at 60% (a loss spike near the end) keeps the weights of
    its best evaluation, the latest of equals (step 20), and says which; the last step's
    stay in the checkpoint to resume from."""
    seen = _scripted_accuracy(monkeypatch, {5: 0.5, 10: 0.9, 15: 0.7, 20: 0.9, 25: 0.6})
    path = tmp_path / "run.npz"
    result = train(TrainConfig(steps=25, **TINY), checkpoint_path=path)
    assert (result.accuracy, result.last_accuracy, result.kept_step) == (0.9, 0.6, 20)
    on_disk = load_checkpoint(path)
    assert (on_disk.best_step, on_disk.best_accuracy, on_disk.step) == (20, 0.9, 25)
    for name, value in seen[20].items():
        assert on_disk.params[name].tobytes() == value.tobytes(), name          # kept: step 20
        assert on_disk.last_params[name].tobytes() == seen[25][name].tobytes()  # last: step 25
    assert not np.array_equal(on_disk.params["generator.weight"],
                              on_disk.last_params["generator.weight"])
    # a weights-only file holds the kept weights alone
    save_checkpoint(tmp_path / "light.npz", on_disk, weights_only=True)
    light = load_checkpoint(tmp_path / "light.npz")
    assert light.last_params is None and light.best_step == 20
    assert light.params["generator.weight"].tobytes() == seen[20]["generator.weight"].tobytes()


def test_keeping_the_best_weights_resumes_bit_for_bit(tmp_path, monkeypatch):
    """Stopped between the best evaluation and the end, the run goes on from the last step's
    weights (not the kept ones) and ends as the uninterrupted run does."""
    _scripted_accuracy(monkeypatch, {5: 0.5, 10: 0.9, 15: 0.7, 20: 0.8, 25: 0.6})
    config = TrainConfig(steps=25, **TINY)
    whole = train(config)
    path = tmp_path / "half.npz"
    asked = []
    half = train(config, checkpoint_path=path,
                 should_stop=lambda: asked.append(1) or len(asked) > 17)
    assert half.interrupted and half.checkpoint.step == 17 and half.checkpoint.best_step == 10
    resumed = train(config, resume=load_checkpoint(path))
    _assert_same_state(whole.checkpoint, resumed.checkpoint)
    assert resumed.accuracy == whole.accuracy == 0.9 and resumed.kept_step == 10


@pytest.mark.parametrize("where", ["loss_and_grads", "evaluate"])
def test_a_step_abandoned_by_stop_now_keeps_nothing_and_resumes_bit_for_bit(tmp_path,
                                                                         monkeypatch, where):
    """Ctrl-C's StopNow in the middle of step 10's forward/backward pass (or of its
    evaluation) ends the run at once: the step is not applied (its batch not drawn), or the
    step stays and its evaluation comes first on resuming; either way the resumed run ends as
    the uninterrupted one, history and kept weights included."""
    config = TrainConfig(steps=20, **{**TINY, "checkpoint_every": 100})
    whole = train(config)
    target = Seq2Seq if where == "loss_and_grads" else Trainer
    original = getattr(target, where)
    trainers, fired = [], []

    def interrupted(self, *args, **kwargs):
        trainer = self if isinstance(self, Trainer) else trainers[-1]
        if trainer.step + (where == "loss_and_grads") == 10 and not fired:
            fired.append(1)
            assert trainer.abortable                        # the handler may raise now
            raise StopNow
        return original(self, *args, **kwargs)

    original_init = Trainer.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        trainers.append(self)

    monkeypatch.setattr(Trainer, "__init__", init)
    monkeypatch.setattr(target, where, interrupted)
    path = tmp_path / "run.npz"
    stopped = train(config, checkpoint_path=path)
    assert stopped.interrupted and not trainers[-1].abortable
    on_disk = load_checkpoint(path)
    assert on_disk.step == (9 if where == "loss_and_grads" else 10)
    assert on_disk.history["eval_step"].tolist() == [5]                # step 10's: not yet
    resumed = train(config, resume=on_disk)
    _assert_same_state(whole.checkpoint, resumed.checkpoint)


def test_seconds_add_up_over_resumed_runs(tmp_path):
    config = TrainConfig(steps=10, **TINY)
    path = tmp_path / "half.npz"
    asked = []
    first = train(config, checkpoint_path=path, should_stop=lambda: asked.append(1) or len(asked) > 5)
    saved = load_checkpoint(path)
    assert saved.seconds == pytest.approx(first.elapsed, abs=0.05) and saved.seconds > 0
    second = train(config, resume=saved)
    assert second.total_seconds == pytest.approx(saved.seconds + second.elapsed, abs=0.05)
    assert second.total_seconds > second.elapsed


def test_progress_callback_reports_every_step():
    seen = []
    train(TrainConfig(steps=10, **TINY), callback=seen.append)
    assert [p.step for p in seen] == list(range(1, 11))
    assert [p.evaluated for p in seen] == [i % 5 == 0 for i in range(1, 11)]
    assert seen[0].accuracy is None and 0 <= seen[-1].accuracy <= 1
    assert all(p.loss > 0 and p.tokens_per_second > 0 and p.total_steps == 10 for p in seen)
    assert seen[-1].seconds_left == 0


def test_loss_falls():
    result = train(TrainConfig(steps=60, **TINY))
    losses = result.losses
    assert losses.shape == (60,)
    assert losses[-10:].mean() < 0.9 * losses[:10].mean()
    assert losses[-10:].mean() < math.log(tasks.VOCAB_SIZE)             # better than uniform


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    original = Seq2Seq.loss_and_grads
    calls = []

    def poisoned(self, *args, **kwargs):
        calls.append(1)
        loss, grads = original(self, *args, **kwargs)
        return (np.float32(np.nan) if len(calls) == 8 else loss), grads

    monkeypatch.setattr(Seq2Seq, "loss_and_grads", poisoned)
    with pytest.raises(TrainingDiverged, match=r"the loss became nan at step 8; the last good "
                                               r"checkpoint, .*run\.npz, is at step 5"):
        train(TrainConfig(steps=20, **TINY), checkpoint_path=path)
    kept = load_checkpoint(path)
    assert kept.step == 5 and np.isfinite(kept.history["loss"]).all()


def test_resuming_a_weights_only_file_is_refused(tmp_path):
    result = train(TrainConfig(steps=2, **TINY))
    save_checkpoint(tmp_path / "w.npz", result.checkpoint, weights_only=True)
    with pytest.raises(TutorError, match="weights only"):
        Trainer(TrainConfig(steps=4, **TINY), resume=load_checkpoint(tmp_path / "w.npz"))


@pytest.mark.parametrize("values, message", [
    ({"task": "add"}, "task must be one of"),
    ({"steps": 0}, r"steps must be in \[1, 1,000,000\], got 0"),
    ({"lr": -1.0}, r"lr must be in \(0, 1\], got -1.0"),
    ({"num_layers": 2.0}, "num_layers must be a whole number, got 2.0"),
    ({"batch_size": 10**9}, r"batch_size must be in \[1, 1,024\], got 1000000000"),
    ({"eval_size": 10**9}, r"eval_size must be in \[1, 10,000\], got 1000000000"),
    ({"beta1": 5}, r"beta1 must be in \[0, 1\), got 5"),
    ({"norm_first": 1}, "norm_first must be true or false, got 1"),
    ({"d_model": 6, "nhead": 4}, "nhead=4 must divide d_model=6"),
    ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\)"),
])
def test_bad_settings_are_named(values, message):
    with pytest.raises(TutorError, match=message):
        TrainConfig(**values)


# -- attention without 1/sqrt(d_k) -----------------------------------------------------------

def test_scaled_attention_on_scaled_queries_is_unscaled_attention():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(3, 2, 5, 16))
    unscaled, _ = scaled_dot_product_attention(q, k, v, scale=1.0)
    reparametrised, _ = scaled_dot_product_attention(q * math.sqrt(16), k, v)
    np.testing.assert_allclose(reparametrised, unscaled, rtol=1e-12, atol=1e-12)


def test_unscaled_gradients_match_finite_differences():
    config = TrainConfig(dtype="float64", unscaled_attention=True, **TINY)
    trainer = Trainer(config)
    src, tgt = tasks.training_batch("reverse", np.random.default_rng(0), 4)

    def loss_at(params):
        return float(Seq2Seq(effective_params(params, config), config.model_config())
                     .loss_and_grads(src, tgt, pad_id=0)[0])

    params = trainer.params
    loss, grads = trainer.model().loss_and_grads(src, tgt, pad_id=0)
    grads = trained_grads(grads, config)
    for name, index in (("transformer.encoder.layers.0.self_attn.in_proj_weight", (1, 3)),
                        ("transformer.decoder.layers.0.multihead_attn.in_proj_bias", (2,)),
                        ("transformer.decoder.layers.0.self_attn.in_proj_weight", (9, 0))):
        h = 1e-6
        plus = {k: v.copy() for k, v in params.items()}
        minus = {k: v.copy() for k, v in params.items()}
        plus[name][index] += h
        minus[name][index] -= h
        numeric = (loss_at(plus) - loss_at(minus)) / (2 * h)
        assert grads[name][index] == pytest.approx(numeric, rel=1e-5, abs=1e-9), name


def test_training_imports_neither_rich_nor_click():
    import subprocess
    import sys

    code = ("import sys, tutor.training.loop, tutor.training.scaling_training, tutor.training.shipped; "
            "print(sorted(m for m in ('rich', 'click', 'plotext') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "[]"


def test_package_exports_resolve():
    import tutor.training as training

    for name in training.__all__:
        assert getattr(training, name) is not None, name


def test_resuming_with_other_settings_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    train(TrainConfig(steps=2, **TINY), checkpoint_path=path)
    with pytest.raises(TutorError, match="the checkpoint was trained with lr=0.005; a resumed "
                                         "run keeps it, got lr=0.001"):
        Trainer(TrainConfig(steps=4, **{**TINY, "lr": 1e-3}), resume=load_checkpoint(path))
    Trainer(TrainConfig(steps=4, **{**TINY, "eval_size": 7}), resume=load_checkpoint(path))


def test_infinite_gradient_stops_before_the_update(monkeypatch):
    original = Seq2Seq.loss_and_grads

    def poisoned(self, *args, **kwargs):
        loss, grads = original(self, *args, **kwargs)
        grads["generator.bias"][0] = np.inf
        return loss, grads

    trainer = Trainer(TrainConfig(steps=3, **TINY))
    before = {k: v.copy() for k, v in trainer.params.items()}
    monkeypatch.setattr(Seq2Seq, "loss_and_grads", poisoned)
    with pytest.raises(TrainingDiverged, match="the gradient of generator.bias became NaN or "
                                               "infinite at step 1"):
        trainer.train_step()
    assert all(np.array_equal(before[k], trainer.params[k]) for k in before)


def test_blas_threads_sets_and_restores():
    from tutor.training.threads import _functions, blas_threads

    functions = _functions()
    if functions is None:
        pytest.skip("NumPy's BLAS here is not OpenBLAS")
    get, _ = functions
    before = get()
    with blas_threads(1):
        assert get() == 1
    assert get() == before


# -- every field of a checkpoint is checked on load, naming the file and the field ------------

def _rewritten(tmp_path, change, name="bad.npz"):
    """A real resumable checkpoint whose arrays and meta.json ``change(arrays, meta)`` edited."""
    trainer = Trainer(TrainConfig(task="sort", steps=2, **TINY))
    trainer.train_step()
    good = tmp_path / "good.npz"
    save_checkpoint(good, trainer.checkpoint())
    with np.load(good, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays["meta.json"]))
    change(arrays, meta)
    arrays["meta.json"] = np.array(json.dumps(meta))
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def _set_config(**values):
    return lambda arrays, meta: meta["config"].update(values)


@pytest.mark.parametrize("change, message", [
    (_set_config(batch_size=10**9), r"batch_size must be in \[1, 1,024\], got 1000000000"),
    (_set_config(eval_size=10**9), r"eval_size must be in \[1, 10,000\], got 1000000000"),
    (_set_config(num_layers=1.0), "num_layers must be a whole number, got 1.0"),
    (_set_config(beta1=5), r"beta1 must be in \[0, 1\), got 5"),
    (_set_config(d_model="8"), "d_model must be a whole number, got '8'"),
    (lambda a, m: m.update(step=-5), "step must be 0 to 1,000,000, got -5"),
    (lambda a, m: m.update(step=True), "no valid 'step'"),
    (lambda a, m: m.update(optimizer={"value": 5}), "optimizer state in meta.json does not fit"),
    (lambda a, m: m.update(optimizer=5), "optimizer or RNG state is missing"),
    (lambda a, m: m["rng"].update(state=5), "random state is not a PCG64 state"),
    (lambda a, m: m["rng"]["state"].update(inc=-1), "random state is not a PCG64 state"),
    (lambda a, m: m["rng"].update(bit_generator="MT19937"), "expected a PCG64 random state"),
    (lambda a, m: m.update(command=[1, 2]), "command must be at most 200 strings"),
    (lambda a, m: a.update({"param/generator.bias": np.zeros(3, np.float32)}),
     r"parameter 'generator.bias' is float32\[3\], expected float32\[\d+\]"),
    (lambda a, m: a.update({"param/generator.bias": a["param/generator.bias"] * np.nan}),
     "'generator.bias' holds NaN"),
    (lambda a, m: a.pop("param/generator.bias"), "missing 'generator.bias'"),
    (lambda a, m: a.update({"optim/step": np.float64(1.5)}),
     "optimizer state in meta.json does not fit"),
    (lambda a, m: a.update({"history/loss": np.zeros((2, 2))}), "history/loss must be"),
    (lambda a, m: a.update({"history/loss": np.full(1, np.nan)}),
     "history/loss must hold finite losses >= 0 .* nan at index 0"),
    (lambda a, m: a.update({"history/loss": np.array([-0.5])}), "history/loss must hold"),
    (lambda a, m: a.update({"history/eval_step": np.array([1]),
                            "history/eval_accuracy": np.array([5.0])}),
     "history/eval_accuracy must hold accuracies from 0 to 1; it holds 5.0"),
    (lambda a, m: a.update({"history/eval_step": np.array([1]),
                            "history/eval_accuracy": np.array([np.nan])}),
     "history/eval_accuracy must hold accuracies"),
    (lambda a, m: a.update({"history/eval_step": np.array([100]),
                            "history/eval_accuracy": np.array([0.5])}),
     "history/eval_step must hold steps from 0 to the checkpoint's step 1; it holds 100"),
    (lambda a, m: a.update({"history/eval_step": np.array([1, 0]),
                            "history/eval_accuracy": np.array([0.5, 0.5])}),
     "history/eval_step must be increasing"),
    (lambda a, m: a.update({"optim/exp_avg_sq.generator.bias":
                            -np.abs(a["optim/exp_avg_sq.generator.bias"]) - 1}),
     "optim/exp_avg_sq.generator.bias holds negative values"),
    (lambda a, m: a.update({"optim/exp_avg.generator.bias":
                            a["optim/exp_avg.generator.bias"] * np.inf}),
     "optim/exp_avg.generator.bias holds NaN or infinite values"),
])
def test_every_checkpoint_field_is_checked_on_load(tmp_path, change, message):
    path = _rewritten(tmp_path, change)
    with pytest.raises(TutorError, match=message) as caught:
        load_checkpoint(path)
    assert str(caught.value).startswith(f"{path}: ")                  # the file, then the field


def test_checkpoint_meta_nested_too_deeply_is_refused(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    path = _rewritten(tmp_path, lambda a, m: None)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["meta.json"] = np.array('{"format": "tutor-checkpoint", "x": ' + deep + "}")
    np.savez(path, **arrays)
    with pytest.raises(TutorError, match=r"bad.npz: meta.json: nested more than 100 levels"):
        load_checkpoint(path)
