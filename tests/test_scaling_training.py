"""`tutor scaling --train`: the walkthrough records the experiment's curves and figures as the
training library measured them, the document says what was measured, JSON gives the curves,
the progress bar follows the runs, and bad options are one-line usage errors."""

import io

import numpy as np
import pytest

from cli_helpers import for_command

run, run_json = for_command("scaling")
SMALL = ["--train", "--dk", "8", "16", "--dim", "16", "--steps", "25"]


@pytest.fixture(scope="module")
def recording():
    from tutor.walkthroughs.scaling_training import scaling_training
    return scaling_training([8, 16], d_model=16, steps=25, seed=0)


def test_the_recording_is_what_the_library_measured(recording):
    t, runs = recording.trace, recording.output
    assert [(r.d_k, r.scaled) for r in runs] == [(8, True), (8, False), (16, True), (16, False)]
    assert recording.info["labels"] == ["dk 8 ÷√dk", "dk 8 no ÷", "dk 16 ÷√dk", "dk 16 no ÷"]
    for i, r in enumerate(runs):
        name = f"dk{r.d_k}.{'scaled' if r.scaled else 'unscaled'}"
        np.testing.assert_array_equal(t[f"{name}.loss"], r.losses)
        assert t[f"{name}.loss"].shape == (25,)
        assert float(t[f"{name}.final_loss"]) == pytest.approx(r.losses[-20:].mean(), rel=1e-15)
        assert float(t[f"{name}.accuracy"]) == r.accuracy
        np.testing.assert_array_equal(t["table"][i, [0, 1, 3, 4]],
                                      [r.nhead, r.initial_max_weight, r.final_loss(20), r.accuracy])
        # the drawn curve: 25 columns of one step each; the table: 20-step means at the marks
        np.testing.assert_allclose(t["curves"][i], r.losses, rtol=1e-15)
        for j, mark in enumerate(recording.info["marks"]):
            np.testing.assert_allclose(t["checkpoints"][i, j],
                                       r.losses[max(0, mark - 20):mark].mean(), rtol=1e-14)
    assert recording.info["marks"][-1] == 25
    ratio = float(t["dk16.unscaled.final_loss"]) / float(t["dk16.scaled.final_loss"])
    assert recording.info["ratios"][16] == pytest.approx(ratio, rel=1e-12)


def test_a_pair_starts_from_the_same_weights_and_batches(recording):
    """Same seed, same batches: at step 1 the two runs of a pair differ only by the scale,
    and heads = d_model / dk keeps the parameters the same."""
    t = recording.trace
    assert t["table"][0, 0] == 2 and t["table"][2, 0] == 1                # heads 16/8, 16/16
    # without the scale, attention starts more peaked (q·k grows like √dk)
    assert float(t["dk16.unscaled.initial_max_weight"]) > float(t["dk16.scaled.initial_max_weight"])


def test_bucket_means_for_long_runs_and_diverged_runs():
    from tutor.walkthroughs.scaling_training import _bucket_means, _running_at
    losses = np.arange(1.0, 121.0)                                       # 120 steps
    curve = _bucket_means(losses, 60, 120)
    np.testing.assert_allclose(curve[:2], [1.5, 3.5])
    stopped = _bucket_means(losses[:50], 60, 120)                        # diverged at step 51
    assert np.isnan(stopped[25:]).all() and np.isfinite(stopped[:25]).all()
    np.testing.assert_allclose(_running_at(losses, [20, 120, 200]),
                               [10.5, 110.5, np.nan])


def test_json_gives_the_curves_and_the_figures():
    doc = run_json(*SMALL)
    assert doc["command"] == "scaling"
    for d in (8, 16):
        for kind in ("scaled", "unscaled"):
            assert len(doc["matrices"][f"dk{d}.{kind}.loss"]) == 25
            assert doc["matrices"][f"dk{d}.{kind}.steps_to_target"] is None   # not reached
    assert np.array(doc["matrices"]["curves"]).shape == (4, 25)
    assert doc["settings"]["d_ks"] == [8, 16] and doc["settings"]["steps"] == 25
    assert set(doc["settings"]["loss_ratio_unscaled_over_scaled"]) == {"8", "16"}
    assert [s["key"] for s in doc["steps"]] == ["curves", "measured"]


def test_the_screen_says_what_was_measured():
    result = run(*SMALL)
    assert result.exit_code == 0
    assert max(len(line) for line in result.output.splitlines()) <= 80
    text = " ".join(result.output.replace("│", " ").split())
    assert "Step 2 of 2 · What was measured" in text
    assert "dk 8: final loss ×" in text and "without ÷√dk" in text
    assert "no clear difference" in text                                   # 25 steps: none yet
    assert "tutor scaling --train --dk 64" in text                         # where it shows


def test_progress_bar_follows_the_runs():
    from rich.console import Console

    from tutor.cli.scaling_training import progress_callback
    from tutor.training.loop import Progress

    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    with progress_callback(console, [8, 16], 10) as callback:
        for index in range(4):
            callback(index, Progress(step=10, total_steps=10, loss=1.5, accuracy=None,
                                     evaluated=False, tokens_per_second=1.0, elapsed=1.0,
                                     seconds_left=0.0, learning_rate=1e-3))
    assert "run 4/4: dk 16 no ÷" in console.file.getvalue()
    with progress_callback(None, [8], 10) as quiet:
        assert quiet(0, None) is None


@pytest.mark.parametrize("args, message", [
    (["--train", "--samples", "100"], "Invalid value for '--samples': expected it without --train"),
    (["--steps", "10"], "Invalid value for '--steps': expected it with --train"),
    (["--train", "--dk", "3", "--dim", "16"],
     "Invalid value for '--dk': expected widths that divide --dim 16 (the heads are d_model / "
     "dk), got 3"),
    (["--train", "--dk", "32", "--dim", "16"], "Invalid value for '--dk': expected widths that"),
    (["--train", "--steps", "0"], "Invalid value for '--steps': expected a number of steps from 1"),
    (["--train", "--steps", "100000"], "expected a number of steps from 1 to 3000, got 100000"),
    (["--train", "--dim", "1000"], "Invalid value for '--dim': expected a width from 1 to 128"),
    (["--train", "--gain", "0"], "Invalid value for '--gain': expected a number greater than 0"),
    (["--train", "--gain", "1000"], "Invalid value for '--gain': expected a number greater than 0 and at most 100, got 1000"),
])
def test_bad_training_options_are_one_line_usage_errors(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_table_and_text_give_accuracy_alike_and_the_legend_honours_precision():
    # trial finding 17: the table said 0.59, the text 60%; the legend '▁ = 0.145014 …'
    result = run(*SMALL, "--precision", "1")
    lines = [line.strip("│ ") for line in result.output.splitlines()]
    header = lines.index(next(line for line in lines if line.startswith("peak₀")))
    assert lines[header].split()[-2:] == ["accuracy", "%"]
    table = {" ".join(line.split()[:-3]): line.split()[-1] for line in lines[header + 2:header + 6]}
    text = " ".join(result.output.replace("│", " ").split())
    for d_k in (8, 16):
        with_scale, without = table[f"dk {d_k} ÷√dk"], table[f"dk {d_k} no ÷"]
        assert f"accuracy {with_scale}% with, {without}% without" in text
    legend = next(line for line in lines if line.startswith("training loss"))
    low, high = legend.split("(▁ = ")[1].rstrip(")").split(" … █ = ")
    assert len(low.split(".")[1]) == 1 and len(high.split(".")[1]) == 1, legend
