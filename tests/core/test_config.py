from dataclasses import dataclass, field

import pytest

from neurotrio.core.config import apply_overrides, load_config, save_config, to_dict
from neurotrio.core.errors import ConfigError, InputError


@dataclass(frozen=True)
class Optim:
    lr: float = 1e-3
    betas: tuple[float, ...] = (0.9, 0.999)


@dataclass(frozen=True)
class Run:
    optim: Optim = field(default_factory=Optim)
    epochs: int = 50
    name: str | None = None
    amsgrad: bool = True


def test_overrides_reach_nested_fields_with_their_types():
    cfg = apply_overrides(Run(), ["optim.lr=0.5", "epochs=3", "optim.betas=[0.1, 0.2]", "amsgrad=false"])
    assert cfg.optim.lr == 0.5 and cfg.epochs == 3 and cfg.optim.betas == (0.1, 0.2) and cfg.amsgrad is False


def test_unknown_key_suggests_the_close_name():
    with pytest.raises(ConfigError, match="Did you mean 'epochs'"):
        apply_overrides(Run(), ["epoch=3"])


def test_wrong_type_is_a_config_error():
    with pytest.raises(ConfigError, match="epochs"):
        apply_overrides(Run(), ["epochs=many"])


def test_yaml_round_trip(tmp_path):
    cfg = apply_overrides(Run(), ["optim.lr=0.25", "name=trial"])
    path = save_config(cfg, tmp_path / "config.yaml")
    assert load_config(Run, path) == cfg
    assert to_dict(load_config(Run, path, ["epochs=7"]))["epochs"] == 7


def test_config_file_that_is_not_a_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="bad.yaml"):
        load_config(Run, bad)
