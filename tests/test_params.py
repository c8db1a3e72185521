"""params.yaml is read one way: typed sections whose defaults equal the committed file,
and any unknown key, at any depth, is one error naming it and the closest valid key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from gafcnn.io import InputError
from gafcnn.params import (
    Params,
    TrainConfig,
    XgbParams,
    load_params,
    read_params,
    schema,
    suggest,
)

REPO = Path(__file__).resolve().parents[1]
RAW = yaml.safe_load((REPO / "params.yaml").read_text())


def _keys(tree: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, sub in tree.items():
        if isinstance(sub, dict) and sub:
            out |= _keys(sub, f"{prefix}{k}.")
        else:
            out.add(prefix + k)
    return out


def test_readers_defaults_equal_params_yaml():
    committed = read_params(REPO / "params.yaml")
    defaults = Params.from_dict({})
    for f in dataclasses.fields(Params):
        if f.name != "raw":
            assert getattr(defaults, f.name) == getattr(committed, f.name), f.name


def test_params_yaml_names_every_declared_key_and_no_other():
    declared, written = _keys(schema()), _keys(RAW)
    assert written <= declared
    # patterns.synthetic overrides some keys of the synthetic market; every other knob is written
    unwritten = {k for k in declared - written if not k.startswith("patterns.synthetic.")}
    assert not unwritten


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"learning_rate": 1e-5}, "unknown key 'learning_rate' (did you mean 'lr'?)"),
        ({"epoch": 3}, "unknown key 'epoch' (did you mean 'epochs'?)"),
        ({"xgb": {"lerning_rate": 0.1}}, "unknown key 'xgb.lerning_rate' (did you mean "
                                         "'xgb.learning_rate'?)"),
        ({"xgb": {"lr": 0.1}}, "unknown key 'xgb.lr' (did you mean 'xgb.learning_rate'?)"),
        ({"data": {"synthetic": {"nbars": 9}}},
         "unknown key 'data.synthetic.nbars' (did you mean 'data.synthetic.n_bars'?)"),
        ({"audit": {"severity": {"finit": "warn"}}},
         "unknown key 'audit.severity.finit' (did you mean 'audit.severity.finite'?)"),
        ({"patterns": {"synthetic": {"sead": 1}}},
         "unknown key 'patterns.synthetic.sead' (did you mean 'patterns.synthetic.seed'?)"),
        ({"gaf": {"horizon": 5}}, "unknown key 'gaf.horizon' (did you mean 'label.horizon'?)"),
        ({"ensemble": {"zzz": 1}}, "unknown key 'ensemble.zzz' (valid here: method)"),
    ],
)  # fmt: skip
def test_unknown_key_is_one_line_with_the_closest_key(tmp_path, override, message):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, value in override.items():
        if isinstance(value, dict) and isinstance(raw.get(section), dict):
            _merge(raw[section], value)
        else:
            raw[section] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(InputError) as err:
        load_params(path)
    assert str(err.value) == f"{path}: {message}"


def _merge(node: dict, extra: dict) -> None:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(node.get(k), dict):
            _merge(node[k], v)
        else:
            node[k] = v


def test_misspelt_key_is_not_silently_ignored_by_a_section_reader():
    # the bug this guards against: `learning_rate: 1e-5` kept lr at its default
    with pytest.raises(InputError, match="unknown key 'learning_rate'"):
        TrainConfig.from_params({"learning_rate": 1e-5})
    with pytest.raises(InputError, match="unknown key 'xgb.max_dept'"):
        XgbParams.from_params({"max_dept": 3})


def test_values_are_typed_and_strings_from_dvc_exp_set_are_numbers():
    p = Params.from_dict({"lr": "1e-5", "xgb": {"min_child_weight": 5}, "split": {"purge": "40"}})
    assert p.cnn.lr == 1e-5 and isinstance(p.xgb.min_child_weight, float)
    assert p.split.purge == 40 and Params.from_dict({}).split.purge == "auto"
    assert p.seed == 42  # one default for the seed, everywhere
    with pytest.raises(InputError, match='params.yaml: hybrid.folds: "many" is not allowed'):
        Params.from_dict({"hybrid": {"folds": "many"}})
    with pytest.raises(InputError, match='params.yaml: ensemble.method: "vote" is not allowed'):
        Params.from_dict({"ensemble": {"method": "vote"}})
    with pytest.raises(InputError, match="params.yaml: evaluate must be a mapping"):
        Params.from_dict({"evaluate": 3})


def test_suggest_prefers_abbreviations_then_spelling():
    assert suggest("learning_rate", ["lr", "epochs"]) == "lr"
    assert suggest("lr", ["learning_rate", "max_depth"]) == "learning_rate"
    assert suggest("max_dpth", ["learning_rate", "max_depth"]) == "max_depth"
    assert suggest("qqq", ["learning_rate", "max_depth"]) is None


def test_serving_max_age_is_auto_or_positive_days():
    from gafcnn.params import ServingParams

    assert ServingParams(max_age_days="auto").max_age(6.5) == 6.5  # as far as tested
    assert ServingParams(max_age_days=3).max_age(6.5) == 3.0
    assert ServingParams().max_age(6.5) == 14.0
    for bad in (0, -1, "never", True):
        with pytest.raises(InputError, match="serving.max_age_days"):
            ServingParams(max_age_days=bad)
