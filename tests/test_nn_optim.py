"""Adam, AdamW and the warm-up schedule: closed forms, checkpoints, errors. Step-for-step
equality with torch.optim is in test_grad_golden.py."""

import math

import numpy as np
import pytest

from tutor.errors import ParameterError, TutorError
from tutor.nn import Seq2Seq
from tutor.nn.optim import Adam, AdamW, NoamSchedule


def test_noam_schedule_closed_forms():
    schedule = NoamSchedule(512, warmup_steps=4000)
    assert schedule(1) == pytest.approx(512 ** -0.5 * 4000 ** -1.5)    # linear warm-up
    assert schedule(4000) == pytest.approx(512 ** -0.5 * 4000 ** -0.5)  # the peak
    assert schedule(16000) == pytest.approx(schedule(4000) / 2)        # 1/sqrt(step) after it
    assert schedule(2000) == pytest.approx(schedule(4000) / 2)
    assert max(range(1, 10000, 7), key=schedule) in range(3994, 4007)
    with pytest.raises(TutorError, match="count from 1"):
        schedule(0)
    with pytest.raises(TutorError, match="warmup_steps"):
        NoamSchedule(512, warmup_steps=0)


def test_noam_schedule_from_its_peak():
    """with_peak(lr, warmup): the paper's schedule with factor = lr * sqrt(d_model * warmup),
    whose rate at step = warmup is factor * d_model^-0.5 * warmup^-0.5 = lr."""
    schedule = NoamSchedule.with_peak(2e-3, 200, d_model=32)
    assert schedule.factor == pytest.approx(2e-3 * math.sqrt(32 * 200))
    assert schedule(200) == 2e-3 and schedule.peak == 2e-3            # the peak, exactly
    assert schedule(50) == pytest.approx(2e-3 / 4)                     # linear warm-up
    assert schedule(800) == pytest.approx(1e-3)                        # 1/sqrt(step) after it
    paper = NoamSchedule(32, 200, factor=schedule.factor)
    assert NoamSchedule(512, 4000).peak == pytest.approx(512 ** -0.5 * 4000 ** -0.5)
    for step in (1, 2, 199, 200, 201, 5000):
        assert schedule(step) == pytest.approx(paper(step), rel=1e-12)
        assert NoamSchedule.with_peak(2e-3, 200)(step) == schedule(step)   # d_model cancels
    for peak, warmup in ((0.0, 200), (-1e-3, 200), (float("nan"), 200), (1e-3, 0)):
        with pytest.raises(TutorError, match="with_peak needs peak > 0 and warmup_steps >= 1"):
            NoamSchedule.with_peak(peak, warmup)


def test_first_adam_step_moves_each_weight_by_lr_against_the_gradient_sign():
    """At t = 1, m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps)."""
    p = {"w": np.array([1.0, 2.0, 3.0])}
    g = {"w": np.array([0.5, -2.0, 1e-3])}
    Adam(p, lr=0.1, eps=1e-8).step(g)
    np.testing.assert_allclose(p["w"], [1.0 - 0.1, 2.0 + 0.1, 3.0 - 0.1], atol=1e-6)


def test_adamw_decays_weights_apart_from_the_gradient():
    p, q = {"w": np.array([2.0])}, {"w": np.array([2.0])}
    AdamW(p, lr=0.1, weight_decay=0.5).step({"w": np.array([0.0])})   # zero gradient
    Adam(q, lr=0.1, weight_decay=0.5).step({"w": np.array([0.0])})    # L2: g = 0.5 * 2
    assert p["w"][0] == pytest.approx(2.0 * (1 - 0.1 * 0.5))           # decay only
    assert q["w"][0] == pytest.approx(2.0 - 0.1, abs=1e-6)             # a full Adam step


