"""`tutor train`: JSON figures, the recorded command, --resume bit for bit, Ctrl-C, errors,
the loss curve."""

import os
import re
import signal

import numpy as np
import pytest

from cli_helpers import invoke, invoke_json
from tutor.render.curves import loss_curve
from tutor.training.checkpoint import load_checkpoint
from tutor.training.loop import Trainer

SMALL = ["--dim", "8", "--heads", "2", "--layers", "1", "--ff", "16", "--batch-size", "8",
         "--warmup", "5"]


def test_json_gives_the_curve_and_final_figures(tmp_path):
    out = str(tmp_path / "m.npz")
    doc = invoke_json("train", "--task", "copy", "--steps", "12", "--seed", "3", "--output", out,
                      *SMALL)
    assert doc["task"] == "copy" and doc["steps"] == 12 and doc["seed"] == 3
    assert doc["curve"]["step"] == list(range(1, 13)) and len(doc["curve"]["loss"]) == 12
    assert doc["final_loss"] == doc["curve"]["loss"][-1]
    assert doc["evaluations"]["step"] == [12]
    assert doc["held_out_accuracy"] == doc["evaluations"]["accuracy"][-1]
    assert doc["command"] == ["tutor", "train", "--task", "copy", "--steps", "12", "--seed", "3",
                              "--output", out, "--batch-size", "8", "--warmup", "5", "--dim",
                              "8", "--heads", "2", "--layers", "1", "--ff", "16", "--format",
                              "json"]
    saved = load_checkpoint(out)
    assert saved.resumable and saved.step == 12 and saved.command == doc["command"]
    assert saved.config["d_model"] == 8 and saved.config["task"] == "copy"


def test_resume_continues_bit_for_bit(tmp_path):
    whole, half = str(tmp_path / "whole.npz"), str(tmp_path / "half.npz")
    invoke_json("train", "--steps", "16", "--output", whole, *SMALL)
    invoke_json("train", "--steps", "8", "--output", half, *SMALL)
    doc = invoke_json("train", "--resume", half, "--steps", "16")
    assert doc["steps"] == 16 and len(doc["curve"]["loss"]) == 16
    a, b = load_checkpoint(whole), load_checkpoint(half)
    assert b.step == 16
    for name in a.params:
        assert a.params[name].tobytes() == b.params[name].tobytes(), name
    assert a.history["loss"].tobytes() == b.history["loss"].tobytes()


def test_resume_records_the_whole_run_and_its_time(tmp_path):
    """A resumed run records the original command (its --task and every setting) with the new
    --steps, the one command that makes the same weights, and reports the time of every run."""
    half = str(tmp_path / "half.npz")
    first = invoke_json("train", "--task", "sort", "--steps", "8", "--output", half, *SMALL)
    doc = invoke_json("train", "--resume", half, "--steps", "16")
    expected = list(first["command"])
    expected[expected.index("--steps") + 1] = "16"
    assert doc["command"] == expected and load_checkpoint(half).command == expected
    assert doc["command"][doc["command"].index("--task") + 1] == "sort"      # was lost
    assert doc["seconds"] == pytest.approx(first["seconds"] + doc["seconds_this_run"], abs=0.01)
    assert doc["seconds"] > doc["seconds_this_run"]
    # without --steps in the first command, it is added; --output given now replaces the old
    other = str(tmp_path / "other.npz")
    invoke_json("train", "--steps", "4", "--output", other, "--dim", "8", "--heads", "2",
                "--layers", "1", "--ff", "16", "--batch-size", "8")
    moved = str(tmp_path / "moved.npz")
    doc = invoke_json("train", "--resume", other, "--steps", "6", "--output", moved)
    assert doc["command"][:4] == ["tutor", "train", "--steps", "6"]
    assert doc["command"][doc["command"].index("--output") + 1] == moved


def test_the_screen_says_the_time_of_every_run_and_which_weights_were_kept(tmp_path,
                                                                           monkeypatch):
    scripted = {100: 0.5, 150: 0.6, 200: 0.995, 300: 0.948}   # passed 99%, fell at a spike
    monkeypatch.setattr(Trainer, "evaluate", lambda self: scripted[self.step])
    half = str(tmp_path / "half.npz")
    invoke_json("train", "--steps", "150", "--output", half, *SMALL)
    result = invoke("train", "--resume", half, "--steps", "300", "--format", "plain")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert re.search(r"time: \d+:\d\d \(\d+:\d\d in this run\)", text), text
    assert ("Held-out exact-sequence accuracy: 99.5% of 500 sequences never seen in training "
            "(greedy decoding); the weights kept are step 200's, the best evaluated (the last "
            "step's scored 94.8%)") in text
    assert load_checkpoint(half).best_step == 200


