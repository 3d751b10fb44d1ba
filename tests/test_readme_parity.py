"""README.md's parity paragraph (issue 12, item 4) stays true to what torch measured."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
MEASURED = Path(__file__).resolve().parent / "golden" / "fast_path.txt"


def readme():
    if not README.exists():                                            # tests run from a wheel
        pytest.skip("README.md is not beside the tests")
    return README.read_text(encoding="utf-8")


def test_parity_paragraph_quotes_the_measured_fast_path_numbers():
    """The README says which PyTorch result is matched, and every number it quotes about the
    fast path is one that tests/golden/fast_path.py measured (its output is kept beside it)."""
    text = readme().split("### Which PyTorch result is matched", 1)[1]
    text = re.split(r"\n##+ ", text, maxsplit=1)[0]
    for phrase in ("standard path", "autograd enabled", "torch.no_grad()", "fast path",
                   "treated as boolean", "final norm's bias", "NaN",
                   "`layer_norm_eps` is not in a state dict"):
        assert phrase in " ".join(text.split()), phrase
    measured = MEASURED.read_text(encoding="utf-8")
    assert "torch 2.13.0" in measured and "torch 2.13.0" in text
    quoted = re.findall(r"\d\.\de[-+]\d\d|\b0\.\d\d\b", text.split("Measured with", 1)[1])
    assert len(quoted) >= 8
    for number in quoted:
        assert number in measured, number
