"""Scoring with an exported .onnx model: same outputs as the torch path, no torch import, clear errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurotrio.cli import main
from neurotrio.core.errors import CheckpointError
from neurotrio.sleep.edf import DEFAULT_CHANNELS, load_psg
from neurotrio.sleep.export import export_onnx
from neurotrio.sleep.model import DEFAULT_ONNX, SleepModel, load_model, save_model
from neurotrio.sleep.onnx_model import META_KEY, load_onnx_model
from neurotrio.sleep.score import load_any_model, predict_proba, score_recording
from tests.sleep.synthetic import default_stages, write_synthetic_hypnogram, write_synthetic_psg


def make_model(path: Path, normalization: str = "fixed") -> Path:
    """The embedded weights (trained: they predict several stages on the synthetic night, with clear
    margins, so equal labels mean something) saved as a new file with its own metadata."""
    m = load_model()
    if normalization == "recording":
        m.net.in_center.zero_()
        m.net.in_scale.fill_(1.0)
    return save_model(SleepModel(m.net, m.channels, normalization, {"trained_on": "a test"}), path)


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx_night")
    stages = ["W"] * 3 + default_stages(16)[2:] + ["W"] * 3
    psg = write_synthetic_psg(d / "night.edf", stages=stages, seed=4)
    hyp = write_synthetic_hypnogram(d / "hyp.edf", stages)
    model = make_model(d / "m.safetensors")
    onnx = export_onnx(d / "m.onnx", model).path
    return {"psg": psg, "hyp": hyp, "model": model, "onnx": onnx, "dir": d, "n": len(stages),
            "stages": stages}


def test_onnx_metadata_carries_what_the_torch_model_file_does(night) -> None:
    torch_model, onnx_model = load_model(night["model"]), load_onnx_model(night["onnx"])
    assert onnx_model.channels == torch_model.channels == DEFAULT_CHANNELS
    assert onnx_model.config == torch_model.config and onnx_model.normalization == "fixed"
    assert onnx_model.metadata["stages"] == ["W", "N1", "N2", "N3", "REM"]
    assert onnx_model.metadata["model_metadata"]["trained_on"] == "a test"
    np.testing.assert_allclose(onnx_model.metadata["input_scaling"]["in_scale"], torch_model.net.in_scale.numpy())


def test_onnx_path_equals_the_torch_path_in_every_output(night, tmp_path) -> None:
    kw = {"reference": night["hyp"], "trim_wake_min": None}
    res_t = score_recording(night["psg"], night["model"], tmp_path / "torch", **kw)
    res_o = score_recording(night["psg"], night["onnx"], tmp_path / "onnx", **kw)
    assert res_o.proba.shape == (night["n"], 5)
    np.testing.assert_allclose(res_o.proba, res_t.proba, atol=1e-5, rtol=0)
    assert res_o.proba.std() > 0.01  # not a degenerate network: the comparison means something
    assert res_o.stage_names == res_t.stage_names and len(set(res_o.stage_names)) >= 3
    assert res_o.metrics["confusion_matrix"] == res_t.metrics["confusion_matrix"]
    assert res_o.metrics["kappa"] == res_t.metrics["kappa"]
    names = {p.name for p in (tmp_path / "onnx").iterdir()}
    assert names == {p.name for p in (tmp_path / "torch").iterdir()} and "night.hypnogram.png" in names
    assert res_o.files["edf"].read_bytes() == res_t.files["edf"].read_bytes()
    rows_t, rows_o = (list(csv.reader(open(r.files["csv"]))) for r in (res_t, res_o))
    assert rows_o[0] == rows_t[0] and len(rows_o) == len(rows_t) == night["n"] + 1
    for a, b in zip(rows_o[1:], rows_t[1:]):
        assert a[:4] == b[:4]  # epoch, onset_s, clock_time, stage
        assert max(abs(float(x) - float(y)) for x, y in zip(a[4:], b[4:])) <= 1.5e-5
    js_t, js_o = (json.loads(r.files["json"].read_text()) for r in (res_t, res_o))
    assert js_o.keys() == js_t.keys() and js_o["model"].endswith("m.onnx")
    for key in ("channels", "normalization", "model_config", "n_epochs", "stage_counts"):
        assert js_o[key] == js_t[key], key


def test_recording_normalization_travels_in_the_onnx_file(night) -> None:
    model = make_model(night["dir"] / "rec.safetensors", "recording")
    onnx = export_onnx(night["dir"] / "rec.onnx", model).path
    assert load_onnx_model(onnx).normalization == "recording"
    res_t = score_recording(night["psg"], model, None)
    res_o = score_recording(night["psg"], onnx, None)
    np.testing.assert_allclose(res_o.proba, res_t.proba, atol=1e-5, rtol=0)
    assert res_o.stage_names == res_t.stage_names and len(set(res_o.stage_names)) >= 3


def test_onnx_batches_in_parallel_give_the_same_probabilities(night) -> None:
    model = load_onnx_model(night["onnx"])
    x = load_psg(night["psg"]).epochs()
    one = predict_proba(model, [x], batch_size=3, workers=1)
    np.testing.assert_allclose(predict_proba(model, [x[:7], x[7:]], batch_size=5, workers=3), one, atol=1e-6)


def test_scoring_with_an_onnx_model_never_imports_torch(night, tmp_path) -> None:
    code = f"""