def test_weights_only_output_is_small_and_loads(tmp_path):
    full, light = str(tmp_path / "full.npz"), str(tmp_path / "light.npz")
    invoke_json("train", "--steps", "3", "--output", full, *SMALL)
    invoke_json("train", "--steps", "3", "--output", light, "--weights-only", *SMALL)
    assert os.path.getsize(light) < 0.6 * os.path.getsize(full)
    assert not load_checkpoint(light).resumable
    assert _error(["train", "--resume", light, "--steps", "6"], 2) == (
        f"Error: Invalid value for '--resume': {light}: the file holds weights only (written with --weights-only), "
        f"so training cannot go on from it")


def test_plain_output_shows_progress_curve_and_accuracy(tmp_path):
    result = invoke("train", "--steps", "10", "--output", str(tmp_path / "m.npz"),
                    "--format", "plain", *SMALL)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("step 10/10  loss ")
    assert "training loss (log scale)" in result.output
    assert "Held-out exact-sequence accuracy: " in result.output
    assert f"Saved in {tmp_path / 'm.npz'}" in result.output


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_go_on(tmp_path, monkeypatch):
    out = str(tmp_path / "m.npz")
    original = Trainer.train_step

    def step_then_interrupt(self):
        result = original(self)
        if self.step == 4:
            os.kill(os.getpid(), signal.SIGINT)                        # as Ctrl-C does
        return result

    monkeypatch.setattr(Trainer, "train_step", step_then_interrupt)
    result = invoke("train", "--steps", "10", "--output", out, "--format", "json", *SMALL)
    assert result.exit_code == 130
    said, rest = result.output.split("Stopped at", 1)                 # a word at once, then
    assert " ".join(said.split()) == (f"Interrupted: saving the checkpoint in {out} (Ctrl-C "
                                      f"again to quit without it)")
    rest = "Stopped at" + rest
    message, command = rest.rstrip("\n").rsplit("\n", 1)
    assert " ".join(message.split()) == f"Stopped at step 4 of 10; the checkpoint is in {out}. " \
                                        f"Go on with:"                  # wrapped between words
    assert all(len(line) <= 80 or out in line for line in message.splitlines())
    assert command == f"  tutor train --resume {out} --steps 10"        # on its own line
    assert load_checkpoint(out).step == 4


def test_ctrl_c_in_a_long_step_is_answered_at_once(tmp_path, monkeypatch):
    """Ctrl-C during a step's forward/backward pass (many seconds at the largest settings)
    abandons it: the run stops before the step ends, with the previous step's checkpoint."""
    import time

    from tutor.nn.model import Seq2Seq

    out = str(tmp_path / "m.npz")
    original = Seq2Seq.loss_and_grads
    calls = []

    def slow_step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            os.kill(os.getpid(), signal.SIGINT)                        # as Ctrl-C does
            time.sleep(30)                                             # a long step
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Seq2Seq, "loss_and_grads", slow_step)
    start = time.perf_counter()
    result = invoke("train", "--steps", "10", "--output", out, "--format", "plain", *SMALL)
    assert time.perf_counter() - start < 10
    assert result.exit_code == 130, result.output
    assert "Interrupted: saving the checkpoint in" in " ".join(result.output.split())
    assert load_checkpoint(out).step == 4


def test_default_output_is_named_after_the_task(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    invoke_json("train", "--task", "sort", "--steps", "2", *SMALL)
    assert load_checkpoint(tmp_path / "sort.npz").config["task"] == "sort"


@pytest.mark.parametrize("args, option", [
    (["--dim", "6", "--heads", "4"], "--heads"),
    (["--steps", "0"], "--steps"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--heads", "3"], "--heads"),                  # the default --dim 32
    (["--task", "add"], "--task"),
])
def test_bad_options_are_usage_errors(tmp_path, args, option):
    result = invoke("train", "--output", str(tmp_path / "m.npz"), *args)
    assert result.exit_code == 2
    assert option in result.output


def _numeric_train_options():
    import click

    from tutor.cli.train import train
    return [p.opts[0] for p in train.params if isinstance(p, click.Option) and not p.is_flag
            and p.name not in ("output_path", "resume_path", "task", "fmt", "svg_path",
                               "html_path")
            and (isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType))
                 or p.type in (click.INT, click.FLOAT))]


