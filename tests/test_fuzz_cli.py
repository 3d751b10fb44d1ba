"""Property-based fuzzing of the whole command line: argument lists for every command, built
from valid and invalid pieces, must end with exit code 0, 1 or 2, a one-line error when not
0, never a traceback, within a bounded time and memory. The seed and the number of examples
are fixed so the run is repeatable and quick."""

import contextlib
import io
import json
import os
import sys
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tutor.cli import main

MAX_SECONDS = 20             # one command, on a shared machine
MAX_BYTES = 1024 * 2 ** 20   # traced allocations of one command

NUMBERS = ["0", "1", "2", "3", "4", "8", "-3", "-1", "0.5", "1e9", "99999999999", "nan", "inf",
           "-inf", "1e-300", "abc", "", " ", "½", "0x10", "4.0"]
MATRICES = ["1,0;0,1", "1,0,0,0;0,1,0,0;0,0,1,0;0,0,0,1", "1,2;3", "a,b;c,d", "1,,2", ";;",
            "nan,1;1,1", "inf,0;0,1", "identity", "random", "IDENTITY", "", "1e400,1;1,1"]
WORDS = ["the cat sat", "", "   ", "猫 が 座った", "😺 🐶", "a", "the the the",
         "lion kills tiger", " ".join(["w"] * 40), "x" * 300, "-x", "--dim"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Real files of every kind a user might point an option at."""
    folder = tmp_path_factory.mktemp("fuzz-files")
    np.save(folder / "eye4.npy", np.eye(4))
    np.save(folder / "vectors.npy", np.random.default_rng(0).standard_normal((3, 4)))
    np.save(folder / "vectors32.npy", np.ones((2, 3, 4), dtype=np.float32))
    np.save(folder / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(folder / "nan.npy", np.array([[np.nan, 1.0], [1.0, 1.0]]))
    np.save(folder / "cube.npy", np.zeros((2, 2, 2, 2)))
    from tutor import Transformer
    Transformer.random(4, 2, 1, 1, 8, seed=0).save(folder / "model.npz")
    np.savez(folder / "wrong.npz", x=np.zeros(3))
    (folder / "garbage.npy").write_bytes(b"\x93NUMPY garbage")
    (folder / "garbage.npz").write_bytes(b"PK\x03\x04 garbage")
    (folder / "m.json").write_text("[[1, 0], [0, 1]]")
    (folder / "ragged.json").write_text("[[1, 0], [0]]")
    (folder / "bad.json").write_text("{not json")
    (folder / "m.csv").write_text("1,0\n0,1\n")
    (folder / "text.csv").write_text("a,b\nc,d\n")
    (folder / "dir.npy").mkdir()
    names = ["eye4.npy", "vectors.npy", "vectors32.npy", "objects.npy", "nan.npy", "cube.npy",
             "model.npz", "wrong.npz", "garbage.npy", "garbage.npz", "m.json", "ragged.json",
             "bad.json", "m.csv", "text.csv", "dir.npy", "missing.npy", "missing.npz"]
    return folder, [str(folder / name) for name in names]


def pieces(paths):
    return st.sampled_from(NUMBERS + MATRICES + WORDS + paths)


OPTIONS = {
    "attention": ["--dim", "--embeddings", "--embed", "--wq", "--wk", "--wv", "--wo", "--dk",
                  "--heads", "--posenc", "--step", "--seed", "--precision", "--model",
                  "--layer", "--head"],
    "posenc": ["--dim", "--positions", "--sentence", "--embed", "--table", "--step", "--seed",
               "--precision", "--embeddings"],
    "softmax": ["--scale", "--temperature", "--step", "--precision"],
    "scaling": ["--dk", "--samples", "--keys", "--seed", "--step"],
    "layernorm": ["--gamma", "--beta", "--eps", "--batch", "--sublayer", "--step", "--seed"],
    "multihead": ["--heads", "--dim", "--wq", "--wk", "--wv", "--wo", "--step", "--seed",
                  "--embeddings", "--embed", "--posenc"],
    "heads": ["--model", "--layer", "--step", "--precision"],
    "context": ["--word", "--control", "--model", "--step"],
    "encode": ["--src-vectors", "--weights", "--heads", "--layers", "--dim", "--ff", "--activation",
               "--eps", "--detail", "--step", "--seed"],
    "transformer": ["--src", "--tgt", "--src-vectors", "--tgt-vectors", "--weights", "--heads",
                    "--layers", "--dim", "--ff", "--eps", "--detail", "--step", "--seed"],
    "lesson": ["--step", "--answer"],
    "generate": ["--model", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--seed",
                 "--beam", "--length-penalty", "--step", "--precision"],
    "backward": ["--dim", "--embeddings", "--embed", "--wq", "--wk", "--wv", "--dk", "--target",
                 "--lr", "--posenc", "--step", "--seed", "--precision"],
    "rmsnorm": ["--gain", "--eps", "--step", "--precision"],
    "rope": ["--dim", "--positions", "--base", "--query", "--key", "--embed", "--embeddings",
             "--step", "--seed"],
    "gqa": ["--heads", "--kv-heads", "--head-dim", "--dim", "--embed", "--step", "--seed"],
    "ffn": ["--kind", "--ff", "--dim", "--embeddings", "--step", "--seed"],
    "quantize": ["--kind", "--step", "--precision"],
    "flash": ["--block", "--dk", "--dim", "--embed", "--step", "--seed"],
}
FLAGS = {
    "attention": ["--no-scale", "--causal"], "posenc": ["--learned"], "layernorm": ["--residual"],
    "multihead": ["--causal"],
    "encode": ["--norm-first"], "transformer": ["--causal", "--norm-first"],
    "lesson": ["--no-input", "--interactive"],
    "generate": ["--explain-cache", "--no-cache"], "backward": ["--no-scale", "--causal"],
}
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
MODELS = [os.path.join(DATA, "hf_tiny_bert"), os.path.join(DATA, "hf_tiny_gpt2"), "no-such-model",
          DATA, ""]
SPECS = ["identity", "random", "1,0,0,0;0,1,0,0;0,0,1,0;0,0,0,1", "1,0;0,1", "FILE:eye4.npy",
         "FILE:m.json", "FILE:m.csv"]
PLAUSIBLE = {                    # values a user would mean, per option (FILE: a fixture file)
    "--dim": ["2", "4", "6", "8"], "--heads": ["1", "2", "4"], "--dk": ["2", "4", "16,64"],
    "--wq": SPECS, "--wk": SPECS, "--wv": SPECS, "--wo": SPECS,
    "--embeddings": SPECS + ["glove", "glove", "GloVe"], "--model": MODELS,
    "--layer": ["1", "2", "0", "7"], "--head": ["1", "4", "5"], "--word": ["cat", "sat", "dog"],
    "--control": ["the", "cat", "mat"],
    "--table": SPECS, "--batch": ["1,2;3,4", "1,2,3,4;4,3,2,1", "FILE:m.csv"],
    "--embed": ["the=1,0,1,0", "cat=0,1", "sat=1,1,1,1"], "--posenc": ["none", "sinusoidal"],
    "--step": ["1", "2", "3", "6"], "--seed": ["0", "7"], "--precision": ["0", "2", "4"],
    "--positions": ["1", "3", "6"], "--sentence": ["the cat", "lion kills tiger"],
    "--scale": ["0.5", "1"], "--temperature": ["2", "0.5"], "--samples": ["20", "100"],
    "--keys": ["2", "4"], "--gamma": ["1,1,1,1", "2,2,2,2"], "--beta": ["0,0,0,0", "1,2,3,4"],
    "--eps": ["1e-5", "0.1"], "--sublayer": ["1,0,1,0", "0,0,0,0"],
    "--src-vectors": ["FILE:vectors.npy", "FILE:vectors32.npy"],
    "--tgt-vectors": ["FILE:vectors.npy", "FILE:vectors32.npy"], "--weights": ["FILE:model.npz"],
    "--layers": ["1", "2"], "--ff": ["8", "16"], "--activation": ["relu", "gelu"],
    "--detail": ["summary", "full"], "--src": ["the cat sat"], "--tgt": ["le chat", "a"],
    "--answer": ["q-the-sat=0.42", "q-tie=b", "x=1", "bad", "q-the-sat=nan"],
    "--max-new-tokens": ["2", "5"], "--top-k": ["1", "3"], "--top-p": ["0.5", "0.9"],
    "--beam": ["2", "4"], "--length-penalty": ["0.6", "1"], "--lr": ["0.05", "5", "50"],
    "--target": SPECS, "--gain": ["1,1,1,1", "2,0,1,-1"], "--base": ["10000", "100000", "1"],
    "--query": ["1,0,0,0", "1,2"], "--key": ["0,1,0,0", "1,2,3"], "--kv-heads": ["1", "2", "3"],
    "--head-dim": ["1", "2", "4"], "--kind": ["relu", "gelu", "swiglu", "q8_0", "q4_1"],
    "--block": ["1", "2", "3"],
}
SHARED = ["--format", "--svg", "--html"]
FORMATS = ["rich", "plain", "json", "markdown", "latex", "xml", ""]
POSITIONAL = {"attention": ["the cat sat", "a b", "the cat sat on the mat"],
              "multihead": ["the cat sat", "a b"], "encode": ["the cat sat", "a b c d"],
              "heads": ["the cat sat", "a", "the cat sat on the mat"],
              "context": ["the cat sat", "the mat and the cat"],
              "softmax": ["6", "4", "-1", "2,1,0.1"], "layernorm": ["1,2,3,4", "5,5,5,5"],
              "scaling": ["4", "64"], "generate": ["3 1 4", "31415926535", "9", "The cat sat"],
              "backward": ["the cat sat", "a b"], "rmsnorm": ["1,2,3,4", "0,0,0"],
              "rope": ["the cat sat", "a b"], "gqa": ["the cat sat", "a"],
              "ffn": ["the cat sat", "a b"], "quantize": ["0.12,-0.5,0.9", "0,0,0", "1e6"],
              "flash": ["the cat sat on the mat", "a"],
              "lesson": ["1", "4", "9", "10", "0", "-1", "scaling", "no-such-lesson", "list",
                         "reset", "check", "self-attention"]}


@st.composite
def command_lines(draw, paths):
    folder = os.path.dirname(paths[0])

    def value(option):
        if option in PLAUSIBLE and draw(st.integers(0, 4)) > 0:       # mostly plausible
            choice = draw(st.sampled_from(PLAUSIBLE[option]))
            return os.path.join(folder, choice[5:]) if choice.startswith("FILE:") else choice
        return draw(pieces(paths))                                     # else anything at all

    command = draw(st.sampled_from(sorted(OPTIONS)))
    args = [command]
    if command in POSITIONAL and draw(st.integers(0, 5)) > 0:
        for _ in range(draw(st.integers(1, 2 if command in ("softmax", "context") else 1))):
            args.append(draw(st.sampled_from(POSITIONAL[command]))
                        if draw(st.integers(0, 4)) else draw(pieces(paths)))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 11))
        if kind < 7:
            option = draw(st.sampled_from(OPTIONS[command]))
            args += [option, value(option)]
        elif kind < 8 and FLAGS.get(command):
            args.append(draw(st.sampled_from(FLAGS[command])))
        elif kind < 10 and command != "lesson":
            option = draw(st.sampled_from(SHARED))
            choice = draw(st.sampled_from(FORMATS)) if option == "--format" else \
                draw(st.sampled_from(["out.svg", "out.html", "", paths[0], paths[-3]]))
            args += [option, choice]
        elif kind < 11:
            args.append(draw(st.sampled_from(["--no-such-option", "--dim", "-x", "--", "--help"])))
        else:
            args.append(draw(pieces(paths)))
    return args


def run_cli(args, cwd):
    """Run `tutor ARGS` in this process through the real error boundary."""
    out, err = io.StringIO(), io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.StringIO("")                                        # end of input at once
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin = stdin
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


run_cli_once = run_cli


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    state = tmp_path_factory.mktemp("fuzz-state")
    saved = {k: os.environ.get(k) for k in ("TUTOR_STATE_DIR", "TUTOR_DEBUG", "COLUMNS")}
    os.environ["TUTOR_STATE_DIR"] = str(state)
    os.environ.pop("TUTOR_DEBUG", None)
    os.environ.pop("COLUMNS", None)
    yield tmp_path_factory.mktemp("fuzz-cwd")
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_fuzzed_command_lines_end_cleanly(files, environment):
    folder, paths = files
    ran = {}                  # about a third of the lines drawn repeat one drawn before:

    def run_cli(args, cwd):   # each distinct line is run (timed, traced) once, its result
        key = (tuple(args), cwd)                                       # checked each time
        if key not in ran:
            ran[key] = run_cli_once(args, cwd)
        return ran[key]

    @settings(max_examples=400, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(command_lines(paths))
    def check(args):
        tracemalloc.start()
        start = time.perf_counter()
        try:
            code, out, err = run_cli(args, environment)
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        seconds = time.perf_counter() - start
        shown = f"tutor {' '.join(repr(a) for a in args)}"
        assert "Traceback" not in out + err, f"{shown}: traceback\n{err[-2000:]}"
        assert code in (0, 1, 2), f"{shown}: exit {code}\n{err[-500:]}"
        if code != 0 and "--help" not in args:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: "), f"{shown}: {err!r}"
        if code == 1:                          # past the options: names an option or a file
            assert "--" in err or any(a and a in err for a in args if os.sep in a) \
                or "models" in err, f"{shown}: exit 1 naming neither option nor file: {err!r}"
        if code == 0 and "--format" in args:
            fmt = args[len(args) - 1 - args[::-1].index("--format") + 1]   # the last one wins
            if fmt == "json" and "--help" not in args and args[0] != "lesson":
                json.loads(out)
        assert seconds < MAX_SECONDS, f"{shown}: {seconds:.1f} s"
        assert peak < MAX_BYTES, f"{shown}: {peak / 2**20:.0f} MiB"

    check()