import sys
from neurotrio.cli import main
a = main(["sleep", "score", {str(night['psg'])!r}, "--model", {str(night['onnx'])!r}, "--reference",
          {str(night['hyp'])!r}, "--out", {str(tmp_path / 'a')!r}, "--compare-all"])
b = main(["sleep", "score", {str(night['psg'])!r}, "--out", {str(tmp_path / 'b')!r}])  # the embedded default
print("exit", a, b, "torch" in sys.modules, "neurotrio.sleep.model" in sys.modules)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "exit 0 0 False False"
    assert "kappa" in proc.stdout
    assert len(list((tmp_path / "a").iterdir())) == 5 and len(list((tmp_path / "b").iterdir())) == 5


def test_the_default_model_is_the_shipped_onnx_twin() -> None:
    from neurotrio.sleep.onnx_model import OnnxSleepModel

    model = load_any_model(None)
    assert isinstance(model, OnnxSleepModel) and model.path == DEFAULT_ONNX
    assert DEFAULT_ONNX.stat().st_size < 100_000  # small: ships in the wheel beside the safetensors file


@pytest.mark.parametrize("name", ["psg", "eeg-eog", "eeg"])
def test_shipped_onnx_equals_a_fresh_export_of_the_embedded_weights(tmp_path, name: str) -> None:
    """Each embedded model's shipped .onnx twin is what the current exporter writes from its weights
    (regenerate all three together, as benchmarks/make_sleep_demo.py does)."""
    from neurotrio.sleep.embedded import EMBEDDED

    target = next(e for e in EMBEDDED if e.name == name)
    fresh = export_onnx(tmp_path / "fresh.onnx", target.weights)
    assert fresh.max_abs_diff <= 1e-5
    shipped, new = load_onnx_model(target.onnx), load_onnx_model(fresh.path)
    assert shipped.metadata == new.metadata
    import onnx

    def ops(path: Path) -> tuple[list[str], list[tuple[int, ...]]]:  # the graph's form: ops and weight shapes
        g = onnx.load(str(path)).graph
        return [n.op_type for n in g.node], sorted(tuple(t.dims) for t in g.initializer)

    assert ops(target.onnx) == ops(fresh.path)  # same graph form, not only close outputs
    n_ch = len(target.channels)
    x = (np.random.default_rng(1).standard_normal((24, n_ch, 3000)) * 30).astype(np.float32)
    want = predict_proba(load_model(target.weights), [x])
    np.testing.assert_allclose(predict_proba(shipped, [x]), predict_proba(new, [x]), atol=1e-6, rtol=0)
    np.testing.assert_allclose(predict_proba(shipped, [x]), want, atol=1e-5, rtol=0)


def _rewrite(src: Path, dst: Path, edit) -> Path:
    import onnx

    proto = onnx.load(str(src))
    edit(proto)
    onnx.save(proto, str(dst))
    return dst


def _set_meta(proto, **changes) -> None:
    meta = json.loads(next(p.value for p in proto.metadata_props if p.key == META_KEY))
    meta.update(changes)
    del proto.metadata_props[:]
    proto.metadata_props.add(key=META_KEY, value=json.dumps(meta))


@pytest.mark.parametrize(("kind", "message"), [
    ("garbage", "not a readable ONNX model"),
    ("truncated", "not a readable ONNX model"),
    ("no-metadata", "without neurotrio sleep metadata"),
    ("bad-json", "unreadable neurotrio sleep metadata"),
    ("channels", "inconsistent ONNX metadata: 3 channels for n_chans=4"),
    ("shape", "does not match its metadata"),
    ("missing", "model file not found"),
])
def test_a_bad_onnx_model_file_is_one_clear_error(night, tmp_path, capsys, kind: str, message: str) -> None:
    src, bad = night["onnx"], tmp_path / "bad.onnx"
    if kind == "garbage":
        bad.write_bytes(b"\x00garbage, not protobuf" * 10)
    elif kind == "truncated":
        bad.write_bytes(src.read_bytes()[:5000])
    elif kind == "no-metadata":
        _rewrite(src, bad, lambda p: p.metadata_props.__delitem__(slice(None)))
    elif kind == "bad-json":
        def edit(p):
            del p.metadata_props[:]
            p.metadata_props.add(key=META_KEY, value="{not json")
        _rewrite(src, bad, edit)
    elif kind == "channels":
        _rewrite(src, bad, lambda p: _set_meta(p, channels=list(DEFAULT_CHANNELS[:3])))
    elif kind == "shape":
        _rewrite(src, bad, lambda p: _set_meta(p, channels=list(DEFAULT_CHANNELS[:3]),
                                                 config={"n_chans": 3}))
    with pytest.raises(CheckpointError, match=message) as exc:
        load_onnx_model(bad)
    assert str(exc.value).startswith("bad.onnx: ")
    code = main(["sleep", "score", str(night["psg"]), "--model", str(bad), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: bad.onnx: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists()


def test_info_describes_an_onnx_file(night, capsys) -> None:
    assert main(["sleep", "info", "--model", str(night["onnx"])]) == 0
    out = capsys.readouterr().out
    assert "ONNX, fused graph" in out and "EEG Fpz-Cz" in out and "normalization fixed" in out
