"""README.md stays true: its set-up commands, and the limits it documents equal the code's."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def readme():
    if not README.exists():                                            # tests run from a wheel
        pytest.skip("README.md is not beside the tests")
    return README.read_text(encoding="utf-8")


def test_opens_with_the_two_set_up_commands():
    blocks = re.findall(r"```sh\n(.*?)```", readme(), re.S)
    assert blocks[0].strip() == 'pip install . && tutor attention "the cat sat"'
    assert blocks[1].strip() == 'pip install ".[test]" && pytest'


def test_documented_limits_are_the_enforced_ones():
    from tutor.cli import inputs, options, scaling

    text = readme().split("## Limits and errors", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip()
            for line in text.splitlines() if line.startswith("| ") and "---" not in line}
    assert rows["words in a sentence"] == str(inputs.MAX_TOKENS)
    assert rows["`--dim`, `--dk` (attention, posenc, multihead, encode, transformer)"] == str(inputs.MAX_DIM)
    assert rows["`--heads`"] == str(inputs.MAX_HEADS)
    assert rows["`--layers` (random models), `--ff`"] == f"{options.MAX_LAYERS}, {options.MAX_FF}"
    assert rows["`--positions` (posenc)"] == str(inputs.MAX_POSITIONS)
    assert rows["numbers in an inline vector (softmax, layernorm)"] == str(inputs.MAX_VECTOR)
    assert rows["a matrix file (`.npy`, `.json`, `.csv`)"] == f"{inputs.MAX_FILE_BYTES:,} bytes"
    assert rows["`--src-vectors` / `--tgt-vectors`"] == (
        f"{inputs.MAX_BATCH} batch items, {inputs.MAX_SEQ} positions, d_model {inputs.MAX_MODEL_DIM}")
    assert rows["`--weights`"] == (f"d_model {inputs.MAX_MODEL_DIM}, "
                                   f"{options.MAX_WEIGHTS_BYTES // 2**30} GiB of arrays")
    assert rows["`scaling`"] == (
        f"{scaling.MAX_DK_VALUES} values of `--dk` up to {scaling.MAX_DK}, `--samples` "
        f"{scaling.MAX_SAMPLES}, `--keys` {scaling.MAX_KEYS}, samples × keys × dk "
        f"{scaling.MAX_ELEMENTS:,}")
    assert rows["`--precision`"] == f"{options.MAX_PRECISION} decimals"
    assert rows["the size of any number given (inline, in a file, `--scale`, ...)"] == f"{inputs.MAX_ABS:,.0f}"
