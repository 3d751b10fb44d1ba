"""tutor.walkthroughs.models: the one --model contract, an adapter per model kind with the
same interface (read, blocks, head, heads, attention_blocks, writes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tutor.limits import MAX_MODEL_TOKENS
from tutor.training.shipped import load_shipped_model
from tutor.walkthroughs.models import HuggingFaceModel, ModelInputError, ToyModel, adapt

pytest.importorskip("safetensors")
pytest.importorskip("tokenizers")

from tutor.pretrained import load_pretrained  # noqa: E402
from tutor.walkthroughs.toy_heads import toy_model_head  # noqa: E402
from tutor.walkthroughs.pretrained import model_head  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def toy():
    return adapt(load_shipped_model("reverse"))


@pytest.fixture(scope="module", params=["bert", "gpt2"])
def hf(request):
    return adapt(load_pretrained(DATA / f"hf_tiny_{request.param}", dtype=np.float64))


def test_adapt_gives_one_adapter_per_kind(toy, hf):
    assert isinstance(toy, ToyModel) and toy.kind == "toy" and toy.writes
    assert isinstance(hf, HuggingFaceModel) and hf.kind == "pretrained"
    assert hf.writes == (hf.model.family.name == "gpt2")
    assert adapt(toy) is toy
    with pytest.raises(TypeError, match="expected a toy or a pretrained model"):
        adapt(object())


def test_read_names_the_limit(toy, hf):
    assert toy.read("3 1 4") == ["3", "1", "4"]
    with pytest.raises(ModelInputError, match="expected 1 to 8 digits for reverse"):
        toy.read("abc")
    with pytest.raises(ModelInputError, match="expected 1 to 8 digits"):
        toy.read("123456789")
    assert hf.read("the cat sat") == list(hf.model.encode("the cat sat").tokens)
    positions = hf.model.config.max_positions                          # 24 and 16: below the cap
    assert positions < MAX_MODEL_TOKENS
    with pytest.raises(ModelInputError, match=f"reads at most {positions}"):
        hf.read(" ".join(["cat"] * (MAX_MODEL_TOKENS + 1)))
    with pytest.raises(ModelInputError, match="expected at least 99 tokens"):
        hf.read("the cat", least=99)


def test_a_head_is_the_walkthrough_of_its_kind(toy, hf):
    got = toy.head("3 1 4", 0, 1, "decoder")
    want = toy_model_head(toy.trained, "314", 0, 1, "decoder")
    np.testing.assert_array_equal(got["weights"], want["weights"])
    assert got.info["block"] == "decoder"
    got = hf.head("the cat sat", 1, 0)
    np.testing.assert_array_equal(got["weights"], model_head(hf.model, "the cat sat", 1, 0)["weights"])


def test_attention_blocks_are_titled_by_kind(toy, hf):
    titles = [b.title for b in toy.attention_blocks(toy.heads("314"))]
    n = toy.n_layer("encoder")
    assert titles[:n] == [f"encoder layer {i + 1} · self-attention" for i in range(n)]
    assert titles[n:n + 2] == ["decoder layer 1 · masked self-attention",
                               "decoder layer 1 · attention over the encoder"]
    blocks = hf.attention_blocks(hf.heads("the cat sat"))
    kind = "masked self-attention" if hf.model.config.causal else "self-attention"
    assert [b.title for b in blocks] == [f"layer {i + 1} · {kind}" for i in range(hf.n_layer())]
    assert all(b.causal == hf.model.config.causal for b in blocks)


def test_a_dates_model_reads_a_written_date_one_character_a_token():
    dates = adapt(load_shipped_model("dates"))
    assert dates.read("7 Dec  2026") == ["7", "␣", "d", "e", "c", "␣", "2", "0", "2", "6"]
    with pytest.raises(ModelInputError, match="expected letters a-z, digits, spaces, ',' and '.' "
                                              "in a date, got '/' \\(dates, a toy model"):
        dates.read("7/12/2026")
    with pytest.raises(ModelInputError, match="expected a date of 1 to 32 characters, got 40"):
        dates.read("x" * 40)
    recording = dates.heads("the 7th of December 2026")
    assert recording.info["answer"] == "2026-12-07" and recording.info["note"] is None
    blocks = dates.attention_blocks(recording)
    assert blocks[0].keys == dates.read("the 7th of December 2026")
    got = dates.head("7 Dec 2026", 1, 0, "decoder")
    assert got.info["tokens"] == ["<bos>", *"2026-12-07"]
    assert dates.heads("31 February 2026").info["note"].startswith("February 2026 has 28 days")