def test_schedule_sets_the_rate_per_step():
    p = {"w": np.zeros(2)}
    schedule = NoamSchedule(16, warmup_steps=3)
    opt = Adam(p, lr=schedule)
    rates = [opt.step({"w": np.ones(2)}) for _ in range(4)]
    assert rates == [schedule(t) for t in (1, 2, 3, 4)]
    assert opt.last_lr == schedule(4) and opt.step_count == 4


def train(model, opt, steps, batch):
    for _ in range(steps):
        _, grads = model.loss_and_grads(*batch, pad_id=0)
        opt.step(grads)


@pytest.mark.parametrize("cls,dtype", [(Adam, np.float64), (AdamW, np.float32)])
def test_checkpoint_resume_is_bit_identical(tmp_path, cls, dtype):
    batch = (np.array([[3, 4, 5, 0], [2, 7, 1, 0]]), np.array([[1, 6, 2, 8], [1, 5, 3, 0]]))
    make = lambda: Seq2Seq.random(9, 8, 2, 1, 12, seed=5, dtype=dtype)  # noqa: E731
    straight = make()
    opt = cls(straight.params, lr=NoamSchedule(8, 2))
    train(straight, opt, 4, batch)

    first = make()
    opt1 = cls(first.params, lr=NoamSchedule(8, 2))
    train(first, opt1, 2, batch)
    np.savez(tmp_path / "ckpt.npz", **opt1.state_dict(),
             **{f"param.{k}": v for k, v in first.params.items()})
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as archive:
        saved = {k: archive[k] for k in archive.files}
    params = {k[6:]: v for k, v in saved.items() if k.startswith("param.")}
    resumed = Seq2Seq(params, first.config)
    opt2 = cls(resumed.params, lr=NoamSchedule(8, 2))
    opt2.load_state_dict({k: v for k, v in saved.items() if not k.startswith("param.")})
    assert opt2.step_count == 2
    train(resumed, opt2, 2, batch)
    for name, value in straight.params.items():
        assert value.dtype == dtype and opt2.exp_avg[name].dtype == dtype
        assert np.array_equal(resumed.params[name], value), name


def test_state_dict_is_plain_arrays_and_a_copy():
    p = {"a": np.ones((2, 3)), "b": np.ones(4)}
    opt = Adam(p)
    opt.step({"a": np.ones((2, 3)), "b": np.ones(4)})
    state = opt.state_dict()
    assert sorted(state) == ["exp_avg.a", "exp_avg.b", "exp_avg_sq.a", "exp_avg_sq.b", "step"]
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in state.values())
    assert state["step"] == 1 and state["step"].dtype == np.int64
    np.testing.assert_allclose(state["exp_avg.a"], 0.1)                # (1 - beta1) * g
    np.testing.assert_allclose(state["exp_avg_sq.b"], 0.001)           # (1 - beta2) * g^2
    state["exp_avg.a"][:] = 7
    assert not (opt.exp_avg["a"] == 7).any()


def test_errors_name_the_parameter():
    p = {"a": np.ones(3)}
    opt = Adam(p)
    with pytest.raises(ParameterError, match="no entry for parameter 'a'"):
        opt.step({})
    with pytest.raises(ParameterError, match="gradient 'a' is float32"):
        opt.step({"a": np.ones(3, dtype=np.float32)})
    with pytest.raises(ParameterError, match="missing 'exp_avg.a'"):
        opt.load_state_dict({"step": np.int64(1)})
    good = opt.state_dict()
    with pytest.raises(ParameterError, match="'exp_avg_sq.a' is float64\\[2\\]"):
        opt.load_state_dict({**good, "exp_avg_sq.a": np.ones(2)})
    with pytest.raises(ParameterError, match="'step' must be a 0-d integer"):
        opt.load_state_dict({**good, "step": np.array([1, 2])})
    with pytest.raises(TutorError, match="betas"):
        Adam(p, betas=(1.0, 0.9))
    with pytest.raises(TutorError, match="lr must be"):
        Adam(p, lr=-1.0)
    assert opt.step_count == 0 and not math.isnan(p["a"][0])
