"""The explorer's whole block: the Block tab of ``tutor explore`` (residual add, layer norm,
feed-forward, second add) and the block screen of ``tutor explore --model`` (b), with its
next-token bar and the t/T, k/K, p/P keys. The numbers are checked against the engine run
on its own (an encoder layer built from the same weights, a model's forward pass) and the
bar against softmax(logits / T) filtered by top-k and top-p written out here; one app per
scenario, driven by Pilot."""

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tutor.explore.state import ExploreState
from tutor.nn.layers import encoder_layer
from tutor.nn.params import ParamView, TransformerConfig
from tutor.pretrained import load_pretrained
from tutor.training.shipped import load_shipped_model
from tutor.walkthroughs.block import FF_RATIO, model_block, next_token, sentence_ff_weights
from tutor.walkthroughs.models import adapt

pytest.importorskip("textual")

from tutor.explore.app import ExploreApp, MatrixGrid  # noqa: E402
from tutor.explore.block import BlockState  # noqa: E402
from tutor.explore.model_app import ModelApp  # noqa: E402
from tutor.explore.models import ModelState  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


def encoder_layer_output(state: ExploreState) -> np.ndarray:
    """The explorer's sentence through tutor.nn.layers.encoder_layer (post-norm, ReLU),
    its attention's weights in PyTorch's layout: in_proj rows Wqᵀ, Wkᵀ, Wvᵀ; out_proj Woᵀ
    (I for one head); linear1 W1, linear2 W2; layer norms γ = 1, β = 0."""
    d = state.d_model
    w = state.weights
    w1, b1, w2, b2 = sentence_ff_weights(d, state.seed)
    out_proj = w["w_o"].T if state.heads > 1 else np.eye(d)
    params = {"self_attn.in_proj_weight": np.concatenate([w["w_q"].T, w["w_k"].T, w["w_v"].T]),
              "self_attn.in_proj_bias": np.zeros(3 * d),
              "self_attn.out_proj.weight": out_proj, "self_attn.out_proj.bias": np.zeros(d),
              "linear1.weight": w1, "linear1.bias": b1, "linear2.weight": w2,
              "linear2.bias": b2}
    for norm in ("norm1", "norm2"):
        params[f"{norm}.weight"], params[f"{norm}.bias"] = np.ones(d), np.zeros(d)
    config = TransformerConfig(d_model=d, nhead=state.heads, dim_feedforward=FF_RATIO * d,
                               activation="relu", layer_norm_eps=1e-5, norm_first=False)
    return encoder_layer(state.x()[None], ParamView(params, ""), config)[0]   # [n, d]


