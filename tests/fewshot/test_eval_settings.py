"""`fewshot eval` refuses settings its test split cannot fill before any episode runs, naming those it can."""

from __future__ import annotations

import pytest
import torch

from neurotrio.cli import main
from neurotrio.core.errors import ConfigError, InputError
from neurotrio.fewshot.evaluate import TensorSet
from neurotrio.fewshot.scoring import check_settings

from .test_cli_validation import TINY


def _split(n_classes: int, per_class: int) -> TensorSet:
    targets = torch.arange(n_classes).repeat_interleave(per_class)
    return TensorSet(torch.zeros(len(targets), 1, 4, 4), targets)


def test_check_settings_names_the_settings_that_fit():
    check_settings(["5w1s", "5w5s"], _split(6, 20), 15)
    with pytest.raises(InputError) as exc:
        check_settings(["5w1s", "20w1s", "5w5s"], _split(6, 20), 15)
    msg = str(exc.value)
    assert msg.startswith("eval.settings: 20w1s (20-way 1-shot) needs 20 test classes") and "has 6 such classes" in msg
    assert "--set eval.settings=[5w1s,5w5s]" in msg
    with pytest.raises(InputError, match="lower eval.n_query"):
        check_settings(["5w5s"], _split(6, 19), 15)  # 5 + 15 = 20 images per class needed
    with pytest.raises(ConfigError, match="not like '5w1s'"):
        check_settings(["five-way"])


def test_eval_refuses_20_way_on_8_test_classes_in_one_line(tmp_path, capsys):
    # docs/fewshot-data.md's eval on a small simulate-events folder: the 5-way settings ran, then 20w1s
    # failed with "Lower n_way, k_shot or n_query" (not options of eval)
    model = tmp_path / "m"
    assert main(["fewshot", "train", *TINY, "--set", "data.synthetic_classes=40", "--out", str(model)]) == 0
    capsys.readouterr()
    out = tmp_path / "eval"
    assert main(["fewshot", "eval", "--weights", str(model / "model.safetensors"), "--out", str(out), "--quiet",
                 "--set", "eval.episodes=2", "--set", "eval.settings=[5w1s,20w1s]"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: eval.settings: 20w1s (20-way 1-shot) needs 20 test classes") and err.count("\n") == 1
    assert "--set eval.settings=[5w1s]" in err and not out.exists()


def test_eval_needs_two_episodes_for_its_ci(tmp_path):
    # eval.episodes=1 wrote "21.33 ± nan %" and `"ci95": NaN` (not valid JSON); 0 failed after reading the data
    from dataclasses import replace

    from neurotrio.fewshot.scoring import run_evaluation
    from neurotrio.fewshot.train import TrainConfig

    from .test_cli_paths import _tiny_weights

    cfg = TrainConfig()
    for episodes in (0, 1):
        with pytest.raises(ConfigError, match=f"eval.episodes must be at least 2 .*got {episodes}"):
            run_evaluation(_tiny_weights(tmp_path), replace(cfg, eval=replace(cfg.eval, episodes=episodes)),
                           tmp_path / "e")
    assert not (tmp_path / "e").exists()
