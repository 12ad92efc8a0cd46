"""Every malformed input of the corpus, fed to the real CLI: exit 2, one `error:` line naming the file and the
problem, no traceback, no output left behind, and no pickle payload ever run.

In-process through ``neurotrio.cli.main`` for every case; a sample of cases also through the installed
``neurotrio`` console script in a subprocess (the path a user takes).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from neurotrio.cli import main
from tests.bad_inputs import corpus

ROOT = Path(__file__).resolve().parents[2]
# one per system and per failure family, through the real console script
# (each costs a fresh interpreter, ~5 s here; the rest of the sample is marked slow)
SUBPROCESS_CASES = [
    "edf_truncated", "mer_model_wrong_architecture", "aedat4_corrupt_packet",
    pytest.param("hypnogram_not_covering", marks=pytest.mark.slow),
    pytest.param("sleep_model_pickle_payload", marks=pytest.mark.slow),
    pytest.param("mer_onset_after_apex", marks=pytest.mark.slow),
    pytest.param("csv_boundaries_outside_recording", marks=pytest.mark.slow),
]


def _check(bad: corpus.BadInput, code: int, stderr: str, tmp: Path) -> None:
    assert code == 2, f"exit code {code}, stderr:\n{stderr}"
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, f"expected exactly one 'error:' line, got:\n{stderr}"
    line = errors[0]
    assert bad.name in line, f"the error line does not name {bad.name!r}: {line}"
    assert re.search(bad.problem, line), f"the error line does not say {bad.problem!r}: {line}"
    assert not bad.out.exists(), f"partial output left at {bad.out}: {list(bad.out.rglob('*')) if bad.out.is_dir() else ''}"
    leftovers = [p.name for p in bad.out.parent.iterdir() if p.name.startswith(f".{bad.out.name}.")]
    assert not leftovers, f"temporary output left behind: {leftovers}"
    assert not (tmp / "pwned").exists(), "a pickle payload was executed"


@pytest.mark.parametrize("gen", corpus.CORPUS)
def test_bad_input_gives_one_error_line_and_no_output(gen, tmp_path, capsys) -> None:
    if gen.__name__ == "mer_faceless_images":
        pytest.importorskip("dlib")
    bad = gen(tmp_path)
    capsys.readouterr()
    code = main(bad.argv)
    _check(bad, code, capsys.readouterr().err, tmp_path)


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_bad_input_through_the_installed_command(name: str, tmp_path) -> None:
    exe = Path(sys.executable).with_name("neurotrio")
    if not exe.is_file():
        pytest.skip(f"console script not installed beside {sys.executable}")
    bad = corpus.case(name)(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NEUROTRIO_DEBUG", None)
    res = subprocess.run([str(exe), *bad.argv], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    _check(bad, res.returncode, res.stderr, tmp_path)
    assert res.stdout == "", res.stdout


def test_corpus_is_large_and_spans_the_three_systems() -> None:
    ids = [p.id for p in corpus.CORPUS]
    assert len(ids) == len(set(ids)) >= 30
    for prefix in ("edf-", "hypnogram-", "sleep-model-", "mer-", "aedat4-", "csv-", "omniglot-", "fewshot-"):
        assert any(i.startswith(prefix) for i in ids), prefix
