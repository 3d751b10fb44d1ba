"""Gradients and optimizer steps against PyTorch autograd: golden files made by
tests/golden/make_grad_golden.py (float64), compared here without torch, to 1e-9."""

import json
from pathlib import Path

import numpy as np
import pytest

from tutor.nn import Seq2Seq, Transformer, TransformerConfig
from tutor.nn.optim import Adam, AdamW, NoamSchedule
from tutor.weightfiles import load_npz

GOLDEN = sorted((Path(__file__).parent / "golden" / "grad").glob("*.npz"))
TOL = 1e-9


def load(path):
    arrays = load_npz(path)
    meta = json.loads(str(arrays.pop("meta")))
    groups = {}
    for group, names in meta["names"].items():
        flat, start, out = arrays.pop(group), 0, {}
        for name, shape in names:
            size = int(np.prod(shape))
            out[name] = flat[start:start + size].reshape(shape)
            start += size
        assert start == flat.size
        groups[group] = out
    return meta, groups, arrays


def config_of(cfg):
    return TransformerConfig(cfg["d_model"], cfg["nhead"], cfg["num_encoder_layers"],
                             cfg["num_decoder_layers"], cfg["dim_feedforward"],
                             cfg["norm_first"], cfg["activation"], cfg["layer_norm_eps"])


def assert_grads(ours, golden):
    assert sorted(ours) == sorted(golden)
    for name, expected in golden.items():
        assert ours[name].shape == expected.shape, name
        err = np.max(np.abs(ours[name] - expected))
        assert err <= TOL, f"{name}: max error {err:.3g}"


def test_golden_files_exist():
    kinds = {json.loads(str(load_npz(p)["meta"]))["kind"] for p in GOLDEN}
    assert len(GOLDEN) >= 6 and kinds == {"seq2seq", "transformer"}


def seq2seq_cases():
    return [p for p in GOLDEN if p.name.startswith("seq2seq")]


@pytest.mark.parametrize("path", seq2seq_cases(), ids=lambda p: p.stem)
def test_seq2seq_loss_and_grads(path):
    meta, groups, arrays = load(path)
    cfg = meta["config"]
    model = Seq2Seq(groups["param"], config_of(cfg))
    loss, grads = model.loss_and_grads(arrays["in.src_ids"], arrays["in.tgt_ids"],
                                       pad_id=cfg["pad_id"],
                                       label_smoothing=cfg["label_smoothing"])
    assert abs(float(loss) - float(arrays["out.loss"])) <= TOL
    assert_grads(grads, groups["grad"])
    assert all(g.dtype == np.float64 for g in grads.values())


@pytest.mark.parametrize("path", seq2seq_cases(), ids=lambda p: p.stem)
def test_optimizer_three_steps(path):
    meta, groups, arrays = load(path)
    cfg, spec = meta["config"], meta["config"]["optimizer"]
    model = Seq2Seq({k: v.copy() for k, v in groups["param"].items()}, config_of(cfg))
    lr = spec["lr"] if isinstance(spec["lr"], float) else NoamSchedule(*spec["lr"]["noam"])
    opt = {"Adam": Adam, "AdamW": AdamW}[spec["name"]](
        model.params, lr=lr, betas=tuple(spec["betas"]), eps=spec["eps"],
        weight_decay=spec["weight_decay"])
    losses = []
    for _ in range(3):
        loss, grads = model.loss_and_grads(arrays["in.src_ids"], arrays["in.tgt_ids"],
                                           pad_id=cfg["pad_id"],
                                           label_smoothing=cfg["label_smoothing"])
        losses.append(float(loss))
        opt.step(grads)
    np.testing.assert_allclose(losses, arrays["out.losses"], rtol=0, atol=TOL)
    assert opt.step_count == 3
    assert_grads(model.params, groups["step3"])                        # the updated weights
    assert not np.allclose(losses[0], losses[2])                       # the steps did something


@pytest.mark.parametrize("path", [p for p in GOLDEN if p.name.startswith("transformer")],
                         ids=lambda p: p.stem)
def test_transformer_forward_and_grads(path):
    meta, groups, arrays = load(path)
    model = Transformer(groups["param"], config_of(meta["config"]))
    masks = {k[3:]: v for k, v in arrays.items() if k.startswith("in.") and k.endswith("mask")}
    out, grads, grad_src, grad_tgt = model.forward_and_grads(
        arrays["in.src"], arrays["in.tgt"], arrays["in.grad_output"], **masks, input_grads=True)
    assert np.max(np.abs(out - arrays["out.output"])) <= TOL
    golden = dict(groups["grad"])
    expected_src, expected_tgt = golden.pop("src"), golden.pop("tgt")
    assert_grads(grads, golden)
    assert np.max(np.abs(grad_src - expected_src)) <= TOL
    assert np.max(np.abs(grad_tgt - expected_tgt)) <= TOL
    out2, grads2 = model.forward_and_grads(arrays["in.src"], arrays["in.tgt"],
                                           arrays["in.grad_output"], **masks)
    assert np.array_equal(out, out2) and all(np.array_equal(grads[k], grads2[k]) for k in grads)