def test_every_numeric_train_option_is_covered():
    assert set(_numeric_train_options()) >= {"--steps", "--seed", "--batch-size", "--lr",
                                             "--warmup", "--label-smoothing", "--dim",
                                             "--heads", "--layers", "--ff"}


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e30", "-0.5"])
@pytest.mark.parametrize("option", _numeric_train_options())
def test_every_numeric_train_option_refuses_nan_inf_and_out_of_range_by_name(
        tmp_path, option, value):
    # --label-smoothing nan once passed click's FloatRange (nan compares False) and failed
    # later as "label_smoothing must be in [0, 1)", exit 1, without the option's name
    result = invoke("train", "--output", str(tmp_path / "m.npz"), "--steps", "1", *SMALL,
                    option, value)
    assert result.exit_code == 2, (option, value, result.output)
    assert f"'{option}'" in result.output and "Traceback" not in result.output


def test_resume_refuses_new_model_settings(tmp_path):
    out = str(tmp_path / "m.npz")
    invoke_json("train", "--steps", "2", "--output", out, *SMALL)
    result = invoke("train", "--resume", out, "--dim", "16")
    assert result.exit_code == 2
    assert "expected no --dim with --resume" in result.output
    result = invoke("train", "--resume", out, "--steps", "1")
    assert result.exit_code == 2 and "expected at least the checkpoint's step 2" in result.output


def test_resume_of_a_missing_or_foreign_file_is_one_line(tmp_path):
    missing = str(tmp_path / "none.npz")
    assert _error(["train", "--resume", missing], 2) == (
        f"Error: Invalid value for '--resume': {missing}: no such file")
    foreign = tmp_path / "weights.npz"
    np.savez(foreign, w=np.zeros(3))
    assert _error(["train", "--resume", str(foreign)], 2) == (
        f"Error: Invalid value for '--resume': {foreign}: not a tutor checkpoint "
        f"(no meta.json entry)")


def test_diverging_loss_is_one_line_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    from tutor.nn.model import Seq2Seq

    out = str(tmp_path / "m.npz")
    original = Seq2Seq.loss_and_grads

    def poisoned(self, src, tgt, **kwargs):
        loss, grads = original(self, src, tgt, **kwargs)
        return (np.float32(np.inf) if poisoned.calls == 3 else loss), grads

    def counting(self, *args, **kwargs):
        poisoned.calls += 1
        return poisoned(self, *args, **kwargs)

    poisoned.calls = 0
    invoke_json("train", "--steps", "2", "--output", out, *SMALL)
    monkeypatch.setattr(Seq2Seq, "loss_and_grads", counting)
    assert _error(["train", "--resume", out, "--steps", "6"], 1) == (
        f"Error: the loss became inf at step 5; the last good checkpoint, {out}, is at step 2. "
        f"Lower --lr or raise --warmup")                               # 3rd step of the resumed run
    assert load_checkpoint(out).step == 2


def _error(argv, code):
    import io
    import contextlib

    from tutor.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == code
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_loss_curve_text():
    assert loss_curve([10.0, 1.0, 0.1, 0.01] * 5, width=20, height=3) == [
        " 10.0000 ┤█   █   █   █   █   ",
        "         │██  ██  ██  ██  ██  ",
        "  0.0100 ┤███▁███▁███▁███▁███▁",
        "         └────────────────────",
        "          step 1       step 20",
    ]
    assert loss_curve([]) == ["(no loss to plot)"]
    # more steps than columns: each column is a mean, and the chart says of how many steps
    rows = loss_curve([10.0, 1.0, 0.1, 0.01] * 25, width=20, height=3)
    assert rows[-2] == "          step 1      step 100"
    assert rows[-1] == "          a column: the mean loss of 5 steps"
    assert rows[0].startswith("  4.2220 ┤")            # the top label: (10+1+0.1+0.01+10) / 5
    assert loss_curve([1.0] * 1500)[-1].strip() == "a column: the mean loss of 25 steps"
    assert loss_curve([1.0] * 1000)[-1].strip() == "a column: the mean loss of 16-17 steps"


