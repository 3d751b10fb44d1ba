"""The engine against PyTorch: golden files made by tests/golden/make_golden.py with torch
(float64), compared here without torch, to 1e-9 in float64 and 1e-4 in float32."""

import json
from pathlib import Path

import numpy as np
import pytest

from tutor import Transformer, TransformerDecoder, TransformerEncoder
from tutor.nn import multi_head_attention
from tutor.nn.layers import decoder_layer, encoder_layer
from tutor.nn.params import (ParamView, TransformerConfig, decoder_layer_shapes,
                             encoder_layer_shapes, validate_state)
from tutor.weightfiles import load_npz
from tutor.resources import lessons_dir

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.npz"))
TOLERANCE = {np.float64: 1e-9, np.float32: 1e-4}


def load(path, dtype):
    arrays = load_npz(path)
    meta = json.loads(str(arrays.pop("meta")))

    def group(prefix):
        return {k[len(prefix):]: (v.astype(dtype) if v.dtype.kind == "f" else v)
                for k, v in arrays.items() if k.startswith(prefix)}

    return meta, group("param."), group("in."), group("out.")


def layer_config(cfg):
    return TransformerConfig(cfg["d_model"], cfg["nhead"], 1, 1, cfg["dim_feedforward"],
                             cfg["norm_first"], cfg["activation"], cfg["layer_norm_eps"])


def run(meta, params, given):
    """Our outputs for one golden file, by the kind of module it holds."""
    kind, cfg = meta["kind"], meta["config"]
    if kind == "mha":
        key = given["key"]
        value = key if np.array_equal(given["value"], key) and key.shape == given["value"].shape \
            else given["value"]
        query = key if np.array_equal(given["query"], key) and key.shape == given["query"].shape \
            else given["query"]
        out, weights = multi_head_attention(
            query, key, value, params, cfg["num_heads"], attn_mask=given.get("attn_mask"),
            key_padding_mask=given.get("key_padding_mask"),
            average_attn_weights=cfg.get("average_attn_weights", False),
            add_zero_attn=cfg.get("add_zero_attn", False), is_causal=cfg.get("is_causal", False),
            batch_first=cfg["batch_first"])
        return {"output": out, "weights": weights}
    options = dict(norm_first=cfg["norm_first"], activation=cfg["activation"],
                   layer_norm_eps=cfg["layer_norm_eps"], batch_first=cfg["batch_first"])
    call = cfg.get("call", {})
    if kind == "encoder":
        model = TransformerEncoder.from_state_dict(params, cfg["nhead"], **options)
        assert (model.config.num_encoder_layers, model.has_norm) == (cfg["num_layers"], cfg["final_norm"])
        assert model.config.bias == cfg["bias"]
        out = {"output": model.encode(given["src"], given.get("mask"),
                                      given.get("src_key_padding_mask"), call.get("is_causal"))}
        if "src_unbatched" in given:
            out["output_unbatched"] = model(given["src_unbatched"], given.get("mask"),
                                            given.get("src_key_padding_mask_unbatched"),
                                            call.get("is_causal"))
        return out
    if kind == "decoder":
        model = TransformerDecoder.from_state_dict(params, cfg["nhead"], **options)
        assert (model.config.num_decoder_layers, model.has_norm) == (cfg["num_layers"], cfg["final_norm"])
        out = {"output": model.decode(given["tgt"], given["memory"], given.get("tgt_mask"),
                                      given.get("memory_mask"), tgt_is_causal=call.get("tgt_is_causal"),
                                      memory_is_causal=call.get("memory_is_causal", False))}
        if "tgt_unbatched" in given:
            out["output_unbatched"] = model(
                given["tgt_unbatched"], given["memory_unbatched"], given.get("tgt_mask"),
                memory_key_padding_mask=given.get("memory_key_padding_mask_unbatched"),
                tgt_is_causal=call.get("tgt_is_causal"))
        return out
    if kind == "encoder_layer":
        config = layer_config(cfg)
        view = ParamView(validate_state(params, encoder_layer_shapes("", cfg["d_model"], cfg["dim_feedforward"])), "")
        return {"output": encoder_layer(given["src"], view, config, src_mask=given.get("src_mask"),
                                        src_key_padding_mask=given.get("src_key_padding_mask"))}
    if kind == "decoder_layer":
        config = layer_config(cfg)
        view = ParamView(validate_state(params, decoder_layer_shapes("", cfg["d_model"], cfg["dim_feedforward"])), "")
        return {"output": decoder_layer(
            given["tgt"], given["memory"], view, config, tgt_mask=given.get("tgt_mask"),
            memory_mask=given.get("memory_mask"),
            tgt_key_padding_mask=given.get("tgt_key_padding_mask"),
            memory_key_padding_mask=given.get("memory_key_padding_mask"))}
    assert kind == "transformer", kind
    model = Transformer.from_state_dict(params, cfg["nhead"], **options)
    assert model.config.bias == cfg.get("bias", True)
    assert model.config.num_encoder_layers == cfg["num_encoder_layers"]
    assert model.config.num_decoder_layers == cfg["num_decoder_layers"]
    masks = {k: v for k, v in given.items() if k.endswith("mask")}
    return {"output": model.forward(given["src"], given["tgt"], **masks, **call),
            "memory": model.encode(given["src"], masks.get("src_mask"),
                                   masks.get("src_key_padding_mask"))}


def test_golden_files_are_present_and_cover_the_configurations():
    kinds = [json.loads(str(load_npz(p)["meta"]))["kind"] for p in GOLDEN]
    assert len(GOLDEN) >= 6
    assert {"mha", "encoder_layer", "decoder_layer", "transformer"} <= set(kinds)
    configs = [json.loads(str(load_npz(p)["meta"]))["config"] for p in GOLDEN]
    assert {c.get("norm_first") for c in configs} >= {True, False}
    assert {c.get("activation") for c in configs} >= {"relu", "gelu", "gelu_tanh"}
    assert {"encoder", "decoder"} <= set(kinds)                        # the stacks on their own
    assert {c.get("bias", True) for c in configs} == {True, False}
    assert {c["batch_first"] for c in configs} == {True, False}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_matches_pytorch(path, dtype):
    meta, params, given, expected = load(path, dtype)
    ours = run(meta, params, given)
    assert set(expected) <= set(ours), f"{path.name}: outputs {sorted(expected)} not all computed"
    for name, reference in expected.items():
        assert ours[name].dtype == dtype, f"{path.name}: {name} came out as {ours[name].dtype}"
        np.testing.assert_allclose(ours[name], reference.astype(np.float64), rtol=0,
                                   atol=TOLERANCE[dtype], err_msg=f"{path.name}: {name}")


def test_lessons_folder_is_found():
    folder = lessons_dir()
    assert (folder / "README.md").is_file()
    assert folder.name in ("_lessons", "lessons")
