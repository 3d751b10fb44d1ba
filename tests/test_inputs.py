"""SPEC parsing (identity, random, inline, .npy, .json, .csv), its errors, --embed, and the
word -> vector rule."""

import json
import re

import click
import numpy as np
import pytest

from tutor.walkthroughs import word_vectors as words
from tutor.cli import word_vector_options as emb
from tutor.cli.matrix_specs import MATRIX, WORD_VECTOR, SpecError, parse_inline, parse_spec
from tutor.cli.values import rng_for
from tutor.limits import MAX_DIM

M = np.array([[1.0, -2.5, 0.0], [3.0, 4.0, 1e-3]])


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "m.npy", M)
    (tmp_path / "m.json").write_text(json.dumps(M.tolist()))
    (tmp_path / "m.csv").write_text("1, -2.5, 0\n\n3,4,0.001\n")
    return tmp_path


def test_inline_rows_split_by_semicolon_numbers_by_comma_or_space():
    np.testing.assert_array_equal(parse_inline("1,-2.5,0;3 4 1e-3"), M)
    np.testing.assert_array_equal(parse_inline("1,2,3"), [[1, 2, 3]])
    assert parse_inline("1,2;3,4;").shape == (2, 2)      # a trailing ';' is forgiven


@pytest.mark.parametrize("name", ["m.npy", "m.json", "m.csv"])
def test_files_read_to_the_same_matrix(files, name):
    spec = parse_spec(str(files / name))
    assert spec.kind == "array"
    np.testing.assert_array_equal(spec.array, M)
    assert spec.array.dtype == np.float64


