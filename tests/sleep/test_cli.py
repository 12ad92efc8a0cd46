"""`neurotrio sleep ...` from the outside: help, score, export, info, demo, train, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from neurotrio.cli import main
from neurotrio.sleep.edf import DEFAULT_CHANNELS
from neurotrio.sleep.model import SleepModel, ULWSleepNet, save_model
from tests.sleep.synthetic import default_stages, write_synthetic_hypnogram, write_synthetic_psg

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    stages = default_stages(12)
    torch.manual_seed(0)
    net = ULWSleepNet().eval()
    net.in_scale.fill_(20.0)
    return {"psg": write_synthetic_psg(d / "night.edf", stages=stages),
            "hyp": write_synthetic_hypnogram(d / "hyp.edf", stages),
            "model": save_model(SleepModel(net, DEFAULT_CHANNELS, "fixed"), d / "m.safetensors")}


@pytest.mark.parametrize("command", ["score", "train", "export", "fetch", "demo", "info"])
def test_every_command_has_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["sleep", command, "--help"])
    assert exc.value.code == 0
    assert f"usage: neurotrio sleep {command}" in capsys.readouterr().out


def test_score_with_reference_prints_kappa_and_writes_files(files, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["sleep", "score", str(files["psg"]), "--reference", str(files["hyp"]), "--model",
                 str(files["model"]), "--out", str(out), "--compare-all"])
    text = capsys.readouterr().out
    assert code == 0 and "kappa" in text and "staged 12 epochs" in text and "confusion matrix" in text
    assert sorted(p.name for p in out.iterdir()) == ["night.hypnogram.csv", "night.hypnogram.edf",
                                                     "night.hypnogram.png", "night.score.json", "night.stats.csv"]
    summary = json.loads((out / "night.score.json").read_text())
    assert summary["metrics"]["n"] == 12 and [c["input"] for c in summary["channels"]] == list(DEFAULT_CHANNELS)
    assert [c["label"] for c in summary["channels"]] == list(DEFAULT_CHANNELS)
    assert summary["start"] == "2020-01-01T22:00:00" and summary["statistics"]["expert"]["TIB_min"] == 6.0
    for label in DEFAULT_CHANNELS:  # every input named on stdout with the label read and its rate
        assert f"{label} <- '{label}' (" in text


def test_score_without_out_prints_the_results_and_says_nothing_was_written(files, tmp_path, capsys) -> None:
    code = main(["sleep", "score", str(files["psg"]), "--model", str(files["model"])])
    text = capsys.readouterr().out
    assert code == 0 and "staged 12 epochs" in text and "sleep statistics" in text and "TST_min" in text
    assert "nothing written (no --out)" in text


def test_out_naming_a_file_is_one_line_exit_2(files, tmp_path, capsys) -> None:
    taken = tmp_path / "taken.csv"
    taken.write_text("keep me")
    code = main(["sleep", "score", str(files["psg"]), "--model", str(files["model"]), "--out", str(taken)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "is a file" in err and "Traceback" not in err
    assert taken.read_text() == "keep me"


def test_channel_mapping_reads_a_renamed_channel(files, tmp_path, capsys) -> None:
    renamed = write_synthetic_psg(tmp_path / "renamed.edf", n_epochs=3,
                                  channels=("C4-M1", "EEG Pz-Oz", "EOG horizontal", "EMG submental"))
    code = main(["sleep", "score", str(renamed), "--model", str(files["model"]), "--no-plot"])
    assert code == 2 and "--channel" in capsys.readouterr().err
    code = main(["sleep", "score", str(renamed), "--model", str(files["model"]), "--channel", "EEG Fpz-Cz=C4-M1"])
    assert code == 0 and "staged 3 epochs" in capsys.readouterr().out
    assert main(["sleep", "score", str(renamed), "--channel", "nonsense"]) == 2
    assert "NAME=LABEL" in capsys.readouterr().err


def _truncated(files, tmp_path) -> Path:
    data = files["psg"].read_bytes()
    bad = tmp_path / "trunc.edf"
    bad.write_bytes(data[: len(data) // 3])
    return bad


def test_truncated_edf_gives_one_error_line_and_no_output(files, tmp_path, capsys) -> None:
    code = main(["sleep", "score", str(_truncated(files, tmp_path)), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: trunc.edf") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_truncated_edf_through_the_installed_command(files, tmp_path) -> None:
    exe = Path(sys.executable).parent / "neurotrio"
    if not exe.exists():
        pytest.skip(f"{exe} not installed")
    (tmp_path / "out").mkdir()  # an existing, empty --out stays empty
    proc = subprocess.run([str(exe), "sleep", "score", str(_truncated(files, tmp_path)), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error: ")
    assert list((tmp_path / "out").iterdir()) == []


def test_export_and_info(files, tmp_path, capsys) -> None:
    assert main(["sleep", "export", "--model", str(files["model"]), "--out", str(tmp_path / "m.onnx")]) == 0
    assert "onnxruntime matches torch" in capsys.readouterr().out and (tmp_path / "m.onnx").is_file()
    assert main(["sleep", "info", "--model", str(files["model"])]) == 0
    assert "13,337" in capsys.readouterr().out


def test_demo_scores_the_embedded_recording(capsys) -> None:
    assert main(["sleep", "demo"]) == 0
    out = capsys.readouterr().out
    assert "kappa" in out and "422 epochs" in out and "trained on the earlier part" in out
    kappa = float(out.split("kappa ")[1].split()[0])
    assert kappa > 0.5  # held-out part of the night (0.600 when the weights were made)


@pytest.mark.parametrize("name, kappa", [("eeg-eog", 0.510), ("eeg", 0.303)])
def test_demo_with_the_fewer_modality_models(name, kappa, capsys) -> None:
    assert main(["sleep", "demo", "--model", name]) == 0
    out = capsys.readouterr().out
    assert f"the embedded model '{name}'" in out and "422 epochs" in out
    assert float(out.split("kappa ")[1].split()[0]) == pytest.approx(kappa, abs=1e-3)  # README/BENCHMARKS figure


def test_the_model_matching_the_channels_present_is_picked(tmp_path, capsys) -> None:
    eeg_eog = write_synthetic_psg(tmp_path / "eeg_eog.edf", n_epochs=3, channels=("EEG Fpz-Cz", "EOG horizontal"))
    assert main(["sleep", "score", str(eeg_eog)]) == 0
    assert "model: the embedded model 'eeg-eog' (EEG Fpz-Cz, EOG horizontal)" in capsys.readouterr().out
    band = write_synthetic_psg(tmp_path / "band.edf", n_epochs=3, channels=("Fpz",))  # read as EEG Fpz-Cz
    assert main(["sleep", "score", str(band)]) == 0
    out = capsys.readouterr().out
    assert "'eeg' (EEG Fpz-Cz)" in out and "EEG Fpz-Cz <- 'Fpz'" in out and "alias" in out
    none = write_synthetic_psg(tmp_path / "none.edf", n_epochs=3, channels=("EOG horizontal", "EMG submental"),
                               emg_sfreq_hz=100)
    assert main(["sleep", "score", str(none), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "channels missing: EEG Fpz-Cz" in err and "eeg-eog (EEG Fpz-Cz, EOG horizontal)" in err
    assert not (tmp_path / "o").exists()


def test_train_within_recording_on_a_sleep_edf_folder(tmp_path, capsys) -> None:
    root = tmp_path / "sleep-edf" / "sleep-cassette"
    stages = default_stages(150)
    write_synthetic_psg(root / "SC4001E0-PSG.edf", stages=stages, emg_sfreq_hz=100)
    write_synthetic_hypnogram(root / "SC4001EC-Hypnogram.edf", stages)
    code = main(["sleep", "train", "--data", str(tmp_path / "sleep-edf"), "--protocol", "within-recording",
                 "--epochs", "1", "--out", str(tmp_path / "run"), "--device", "cpu", "--set", "batch_size=64"])
    out = capsys.readouterr().out
    assert code == 0 and "within-recording (SC4001, development only" in out
    res = json.loads((tmp_path / "run" / "within-recording.json").read_text())
    assert res["config"]["epochs"] == 1 and res["config"]["batch_size"] == 64
    assert res["metrics"]["parts_epochs"] == {"train": 80, "val": 21, "test": 45}


def test_recording_shorter_than_one_epoch_is_refused(tmp_path, capsys) -> None:
    short = write_synthetic_psg(tmp_path / "short.edf", n_epochs=1, epoch_s=20.0, emg_sfreq_hz=100)
    code = main(["sleep", "score", str(short), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "shorter than one" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_fetch_is_a_thin_wrapper(monkeypatch, tmp_path, capsys) -> None:
    import neurotrio.sleep.fetch as fetch

    calls = []
    monkeypatch.setattr(fetch, "fetch_sleepedf", lambda dest, subset, progress, records=None: calls.append(
        (dest, subset, progress, records and [r.record for r in records])) or [Path("a"), Path("b")])
    assert main(["sleep", "fetch", "--dest", str(tmp_path), "--subset", "sleep-edf-78", "--quiet"]) == 0
    assert calls[-1] == (str(tmp_path), "sleep-edf-78", False, None)
    assert "2 files (1 nights) of sleep-edf-78" in capsys.readouterr().out
    assert main(["sleep", "fetch", "--dest", str(tmp_path), "--subjects", "0-1,7", "--quiet"]) == 0
    assert calls[-1][3] == ["SC4001", "SC4002", "SC4011", "SC4012", "SC4071", "SC4072"]
    assert main(["sleep", "fetch", "--dest", str(tmp_path), "--records", "sc4001", "--quiet"]) == 0
    assert calls[-1][3] == ["SC4001"]
    capsys.readouterr()
    assert main(["sleep", "fetch", "--dest", str(tmp_path), "--subjects", "25", "--quiet"]) == 2
    err = capsys.readouterr().err  # the subset's own subjects, not the whole cassette's
    assert "sleep-edf-20 holds subjects 0-19" in err and "more with --subset sleep-edf-78" in err
    assert len(calls) == 3  # nothing fetched


def test_fetch_help_gives_sizes_and_subject_choice(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["sleep", "fetch", "--help"])
    text = capsys.readouterr().out
    assert "--subjects" in text and "--records" in text and "about 1.9 GB" in text and "about 50 MB" in text
