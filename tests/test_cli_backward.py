"""`tutor backward`: the notes' example against NumPy written out here, the JSON keys, the
options shared with `tutor attention`, the honest report of a step that raised the loss, the
screen at 80 columns, and bad input (one line, exit code 2, naming the option)."""

import json

import numpy as np
import pytest

from cli_helpers import for_command

run, run_json = for_command("backward")
X = np.array([[1.0, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]])              # THE, CAT, SAT


def matrix(doc, name):
    return np.array(doc["matrices"][name], dtype=float)


def reference(x, wq, wk, wv, target, lr, scale=0.5):
    """One head, its loss and gradients, and one descent step, written out in NumPy."""
    def forward(wq, wk, wv):
        q, k, v = x @ wq, x @ wk, x @ wv
        s = q @ k.T * scale
        e = np.exp(s - s.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return q, k, v, p, p @ v
    q, k, v, p, z = forward(wq, wk, wv)
    g_z = z - target
    g_p = g_z @ v.T
    g_s = p * (g_p - (g_p * p).sum(axis=1, keepdims=True)) * scale
    g_q, g_k, g_v = g_s @ k, g_s.T @ q, p.T @ g_z
    grads = {"w_q": x.T @ g_q, "w_k": x.T @ g_k, "w_v": x.T @ g_v}
    g_x = g_q @ wq.T + g_k @ wk.T + g_v @ wv.T
    new = {n: w - lr * grads[n] for n, w in (("w_q", wq), ("w_k", wk), ("w_v", wv))}
    z_new = forward(new["w_q"], new["w_k"], new["w_v"])[-1]
    return {"loss": 0.5 * np.sum(g_z ** 2), "out.grad": g_z, "weights.grad": g_p,
            "scores.grad": g_s, "q.grad": g_q, "k.grad": g_k, "v.grad": g_v, "x.grad": g_x,
            **{f"{n}.grad": g for n, g in grads.items()},
            **{f"step.{n}": w for n, w in new.items()},
            "step.loss": 0.5 * np.sum((z_new - target) ** 2)}


def test_the_notes_example_against_numpy():
    doc = run_json("the cat sat")
    expected = reference(X, np.eye(4), np.eye(4), np.eye(4), X, 0.05)
    for name, value in expected.items():
        np.testing.assert_allclose(matrix(doc, name), value, rtol=1e-12, atol=1e-15, err_msg=name)
    np.testing.assert_array_equal(matrix(doc, "target"), X)              # the stated default
    assert doc["settings"]["lr"] == 0.05 and doc["settings"]["target"] == "X (the default)"
    assert doc["settings"]["loss_lowered"] is True
    assert doc["settings"]["loss_after_step"] < doc["settings"]["loss"]


def test_json_keys_and_steps():
    doc = run_json("the cat sat")
    assert doc["command"] == "backward" and doc["tokens"] == ["the", "cat", "sat"]
    for name in ("x", "w_q", "q", "scores", "scaled", "weights", "out", "target", "error", "loss",
                 "out.grad", "weights.grad", "softmax.grad_mean", "scaled.grad", "scores.grad",
                 "q.grad", "k.grad", "v.grad", "w_q.grad", "w_k.grad", "w_v.grad", "x.grad",
                 "x.grad.via_q", "x.grad.via_k", "x.grad.via_v", "step.sq_norm",
                 "step.predicted_decrease", "step.w_q", "step.w_k", "step.w_v", "step.out",
                 "step.error", "step.loss"):
        assert name in doc["matrices"], name
    assert [s["key"] for s in doc["steps"]] == [
        "inputs", "projections", "scores", "scaled", "softmax", "output", "loss", "grad_out",
        "grad_product", "grad_softmax", "grad_scale", "grad_qk", "grad_wq_wk", "grad_wv",
        "grad_x", "descent"]
    assert set(doc["settings"]) >= {"d_model", "d_k", "d_v", "lr", "target", "loss",
                                    "loss_after_step", "loss_lowered", "causal", "scaled"}


def test_given_target_inline_and_from_a_file(tmp_path):
    target = np.array([[0.0, 0, 1, 1], [1, 0, 0, 1], [0, 1, 1, 0]])
    inline = run_json("the cat sat", "--target", "0,0,1,1;1,0,0,1;0,1,1,0", "--lr", "0.1")
    path = tmp_path / "t.json"
    path.write_text(json.dumps(target.tolist()))
    from_file = run_json("the cat sat", "--target", str(path), "--lr", "0.1")
    expected = reference(X, np.eye(4), np.eye(4), np.eye(4), target, 0.1)
    for doc in (inline, from_file):
        np.testing.assert_array_equal(matrix(doc, "target"), target)
        np.testing.assert_allclose(matrix(doc, "w_q.grad"), expected["w_q.grad"], rtol=1e-12)
        np.testing.assert_allclose(matrix(doc, "step.loss"), expected["step.loss"], rtol=1e-12)
    assert inline["settings"]["target"] == "--target inline"
    assert from_file["settings"]["target"] == "--target a file"


def test_attention_options_work_here_too():
    doc = run_json("the cat sat", "--causal", "--posenc", "sinusoidal", "--wq", "random",
                   "--seed", "3", "--no-scale")
    assert np.all(np.array(doc["matrices"]["scaled.grad"], dtype=float)[np.triu_indices(3, 1)] == 0)
    assert doc["settings"]["target"] == "X + PE (the default)"
    np.testing.assert_allclose(matrix(doc, "scores.grad"), matrix(doc, "scaled.grad"))  # no ÷√dk
    doc = run_json("a b", "--embed", "a=1,0", "--embed", "b=0,1", "--dk", "1")
    assert doc["settings"]["target"] == "zeros (the default)"             # Z is n×1, X is n×2
    np.testing.assert_array_equal(matrix(doc, "target"), np.zeros((2, 1)))


def test_a_small_step_lowers_the_loss_and_a_large_one_is_reported_honestly():
    small = run_json("the cat sat", "--wq", "random", "--wk", "random", "--seed", "5",
                     "--lr", "0.001")
    assert small["settings"]["loss_after_step"] < small["settings"]["loss"]
    large = run_json("the cat sat", "--lr", "3")
    assert large["settings"]["loss_lowered"] is False
    part = large["steps"][-1]["parts"][0]
    assert "L before: 0.81; after: 7.79 (by 6.98)" in part["worked"]
    assert part["meaning"].startswith("L did not go down (0.81 before, 7.79 after): lr = 3 is "
                                      "too large here.")
    assert part["meaning"].endswith("Try --lr 0.5: this walkthrough ran the same step with it "
                                    "and L goes down; 2, 1 do not.")


@pytest.mark.parametrize("lr", ["50", "5", "3", "1e6"])
def test_the_advised_rate_was_checked_and_the_larger_ones_fail(lr):
    """The advice after a step that did not lower L names a rate that does, and the rates it
    tried before it (1-2-5 steps below --lr) really do not."""
    doc = run_json("the cat sat", "--lr", lr)
    advised = doc["settings"]["advised_lr"]
    assert doc["settings"]["loss_lowered"] is False and advised < float(lr)
    assert f"Try --lr {advised:g}: this walkthrough ran the same step" in \
        doc["steps"][-1]["parts"][0]["meaning"]
    assert run_json("the cat sat", "--lr", f"{advised:g}")["settings"]["loss_lowered"] is True
    assert run_json("the cat sat", "--lr", f"{advised * 2:g}")["settings"]["loss_lowered"] is False


def test_printed_products_and_sums_add_up_at_the_digits_shown():
    import re

    for lr in ("50", "5", "0.05"):
        text = " ".join(run("the cat sat", "--lr", lr, "--format", "plain").output.split())
        text = text.replace("│ ", "").replace(" │", "")
        found = re.search(r"lr·‖g‖² = (\S+) × (\S+) = (\S+)", text)
        rate, sq_norm, drop = found.groups()
        decimals = len(drop.split(".")[1])
        assert f"{float(rate) * float(sq_norm):.{decimals}f}" == drop, found.group(0)
        found = re.search(r"Wq\(d\d, d\d\) = (\S+) − (\S+) × \(?(\S+?)\)? = (\S+)", text)
        w, rate, grad, new = found.groups()
        decimals = len(new.split(".")[1]) if "." in new else 0
        assert f"{float(w) - float(rate) * float(grad):.{decimals}f}" == new, found.group(0)
        for dot in re.finditer(r"= ((?:\(?-?[\d.]+\)?×\(?-?[\d.]+\)? \+ )+\(?-?[\d.]+\)?×"
                               r"\(?-?[\d.]+\)?) = (-?[\d.]+)", text):
            terms = [t.split("×") for t in dot.group(1).split(" + ")]
            total = sum(float(a.strip("()")) * float(b.strip("()")) for a, b in terms)
            decimals = len(dot.group(2).split(".")[1]) if "." in dot.group(2) else 0
            assert f"{total:.{decimals}f}" in (dot.group(2), f"{-0.0:.{decimals}f}"), dot.group(0)


def test_the_screen_at_80_columns_fits_and_steps_fit_40_rows():
    result = run("the cat sat")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "Step 16 of 16 · One step of gradient descent" in result.output
    assert "dL/dZ(the, d2) = Z(the, d2) − T(the, d2) = 0.58 − 0 = 0.58" in result.output
    assert "Worked: dL/dscores(the, the) = dL/dscaled(the, the) ÷ √4 = -0.30 ÷ 2 = -0.15" \
        in result.output
    heights, start = [], None
    for i, line in enumerate(lines):
        if line.startswith("╭─ Step"):
            start = i
        elif line.startswith("╰") and start is not None:
            heights.append(i - start + 1)
    assert len(heights) == 16 and max(heights) <= 40
    six = run("the cat sat on the mat", "--step", "10")
    assert six.exit_code == 0 and len(six.output.splitlines()) <= 42


def test_glove_vectors_are_cut_to_fit_and_json_keeps_every_number():
    doc = run_json("the cat sat on the mat", "--embeddings", "glove", "--lr", "0.005")
    assert np.array(doc["matrices"]["w_q.grad"]).shape == (50, 50)
    assert doc["settings"]["loss_lowered"] is True
    result = run("the cat sat on the mat", "--embeddings", "glove", "--lr", "0.005")
    assert result.exit_code == 0
    assert "dL/dWq  50×50  (rows 1–6 of 50, columns 1–" in result.output
    assert "--format json has them all" in result.output
    lines = result.output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("╭─ Step")]
    ends = [i for i, line in enumerate(lines) if line.startswith("╰")]
    assert len(starts) == 16 and max(e - s + 1 for s, e in zip(starts, ends)) <= 40


