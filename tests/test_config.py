import pytest

from infoclust.config import parse_override
from infoclust.methods import load_config
from infoclust.errors import ConfigError


def test_defaults_file_overrides_and_top_level_values(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 0.001\n  epochs: 7\nmodel:\n  sub_heads: 3\n")
    cfg = load_config(path, ["train.epochs=9", "views.tf2_crops=[4, 5]"], seed=4, data__name="mnist")
    assert cfg.train.lr == 1e-3 and cfg.train.epochs == 9 and cfg.model.sub_heads == 3
    assert cfg.views.tf2_crops == [4.0, 5.0] and cfg.seed == 4 and cfg.data.name == "mnist"
    assert load_config(None, ["train.lr=2e-4"]).train.lr == 2e-4  # YAML reads 2e-4 as a string


def test_misspelled_key_names_the_key_and_suggests(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'train.learning_rat'"):
        load_config(None, ["train.learning_rat=0.1"])
    with pytest.raises(ConfigError, match=r"did you mean 'train.epochs'"):
        load_config(None, ["train.epoch=3"])


def test_wrong_types_are_rejected():
    with pytest.raises(ConfigError, match="'train.epochs': expected int"):
        load_config(None, ["train.epochs=lots"])
    with pytest.raises(ConfigError, match="expected a list"):
        load_config(None, ["views.tf1_crops=5"])


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_override_syntax():
    assert parse_override("a.b=1") == {"a": {"b": 1}}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override("novalue")


@pytest.mark.parametrize("setting, message", [
    ("train.checkpoint_every=0", r"train.checkpoint_every = 0: expected a positive number of steps"),
    ("train.checkpoint_minutes=0", r"train.checkpoint_minutes = 0.0: expected a positive number of minutes"),
])
def test_impossible_checkpoint_intervals_are_named(setting, message):
    from infoclust.methods import resolve_config

    with pytest.raises(ConfigError, match=message):
        resolve_config(load_config(None, [setting]), (1, 8, 8), 10, 1797)