def test_help_states_the_library_defaults():
    from tutor.training.loop import TrainConfig

    text = " ".join(invoke("train", "--help").output.split())
    defaults = TrainConfig()
    for option, value in (("--steps N", defaults.steps), ("--seed S", defaults.seed),
                          ("--batch-size B", defaults.batch_size), ("--lr LR", defaults.lr),
                          ("--warmup N", defaults.warmup), ("--dim D", defaults.d_model),
                          ("--heads H", defaults.nhead), ("--layers N", defaults.num_layers),
                          ("--ff F", defaults.dim_feedforward),
                          ("--label-smoothing E", 0)):
        assert re.search(re.escape(option) + r"[^\[]*\[default: " + re.escape(str(value)) + r"\]",
                         text), option
    assert defaults.task == "reverse" and "[default: reverse]" in text


def test_unwritable_output_folder_is_a_usage_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        result = invoke("train", "--output", str(folder / "m.npz"), *SMALL)
        assert result.exit_code == 2
        assert "expected a file in a folder you can write to" in result.output
    finally:
        folder.chmod(0o700)


def test_a_failed_write_names_the_output(tmp_path, monkeypatch):
    import tutor.training.loop as loop

    def no_space(path, checkpoint, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(loop, "save_checkpoint", no_space)
    out = str(tmp_path / "m.npz")
    assert _error(["train", "--steps", "2", "--output", out, *SMALL], 1) == (
        f"Error: --output {out}: cannot write it (No space left on device)")


def test_output_never_replaces_a_file_silently(tmp_path, monkeypatch):
    """--output ends in .npz; an existing file is replaced only when it is the checkpoint
    being resumed or with --force, whatever it holds (a matrix, text, an earlier run)."""
    matrix = tmp_path / "ok.npy"
    np.save(matrix, np.eye(4))
    result = invoke("train", "--steps", "2", "--output", str(matrix), *SMALL)
    assert result.exit_code == 2
    assert "Invalid value for '--output': expected a file name ending in .npz" in result.output
    assert np.array_equal(np.load(matrix), np.eye(4))
    text = tmp_path / "notes.npz"
    text.write_text("my notes")
    result = invoke("train", "--steps", "2", "--output", str(text), *SMALL)
    assert result.exit_code == 2 and "is not a tutor checkpoint; give --force" in result.output
    assert text.read_text() == "my notes"
    monkeypatch.chdir(tmp_path)                     # the default TASK.npz of an earlier run
    invoke_json("train", "--steps", "2", *SMALL)
    before = (tmp_path / "reverse.npz").read_bytes()
    result = invoke("train", "--steps", "3", *SMALL)
    assert result.exit_code == 2
    assert "a checkpoint of another run; --resume it" in result.output
    assert (tmp_path / "reverse.npz").read_bytes() == before
    invoke_json("train", "--resume", "reverse.npz", "--steps", "3")        # its own file: fine
    assert load_checkpoint(tmp_path / "reverse.npz").step == 3
    invoke_json("train", "--steps", "2", "--output", str(text), "--force", *SMALL)
    assert load_checkpoint(text).step == 2
    help_text = " ".join(invoke("train", "--help").output.split())
    assert "a name ending in .npz, and not a file that exists, unless it is the --resume " \
           "file or --force is given" in help_text


def test_json_gives_the_loss_the_screen_prints(tmp_path):
    """The screen prints the mean loss of the last 50 steps; JSON gives it too (a review found
    JSON's final_loss, the last step's, differing from the screen's figure)."""
    import numpy as np
    out = tmp_path / "m.npz"
    doc = invoke_json("train", "--task", "copy", "--steps", "60", "--output", str(out))
    losses = np.array(doc["curve"]["loss"])
    assert doc["final_loss"] == losses[-1]
    assert abs(doc["mean_loss_last_50"] - losses[-50:].mean()) < 1e-12


def test_a_fifo_as_resume_is_refused_not_waited_on(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(tmp_path / "run.npz")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "tutor", "train", "--resume",
                           str(tmp_path / "run.npz")], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=str(root)))
    assert done.returncode == 2
    assert "is a named pipe (FIFO), expected an .npz file (a regular file)" in done.stderr