def test_identity_and_random_take_their_shape_late():
    assert parse_spec("identity").kind == "identity"
    np.testing.assert_array_equal(parse_spec(" Identity ").resolve(2, 3), np.eye(2, 3))
    a = parse_spec("random").resolve(3, 4, rng_for(7, "--wq"))
    b = parse_spec("random").resolve(3, 4, rng_for(7, "--wq"))
    c = parse_spec("random").resolve(3, 4, rng_for(8, "--wq"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (3, 4) and np.all(np.abs(a) <= 1)
    np.testing.assert_allclose(a * 10, np.round(a * 10))   # steps of 0.1: short decimals


def test_random_streams_differ_per_option():
    assert not np.array_equal(rng_for(0, "--wq").integers(0, 1000, 8),
                              rng_for(0, "--wk").integers(0, 1000, 8))


@pytest.mark.parametrize("text, message", [
    ("1,2;3", "expected every row to have 2 numbers like row 1, got 1 in row 2"),
    ("1,x;3,4", "expected numbers, got 'x' in row 1"),
    ("1,nan", "expected finite numbers, got nan in row 1, column 2"),
    ("1,2;inf,4", "expected finite numbers, got inf in row 2, column 1"),
    ("1,2;;3,4", "expected numbers in every row, got an empty row 2"),
    ("", "got an empty value"),
    ("banana", "expected identity, random, an inline matrix such as \"1,0;0,1\", or a .npy, "
               ".json or .csv file, got 'banana'"),
    ("nope.npy", "got 'nope.npy', which does not exist"),
    ("m.txt", "expected a .npy, .json or .csv file, got"),
])
def test_bad_specs_say_what_was_expected_and_given(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.txt").write_text("1,2")
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name, content, message", [
    ("ragged.json", "[[1, 2], [3]]", "expected every row to have 2 numbers like row 1, got 1 in row 2"),
    ("text.json", '[[1, "a"]]', "expected numbers, got '\"a\"' in row 1"),
    ("bool.json", "[[true, 1]]", "expected numbers, got 'true'"),
    ("dict.json", '{"a": 1}', "expected a list of rows"),
    ("broken.json", "[[1, 2]", "which is not valid JSON"),
    ("nan.json", "[[NaN, 1]]", "expected finite numbers, got nan"),
    ("words.csv", "a,b\n1,2\n", "expected numbers, got 'a' in line 1"),
    ("ragged.csv", "1,2\n3\n", "got 1 in row 2"),
    ("empty.csv", "\n\n", "expected at least one number"),
])
def test_bad_files_say_what_was_wrong(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SpecError) as info:
        parse_spec(str(path))
    assert message in str(info.value)


def test_npy_that_needs_pickle_or_is_3d_or_too_big_or_complex_is_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    np.save(tmp_path / "big.npy", np.zeros((MAX_DIM + 1, 2)))
    np.save(tmp_path / "complex.npy", np.ones((2, 2), dtype=complex))
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    cases = {"obj.npy": "expected a .npy file of numbers", "cube.npy": "expected a 2-D matrix",
             "big.npy": f"expected at most {MAX_DIM} rows", "complex.npy": "expected real numbers",
             "junk.npy": "which is not one (it lacks the .npy header)"}
    for name, message in cases.items():
        with pytest.raises(SpecError) as info:
            parse_spec(str(tmp_path / name))
        assert message in str(info.value), name


def test_unreadable_file_and_directory(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(SpecError, match="expected a file, got the directory"):
        parse_spec(str(tmp_path / "d.csv"))
    (tmp_path / "latin.csv").write_bytes(b"1,\xff\n")
    with pytest.raises(SpecError, match=r"expected a UTF-8 text file, got '.*', "
                                        r"which is not UTF-8 text \(byte 2\)$"):
        parse_spec(str(tmp_path / "latin.csv"))


def test_file_faults_are_said_in_plain_words(tmp_path, capsys):
    # once: "use sys.set_int_max_str_digits()", "of shape " (nothing after), a folder read as
    # "expected numbers ... in row 1", "(UnicodeDecodeError)", "mmap length is greater than
    # file size", and "not an .npz file ... nor a .safetensors file" for a bad safetensors
    import struct

    from tutor.cli import main
    (tmp_path / "digits.json").write_text("[[" + "9" * 5000 + "]]")
    np.save(tmp_path / "scalar.npy", np.float64(3.0))
    (tmp_path / "latin.json").write_bytes(b"[[1, 2]] \xe9")
    np.save(tmp_path / "short.npy", np.zeros((2, 4)))
    data = (tmp_path / "short.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(data[:-54])                  # 10 of 64 data bytes
    deep = b"[" * 100_000 + b"]" * 100_000
    (tmp_path / "deep.safetensors").write_bytes(struct.pack("<Q", len(deep)) + deep)
    (tmp_path / "long.safetensors").write_bytes(struct.pack("<Q", 2**63) + b"{}")
    folder = tmp_path / "folder"
    folder.mkdir()
    cases = [
        (["attention", "a b", "--wq", str(tmp_path / "digits.json")],
         "which is not valid JSON (a number of more than 4,300 digits)"),
        (["attention", "a b", "--wq", str(tmp_path / "scalar.npy")],
         "of shape () (a single number, no axes)"),
        (["attention", "a b", "--wq", str(folder)], "got the directory '"),   # quoted, cut at 40
        (["attention", "a b", "--wq", str(tmp_path / "latin.json")],
         "which is not UTF-8 text (byte 9)"),
        (["encode", "--src-vectors", str(tmp_path / "short.npy")],
         "the .npy header declares shape (2, 4) of float64 (64 bytes) but 10 bytes of data"),
        (["encode", "a", "--heads", "1", "--weights", str(tmp_path / "deep.safetensors")],
         "nested more than 100 levels deep"),
        (["encode", "a", "--heads", "1", "--weights", str(tmp_path / "long.safetensors")],
         "header claims 9,223,372,036,854,775,808 bytes"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as info:
            main(args)
        err = " ".join(capsys.readouterr().err.split())
        assert info.value.code == 2 and message in err, (args, err)
        for internal in ("set_int_max_str_digits", "UnicodeDecodeError", "mmap", "in row 1",
                         "nor a .safetensors file"):
            assert internal not in err, err
    from tutor.files import FileReadError, parse_toml
    with pytest.raises(FileReadError, match=r"not valid TOML \(a number of more than 4,300 "
                                            r"digits\)"):
        parse_toml("x = " + "9" * 5000, "t.toml")


def test_click_types_name_the_option():
    @click.command()
    @click.option("--wq", type=MATRIX)
    @click.option("--embed", type=WORD_VECTOR, multiple=True)
    def cmd(wq, embed):
        click.echo(f"{wq.array.tolist()} {[(w, v.tolist()) for w, v in embed]}")

    from click.testing import CliRunner
    runner = CliRunner()
    ok = runner.invoke(cmd, ["--wq", "1,2;3,4", "--embed", "cat=0.5,1"])
    assert ok.output == "[[1.0, 2.0], [3.0, 4.0]] [('cat', [0.5, 1.0])]\n"
    bad = runner.invoke(cmd, ["--wq", "1,2;3"])
    assert bad.exit_code == 2
    assert bad.output.splitlines()[-1] == ("Error: Invalid value for '--wq': expected every row "
                                           "to have 2 numbers like row 1, got 1 in row 2")
    for value, message in [("cat", "expected WORD=v1,v2,... such as cat=0,1,0,1, got 'cat'"),
                           ("cat=1,a", "expected numbers, got 'a' in row 1 for 'cat'"),
                           ("cat=1;2", "expected one row of numbers for 'cat', got 2 rows")]:
        bad = runner.invoke(cmd, ["--embed", value])
        assert bad.exit_code == 2
        assert bad.output.splitlines()[-1] == f"Error: Invalid value for '--embed': {message}"


# --- the word -> vector rule ----------------------------------------------------------------

def test_notes_words_keep_their_vectors_at_width_4_whatever_the_case():
    assert words.word_vector("the", 4) == [1, 0, 1, 0]
    assert words.word_vector("CAT", 4) == [0, 1, 0, 1]
    assert words.word_vector("Sat", 4) == [1, 1, 1, 1]
    assert words.word_vector("the", 6) != [1, 0, 1, 0, 0, 0]  # other widths: derived


def test_derived_vectors_are_pinned_short_and_stable():
    # Pinned values: SHA-256 is the same on every machine, so these never change.
    assert words.word_vector("dog", 4) == words.derived_vector("dog", 4)
    assert words.derived_vector("dog", 4) == EXPECTED_DOG
    long = words.derived_vector("dog", 64)                  # more than one SHA-256 block
    assert long[:4] == EXPECTED_DOG and len(long) == 64
    assert long[32:36] == [-0.5, 1.0, 0.5, 0.4]          # from the second block
    assert all(-1 <= v <= 1 and round(v, 1) == v for v in long)
    assert words.derived_vector("Dog", 4) == EXPECTED_DOG   # case does not matter
    assert words.derived_vector("cat", 4) != words.derived_vector("dog", 4)


EXPECTED_DOG = [0.6, 0.5, -0.7, -0.2]


def test_derived_vector_does_not_use_python_hash(monkeypatch):
    import subprocess, sys
    code = "from tutor.walkthroughs.word_vectors import derived_vector; print(derived_vector('zebra', 5))"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout for seed in ("1", "2")}
    assert len(runs) == 1 and runs.pop().startswith("[")


def test_tokenize_splits_on_white_space():
    assert words.tokenize("  the cat\tsat \n") == ["the", "cat", "sat"]
    assert words.tokenize("   ") == []


def test_embedding_matrix_from_words_embed_and_embeddings():
    x, sources = emb.embedding_matrix(["the", "dog"], dim=None)
    np.testing.assert_array_equal(x, [[1, 0, 1, 0], EXPECTED_DOG])
    assert sources == ["notes", "derived"]
    pair = ("dog", np.array([1.0, 2.0]))
    x, sources = emb.embedding_matrix(["dog", "Dog"], dim=None, embed=[pair])
    np.testing.assert_array_equal(x, [[1, 2], [1, 2]])            # width from --embed
    assert sources == ["--embed", "--embed"]
    spec = parse_spec("1,2;3,4")
    x, _ = emb.embedding_matrix(["a", "b"], dim=None, embeddings=spec)
    np.testing.assert_array_equal(x, [[1, 2], [3, 4]])


@pytest.mark.parametrize("kwargs, option, message", [
    ({"embed": [("cat", np.ones(2)), ("cat", np.ones(3))]}, "--embed",
     "expected one size per word, got 'cat' with 2 and with 3 numbers"),
    ({"embed": [("cat", np.ones(2)), ("cat", np.zeros(2))]}, "--embed",
     "expected each word once, got 'cat' twice with different numbers"),
    ({"embed": [("dog", np.ones(4))]}, "--embed",
     "expected a word of the sentence (the, cat), got 'dog'"),
    ({"embed": [("the", np.ones(2)), ("cat", np.ones(3))]}, "--embed",
     "expected vectors of one size, got 'the' with 2 and 'cat' with 3 numbers"),
    ({"embed": [("the", np.ones(2))], "dim": 4}, "--embed",
     "expected 4 numbers for 'the' (--dim 4), got 2"),
    ({"embeddings": parse_spec("1,2;3,4;5,6")}, "--embeddings",
     "expected 2 rows (one per word of the sentence), got a 3×2 matrix"),
    ({"embeddings": parse_spec("1,2;3,4"), "dim": 3}, "--embeddings",
     "expected 3 columns (--dim 3), got a 2×2 matrix"),
    ({"embeddings": parse_spec("1,2;3,4"), "embed": [("the", np.ones(2))]}, "--embed",
     "expected either --embeddings (the whole X) or --embed (single words), got both"),
])
def test_embedding_mistakes_are_usage_errors(kwargs, option, message):
    kwargs.setdefault("dim", None)
    with pytest.raises(click.BadParameter) as info:
        emb.embedding_matrix(["the", "cat"], **kwargs)
    assert info.value.format_message() == f"Invalid value for '{option}': {message}"


# --- an empty entry is an error, never dropped ------------------------------------------------

@pytest.mark.parametrize("text, where", [("1,2,,", "after entry 2"), ("1,,2;3,4", "after entry 1"),
                                         (",1,2", "at the start"), ("1,2,", "at the end"),
                                         ("1,2;3,,4", "in row 2")])
def test_an_empty_entry_is_an_error_naming_where(text, where):
    with pytest.raises(SpecError, match="empty entry") as info:
        parse_inline(text)
    assert where in str(info.value)


@pytest.mark.parametrize("args, option", [
    (["softmax", "1,2,,"], "NUMBERS"), (["softmax", "1", "2", ""], "NUMBERS"),
    (["layernorm", "1,2,,"], "VECTOR"), (["layernorm", "1,2,3", "--gamma", "1,,2,3"], "--gamma"),
    (["attention", "the cat", "--wq", "1,,2;3,4"], "--wq"),
    (["attention", "the cat", "--embed", "the=1,,0,1"], "--embed"),
    (["scaling", "--dk", "4,,8"], "--dk"),
])
def test_an_empty_entry_on_the_command_line_is_a_one_line_usage_error(args, option):
    from cli_helpers import invoke

    result = invoke(*args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and option in lines[0] and "empty" in lines[0], result.output
    assert "Traceback" not in result.output


# -- matrix files: regular files only, the header of a .npy against the file's size -----------

def _tutor(*args, timeout=60):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    return subprocess.run([sys.executable, "-m", "tutor", *args], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, PYTHONPATH=str(root)))


def test_a_fifo_or_a_device_as_a_matrix_file_is_refused_not_waited_on(tmp_path):
    import os

    (tmp_path / "zero.json").symlink_to("/dev/zero")
    targets = [("zero.json", "is a device")]
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.json")
        targets.append(("pipe.json", r"is a named pipe \(FIFO\)"))
    for name, what in targets:
        done = _tutor("attention", "the cat", "--wq", str(tmp_path / name))
        assert done.returncode == 2
        assert re.search(rf"^Error: Invalid value for '--wq': expected a regular file of at "
                         rf"most 4000000 bytes, got '[^']*' \({what}", done.stderr)


def test_a_npy_header_claiming_more_than_the_file_is_refused_before_allocating(tmp_path):
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)})
    (tmp_path / "big.npy").write_bytes(buffer.getvalue() + b"\0" * 16)
    with pytest.raises(SpecError, match=r"declares shape \(100000, 100000\) of float64 "
                                        r"\(80,000,000,000 bytes\) but 16 bytes"):
        parse_spec(str(tmp_path / "big.npy"))


# --- one rule for the attention inputs: the command, the lessons, the explorer ----------------

from cli_helpers import invoke, invoke_json  # noqa: E402

from tutor.errors import SettingError  # noqa: E402
from tutor.explore.state import ExploreState  # noqa: E402
from tutor.lessons.compute import run_computation  # noqa: E402
from tutor.lessons.references import ComputeError  # noqa: E402
from tutor.walkthroughs.inputs import (Given, InputError, attention_inputs,  # noqa: E402
                                       random_matrix, random_tenths)

WEIGHT_NAMES = ("w_q", "w_k", "w_v", "w_o")


def _drawn(seed, option, rows=4, cols=4):
    """The rule written out: random tenths from numpy's default_rng([seed, the first 4 bytes
    of sha256(the option's name), little-endian])."""
    import hashlib

    key = int.from_bytes(hashlib.sha256(option.encode()).digest()[:4], "little")
    return random_tenths(np.random.default_rng([seed, key]), rows, cols)


@pytest.mark.parametrize("seed", [0, 3, 4_000_000_000])
def test_one_seed_gives_the_same_weights_in_the_commands_the_lessons_and_the_explorer(seed):
    s = str(seed)
    command = invoke_json("attention", "the cat sat", "--heads", "2", "--wq", "random",
                          "--wk", "random", "--wv", "random", "--wo", "random",
                          "--seed", s)["matrices"]
    multihead = invoke_json("multihead", "the cat sat", "--heads", "2", "--seed", s)["matrices"]
    backward = invoke_json("backward", "the cat sat", "--wq", "random", "--wk", "random",
                           "--wv", "random", "--seed", s)["matrices"]
    lesson = run_computation("attention", {"heads": 2, "weights": "random", "seed": seed}).trace
    lesson_backward = run_computation("backward", {"weights": "random", "seed": seed}).trace
    state = ExploreState(heads=2)
    state.random_weights(seed)
    explorer = state.run().recording.trace
    for name in WEIGHT_NAMES:
        expected = _drawn(seed, "--" + name.replace("_", ""))             # [4, 4]
        for where, matrices in (("attention", command), ("multihead", multihead),
                                ("lesson", lesson), ("explorer", explorer),
                                ("backward", backward), ("lesson backward", lesson_backward)):
            if name == "w_o" and "backward" in where:
                continue                                                # one head: no Wo
            np.testing.assert_array_equal(np.asarray(matrices[name]), expected,
                                          err_msg=f"{name} in {where}, seed {seed}")
    assert len({np.asarray(command[name]).tobytes() for name in WEIGHT_NAMES}) == 4


def test_a_random_matrix_is_the_same_whatever_else_is_random():
    alone = invoke_json("attention", "the cat sat", "--wk", "random", "--seed", "5")["matrices"]
    every = run_computation("attention", {"weights": "random", "seed": 5}).trace
    np.testing.assert_array_equal(alone["w_k"], every["w_k"])
    np.testing.assert_array_equal(alone["w_q"], np.eye(4))
    np.testing.assert_array_equal(random_matrix(5, "wk", 4, 4), every["w_k"])


def test_the_rule_derives_dk_and_dv_from_the_given_matrices():
    x = np.eye(3, 4)                                                    # [3, 4]
    inputs = attention_inputs(["a", "b", "c"], x, wq=Given(np.ones((4, 2)), "inline"),
                              wv=Given(np.ones((4, 3))), heads=1)
    assert inputs.w_k.shape == (4, 2) and inputs.w_v.shape == (4, 3) and inputs.w_o is None
    assert inputs.kinds == {"w_q": "inline", "w_k": "identity", "w_v": "given",
                            "w_o": "identity"}
    two = attention_inputs(["a", "b", "c"], x, heads=2)
    np.testing.assert_array_equal(two.w_o, np.eye(4))                   # several heads: Wo = I


@pytest.mark.parametrize("kwargs, field, message", [
    ({"wq": Given(np.ones((3, 4)))}, "wq",
     "expected 4 rows (the embeddings have 4 columns), got a 3×4 matrix"),
    ({"dk": 3, "wq": Given(np.ones((4, 2)))}, "wq", "expected 3 columns (--dk 3), got a 4×2 matrix"),
    ({"wq": Given(np.ones((4, 2))), "wk": Given(np.ones((4, 3)))}, "wk",
     "expected 2 columns (like --wq: 2), got a 4×3 matrix"),
    ({"heads": 3}, "heads", "expected a number that divides the query/key width 4, got 3"),
    ({"heads": 17}, "heads", "expected a number of heads from 1 to 16, got 17"),
    ({"wo": "random"}, "wo", "expected --heads 2 or more (Wo joins the heads), got --heads 1"),
    ({"square": True, "wv": Given(np.ones((4, 2)))}, "wv",
     "expected a 4×4 matrix (d_model = 4), got 4×2"),
    ({"square": True, "heads": 3}, "heads", "expected a number that divides d_model 4, got 3"),
])
def test_the_rule_raises_one_error_naming_the_field(kwargs, field, message):
    with pytest.raises(InputError) as info:
        attention_inputs(["a", "b", "c"], np.eye(3, 4), **kwargs)
    assert info.value.field == field
    assert info.value.worded({"dk": "--dk", "wq": "--wq", "heads": "--heads"}) == message


def test_each_front_end_names_the_field_in_its_own_terms():
    result = invoke("attention", "the cat sat", "--heads", "3")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == ("Error: Invalid value for '--heads': expected a "
                                              "number that divides the query/key width 4, got 3")
    with pytest.raises(ComputeError, match="^heads: expected a number that divides dim 4, got 3$"):
        run_computation("attention", {"heads": 3})
    state = ExploreState(heads=2)
    state.weights["w_o"] = np.ones((2, 4))                              # a wrong shape
    with pytest.raises(SettingError, match=r"^Wo: expected a 4×4 matrix \(d_model = 4\), "
                                           r"got 2×4$") as info:
        state.run()
    assert info.value.name == "Wo"