def test_step_and_formats():
    result = run("the cat sat", "--step", "8")
    assert result.exit_code == 0 and "Step 8 of 16 · Gradient at the output" in result.output
    assert "Step 7 of" not in result.output
    markdown = run("the cat sat", "--format", "markdown", "--step", "13")
    assert "dL/dWq" in markdown.output and markdown.exit_code == 0
    latex = run("the cat sat", "--format", "latex", "--step", "16")
    assert latex.exit_code == 0 and "W - \\eta" in latex.output


@pytest.mark.parametrize("args, message", [
    (["--target", "1,2"], "Invalid value for '--target': expected a 3×4 matrix like Z (one row "
                          "per word, d_v = 4 columns), got a 1×2 matrix"),
    (["--target", "cat"], "Invalid value for '--target'"),
    (["--lr", "0"], "Invalid value for '--lr': expected a number greater than 0 and at most 1,000,000, got 0"),
    (["--lr", "nan"], "Invalid value for '--lr': expected a finite number greater than 0 and at most 1,000,000, got nan"),
    (["--lr", "-1"], "Invalid value for '--lr': expected a number greater than 0 and at most 1,000,000, got -1"),
    (["--wq", "1,0;0,1"], "Invalid value for '--wq': expected 4 rows"),
    (["--step", "17"], "Invalid value for '--step': expected a step from 1 to 16, got 17"),
])
def test_bad_input_is_one_line_naming_the_option(args, message):
    result = run("the cat sat", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_the_command_states_the_walkthroughs_default_rate():
    from tutor.cli.backward import DEFAULT_LR as stated
    from tutor.walkthroughs.backward import DEFAULT_LR

    assert stated == DEFAULT_LR


def test_a_step_too_small_for_float64_is_called_too_small_not_too_large():
    # issue 20: --lr 1e-16 leaves L unchanged in float64 and was called "too large"
    doc = run_json("the cat sat", "--lr", "1e-16")
    settings, part = doc["settings"], doc["steps"][-1]["parts"][0]
    assert settings["loss_after_step"] == settings["loss"]               # L did not move at all
    drop = 1e-16 * float(np.sum([np.sum(matrix(doc, f"{n}.grad") ** 2)
                                 for n in ("w_q", "w_k", "w_v")]))
    assert drop < np.spacing(settings["loss"])          # the drop is below float64's spacing
    assert "is too large" not in part["meaning"]
    assert part["meaning"].startswith("L did not change at all: lr = 1e-16 is too small")
    assert "Try a larger --lr." in part["meaning"]


@pytest.mark.parametrize("lr", ["1e-8", "1e-5", "0.1"])
def test_the_loss_before_and_after_a_step_shows_the_digits_of_its_change(lr):
    # issue 20: --lr 1e-8 said "L went down from 0.81 to 0.81"
    doc = run_json("the cat sat", "--lr", lr)
    before, after = doc["settings"]["loss"], doc["settings"]["loss_after_step"]
    meaning = doc["steps"][-1]["parts"][0]["meaning"]
    words = meaning.split("L went down from ")[1].split()
    shown_before, shown_after = float(words[0]), float(words[2].rstrip(".").rstrip(","))
    assert words[1] == "to"
    true = before - after
    assert true > 0
    assert abs((shown_before - shown_after) - true) <= 0.05 * true   # 2 significant digits


def test_backward_reads_its_inputs_by_the_shared_rule_not_through_tutor_attention():
    """`tutor backward` takes the head options from cli/attention_inputs.py (the shared rule
    of walkthroughs/inputs.py), not from the attention command's module."""
    import ast
    from pathlib import Path

    import tutor.cli.backward as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "attention" not in imported and "attention_inputs" in imported