@pytest.mark.parametrize("heads", [1, 2])
def test_the_block_tab_is_the_encoder_layer_of_the_same_weights(heads):
    state = ExploreState(sentence="the cat sat on the mat", heads=heads)
    state.random_weights(7)
    view = state.run()
    block = view.block
    np.testing.assert_allclose(block.output, encoder_layer_output(state), atol=1e-12)
    # the residual: X + the attention the earlier tabs show (step 6's output / 8's Wo)
    np.testing.assert_allclose(block["add1"], state.x() + view.recording.output[0], atol=1e-15)
    np.testing.assert_allclose(block["norm1.out"].mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(block["norm1.out"].var(axis=1), 1, atol=1e-4)   # ε = 1e-5
    assert np.all(block["ff.activated"] == np.maximum(block["ff.hidden"], 0))  # ReLU
    step = view.block_step
    assert step.key == "block" and "post-norm" in step.formula
    names = [m.name for part in step.parts for m in part.matrices]
    assert names[:3] == ["X", "Attention(X)", "X + Attention"]
    assert all(m.rows == ["the#1", "cat", "sat", "on", "the#5", "mat"]
               for part in step.parts for m in part.matrices)


def test_a_worked_line_spells_out_the_residual_and_the_norm():
    state = ExploreState()                                        # the worked example
    view = state.run()
    x, attn = state.x(), view.recording.output[0]
    assert state.worked(view, "add1", 0, 0) == [
        f"add1(the, d1) = {x[0, 0]:.2f} + {attn[0, 0]:.2f} = {x[0, 0] + attn[0, 0]:.2f}"]
    line = state.worked(view, "norm1.out", 1, 2)[0]
    mean = view.block["add1"][1].mean()
    assert line.startswith(f"norm1(cat, d3): mean {mean:.2f}")


def _grid_values(app, key):
    grids = [g for g in app.active_pane().query(MatrixGrid) if g.view.key == key]
    return np.asarray(grids[0].view.values)


@pytest.fixture(scope="module")
def sentence_run():
    """One explorer app: open the Block tab (9), then random weights (r), then a new
    sentence, then an edit of X, noting the tab's numbers after each."""
    seen = {}

    async def main():
        app = ExploreApp(ExploreState())
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.press("9")
            await pilot.pause()
            seen["tab"] = app.query_one("TabbedContent").active
            seen["first"] = (_grid_values(app, "norm2.out"), app.view_.block.output.copy())
            await pilot.press("r")
            await pilot.pause()
            seen["random"] = (_grid_values(app, "norm2.out"), app.view_.block.output.copy(),
                              app.state.seed)
            app.state.set_sentence("a dog ran home")
            await app.recompute()
            await pilot.pause()
            seen["sentence"] = (_grid_values(app, "add1"), list(app.active_pane().query(
                MatrixGrid).first().view.rows), app.view_.block["add1"].copy())
            app.state.set_cell("x", 0, 0, 0.5)                 # what enter on X(a, d1) does
            await app.recompute()
            await pilot.pause()
            seen["nudged"] = (_grid_values(app, "input"), app.state.x().copy())
            await pilot.press("tab")
            await pilot.pause()
            seen["worked"] = str(app.query_one("#worked").render())

    asyncio.run(main())
    return seen


def test_key_9_opens_the_block_tab_with_the_engines_numbers(sentence_run):
    assert sentence_run["tab"] == "step-block"
    shown, recorded = sentence_run["first"]
    np.testing.assert_array_equal(shown, recorded)


def test_every_edit_flows_into_the_block_tab_at_once(sentence_run):
    first = sentence_run["first"][1]
    shown, recorded, seed = sentence_run["random"]
    np.testing.assert_array_equal(shown, recorded)
    assert seed == 1 and not np.allclose(recorded, first)               # new weights, new block
    state = ExploreState(sentence="a dog ran home")
    state.random_weights(1)
    shown, rows, recorded = sentence_run["sentence"]
    assert rows == ["a", "dog", "ran", "home"]
    np.testing.assert_array_equal(shown, recorded)
    np.testing.assert_allclose(recorded, state.run().block["add1"], atol=1e-12)
    shown, x = sentence_run["nudged"]
    np.testing.assert_array_equal(shown, x)                             # the block's X follows
    assert sentence_run["worked"].startswith("Worked: ")


# --- the block screen of a model ------------------------------------------------------------
def softmax_filtered(logits, temperature, top_k=None, top_p=None):
    """softmax(logits / T), then the top_k largest, then the smallest set of most likely
    tokens reaching top_p, renormalised: the definitions (Fan et al. 2018, Holtzman et al.
    2020) written out with a sort."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    order = np.argsort(-z, kind="stable")
    keep = np.zeros(z.shape, bool)
    keep[order[:top_k or len(z)]] = True
    probs = np.where(keep, np.exp(z - z.max()), 0)
    probs /= probs.sum()
    if top_p is not None:
        sorted_p = probs[order]
        before = np.cumsum(sorted_p) - sorted_p
        keep2 = np.zeros(z.shape, bool)
        keep2[order[(before < top_p) | (np.arange(len(z)) == 0)]] = True
        keep &= keep2
        probs = np.where(keep, np.exp(z - z.max()), 0)
        probs /= probs.sum()
    return probs


@pytest.mark.parametrize("temperature, top_k, top_p", [
    (1.0, None, None), (0.5, None, None), (2.0, 3, None), (1.0, None, 0.5), (0.7, 5, 0.9)])
def test_the_bar_is_softmax_of_logits_over_t_filtered(temperature, top_k, top_p):
    logits = np.array([2.0, 1.0, 0.5, 3.0, -1.0, 0.0, 2.5])
    bar = next_token(logits, temperature=temperature, top_k=top_k, top_p=top_p, top=4)
    np.testing.assert_allclose(bar.output, softmax_filtered(logits, temperature, top_k, top_p),
                               atol=1e-12)
    assert bar["top_ids"].tolist() == np.argsort(-logits, kind="stable")[:4].tolist()
    kept = bar["kept"][bar["top_ids"]]
    assert kept.tolist() == sorted(kept.tolist(), reverse=True)        # kept first, then cut


@pytest.fixture(scope="module")
def gpt2():
    return load_pretrained(DATA / "hf_tiny_gpt2", dtype=np.float64)


def test_a_models_block_is_its_forward_pass_layer(gpt2):
    adapter = adapt(gpt2)
    found = adapter.encoding("the cat sat")
    hidden = gpt2.forward(np.asarray(found.ids), output_attentions=False).hidden_states
    block = model_block(adapter, "the cat sat", 0)
    np.testing.assert_allclose(block["input"], hidden[0], atol=1e-12)
    np.testing.assert_allclose(block.output, hidden[1], atol=1e-12)     # layer 1's output
    assert block.info["norm_first"] and block.info["norm"] == "layer norm"  # GPT-2: pre-norm
    np.testing.assert_allclose(block["add1"], block["input"] + block["attn_out"], atol=1e-12)
    np.testing.assert_allclose(block["add2"], block["add1"] + block["ff.out"], atol=1e-12)
    logits = gpt2.lm_logits(gpt2.forward(np.asarray(found.ids)).last_hidden_state[-1])
    np.testing.assert_allclose(block["logits"], logits, atol=1e-12)


def test_a_llama_block_shows_rmsnorm_and_the_swiglu_gate():
    llama = load_pretrained(DATA / "tiny_llama.gguf")
    adapter = adapt(llama)
    block = model_block(adapter, "the cat sat", 1)
    hidden = llama.forward(np.asarray(adapter.encoding("the cat sat").ids),
                           output_attentions=False).hidden_states
    np.testing.assert_allclose(block["input"], hidden[1], rtol=1e-5, atol=1e-6)
    assert block.info["norm"] == "RMSNorm" and block.info["activation"] == "swiglu"
    gate, up = block["ff.gate"], block["ff.up"]
    np.testing.assert_allclose(block["ff.silu"], gate / (1 + np.exp(-gate)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(block["ff.activated"], block["ff.silu"] * up, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(block["add1"], block["input"] + block["attn_out"],
                               rtol=1e-5, atol=1e-6)
    x = block["input"].astype(np.float64)
    ms = (x ** 2).mean(axis=1, keepdims=True)
    np.testing.assert_allclose(block["norm1.mean_square"], ms, rtol=1e-5)
    step = BlockState(ModelState(llama, "the cat sat")).step()
    ff = next(p for p in step.parts if p.heading.startswith("Feed-forward"))
    assert [m.name for m in ff.matrices] == ["gate", "SiLU(gate)", "up", "SiLU(gate) ⊙ up",
                                             "FFN"]
    assert [p.heading for p in step.parts][0] == "RMSNorm before attention"   # pre-norm


def test_a_toy_decoder_layer_adds_its_attention_over_the_encoder():
    dates = load_shipped_model("dates")
    state = ModelState(dates, "7 December 2026")
    state.block = 2                                      # decoder layer 1 · masked self-attention
    block = BlockState(state)
    rec = block.recording
    assert (block.layer, block.side) == (0, "decoder")
    assert rec.tokens[0] == "<bos>" and "".join(rec.tokens[1:]) == "2026-12-07"
    np.testing.assert_allclose(rec["add_cross"], rec["norm1.out"] + rec["cross_out"], atol=1e-5)
    # post-norm: the first token's next-token bar is the model's first output, '2'
    assert block.bar_rows()[0][0] == "2"
    assert any(p.heading == "Attention over the encoder" for p in block.step().parts)


@pytest.fixture(scope="module")
def model_run(gpt2):
    """One model explorer on the tiny GPT-2: b, then t, k k k, p p, 0, ↓, escape; noting the
    state's settings, the bar's rows and the screen's text after each."""
    seen = {}

    async def main():
        app = ModelApp(ModelState(gpt2, "the cat sat"))
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.press("b")
            await pilot.pause()
            screen = app.screen
            state = screen.state

            def note(name):
                bar = str(screen.query_one("#bar").render())
                seen[name] = (state.temperature, state.top_k, state.top_p,
                              state.bar.output.copy(), bar, state.settings_text())

            seen["logits"] = state.recording["logits"].copy()
            seen["title"] = state.recording.info["layer_title"]
            note("start")
            await pilot.press("t")
            note("t")
            await pilot.press("k", "k", "k", "k")
            note("k")
            await pilot.press("p", "p", "p", "p", "p")
            note("p")
            await pilot.press("0")
            note("reset")
            await pilot.press("down")
            await pilot.pause()
            seen["down"] = state.recording.info["layer_title"]
            await pilot.press("left", "e")                 # the heads screen's keys: nothing
            await pilot.press("escape")
            await pilot.pause()
            seen["back"] = (app.screen is app.screen_stack[0], app.state.block)

    asyncio.run(main())
    return seen


def test_b_opens_the_block_with_the_bar_of_the_model(model_run):
    t, k, p, probs, bar, settings = model_run["start"]
    assert (t, k, p) == (1.0, None, None) and settings == "temperature 1 · top-k off · top-p off"
    np.testing.assert_allclose(probs, softmax_filtered(model_run["logits"], 1.0), atol=1e-12)
    assert "temperature 1 · top-k off · top-p off" in bar
    best = f"{probs.max():.3f}"
    assert best in bar.splitlines()[1]                     # the first row: the most likely


def test_each_key_changes_the_bar_at_once(model_run):
    logits = model_run["logits"]
    t, k, p, probs, bar, _ = model_run["t"]
    assert (t, k, p) == (1.5, None, None) and "temperature 1.5" in bar
    np.testing.assert_allclose(probs, softmax_filtered(logits, 1.5), atol=1e-12)
    t, k, p, probs, bar, _ = model_run["k"]
    assert (t, k, p) == (1.5, 5, None) and "top-k 5" in bar
    np.testing.assert_allclose(probs, softmax_filtered(logits, 1.5, 5), atol=1e-12)
    assert np.count_nonzero(probs) == 5
    t, k, p, probs, bar, _ = model_run["p"]
    assert (t, k, p) == (1.5, 5, 0.5) and "top-p 0.5" in bar
    np.testing.assert_allclose(probs, softmax_filtered(logits, 1.5, 5, 0.5), atol=1e-12)
    assert "(left out)" in bar
    t, k, p, probs, _, _ = model_run["reset"]
    assert (t, k, p) == (1.0, None, None)


def test_the_arrows_move_the_block_between_layers_and_escape_goes_back(model_run):
    assert model_run["title"] == "layer 1 of 2" and model_run["down"] == "layer 2 of 2"
    assert model_run["back"] == (True, 1)                  # the heads again, of layer 2


def test_every_matrix_of_every_kind_of_block_has_a_worked_line(gpt2):
    from tutor.render.block import block_step, block_worked_cell
    from tutor.render.document import format_number

    dates = adapt(load_shipped_model("dates"))
    recordings = [ExploreState().run().block, model_block(adapt(gpt2), "the cat sat", 1),
                  model_block(adapt(load_pretrained(DATA / "tiny_llama.gguf")), "a b", 0),
                  model_block(dates, "7 May 2026", 1, block="decoder")]
    for rec in recordings:
        for part in block_step(rec, columns=12).parts:
            for m in part.matrices:
                r, c = m.values.shape[0] - 1, m.values.shape[1] - 1
                line = block_worked_cell(rec, m.key, r, c, precision=3)
                value = np.asarray(rec[m.key])[r, c]
                assert len(line) == 1 and f"= {format_number(float(value), 3)}" in line[0], \
                    (m.key, line)


def test_a_model_that_does_not_write_has_no_bar():
    bert = load_pretrained(DATA / "hf_tiny_bert")
    block = BlockState(ModelState(bert, "the cat sat"))
    assert not block.writes and block.bar is None
    assert not block.recording.info["norm_first"]                     # BERT: post-norm
    parts = [p.heading for p in block.step().parts]
    assert parts == ["Residual add", "Layer norm", "Feed-forward (GELU)",
                     "Second residual and layer norm"]


def test_a_short_screen_keeps_the_bar_to_a_few_tokens(gpt2):
    from tutor.explore.block_app import bar_text

    block = BlockState(ModelState(gpt2, "the cat sat"))
    text = bar_text(block, 78, 5).plain.splitlines()
    assert len(text) == 1 + 5 and all(len(line) <= 78 for line in text)


def test_with_positional_encoding_the_block_adds_to_x_plus_pe():
    from tutor.nn.posenc import sinusoidal_encoding

    state = ExploreState(posenc=True)
    view = state.run()
    x_pe = state.x() + sinusoidal_encoding(3, 4)                        # [n, d_model]
    np.testing.assert_allclose(view.block["input"], x_pe, atol=1e-12)
    np.testing.assert_allclose(view.block["add1"], x_pe + view.recording.output[0], atol=1e-12)
    assert view.block_step.parts[0].matrices[0].name == "X + PE"


def test_a_setting_off_the_list_steps_from_the_lists_start():
    from tutor.explore.block import TOP_KS, TOP_PS, _step

    assert _step(TOP_PS, 0.33, 1) == TOP_PS[1]                          # raised ValueError
    assert _step(TOP_KS, 7, 1) == TOP_KS[1]                             # jumped to k = 1 + 1
    assert _step(TOP_KS, TOP_KS[-1], 1) == TOP_KS[-1]                   # the ends hold
