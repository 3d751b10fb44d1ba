"""Fuzzing `tutor backward` as test_fuzz_cli.py fuzzes the other commands: argument lists
built from valid and invalid pieces end with exit code 0, 1 or 2, a one-line error when not 0,
valid JSON when asked for, and never a traceback."""

import json
import os

from hypothesis import HealthCheck, given, settings, strategies as st

from test_fuzz_cli import NUMBERS, SPECS, WORDS, environment, files, pieces, run_cli  # noqa: F401

OPTIONS = ["--dim", "--embeddings", "--embed", "--wq", "--wk", "--wv", "--dk", "--posenc",
           "--target", "--lr", "--step", "--seed", "--precision", "--format"]
FLAGS = ["--no-scale", "--causal", "--pause"]
PLAUSIBLE = {
    "--dim": ["2", "4", "8"], "--dk": ["1", "2", "4"], "--wq": SPECS, "--wk": SPECS,
    "--wv": SPECS, "--embeddings": SPECS, "--embed": ["the=1,0,1,0", "cat=0,1", "sat=1,1,1,1"],
    "--posenc": ["none", "sinusoidal"], "--step": ["1", "7", "10", "16", "17"],
    "--seed": ["0", "7"], "--precision": ["0", "2", "4"],
    "--target": SPECS + ["1,2", "0,0,1,1;1,0,0,1;0,1,1,0", "1e300,0,0,0;0,0,0,0;0,0,0,0"],
    "--lr": ["0.05", "1", "1e6", "1e-9", "0", "-1", "nan"],
    "--format": ["plain", "json", "markdown", "latex", "rich"],
}


@st.composite
def backward_lines(draw, paths):
    folder = os.path.dirname(paths[0])

    def value(option):
        if draw(st.integers(0, 4)) > 0:
            choice = draw(st.sampled_from(PLAUSIBLE[option]))
            return os.path.join(folder, choice[5:]) if choice.startswith("FILE:") else choice
        return draw(pieces(paths))

    args = ["backward", draw(st.sampled_from(["the cat sat", "a b", "the cat sat on the mat"]))
            if draw(st.integers(0, 5)) else draw(st.sampled_from(WORDS + NUMBERS))]
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.integers(0, 4)):
            option = draw(st.sampled_from(OPTIONS))
            args += [option, value(option)]
        else:
            args.append(draw(st.sampled_from(FLAGS)))
    return args


def test_fuzzed_backward_command_lines_end_cleanly(files, environment):  # noqa: F811
    _, paths = files

    @settings(max_examples=80, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(backward_lines(paths))
    def check(args):
        code, out, err = run_cli(args, environment)
        shown = f"tutor {' '.join(repr(a) for a in args)}"
        assert "Traceback" not in out + err, f"{shown}: traceback\n{err[-2000:]}"
        assert code in (0, 1, 2), f"{shown}: exit {code}\n{err[-500:]}"
        if code != 0:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: "), f"{shown}: {err!r}"
        elif "--format" in args and args[len(args) - 1 - args[::-1].index("--format") + 1] == "json":
            json.loads(out)

    check()
