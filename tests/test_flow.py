"""Order flow in the pipeline's models and the service: the indicator models' inputs
with ``features.flow``, what a shipped booster says it reads (from the inputs it was
fitted on), and a stream that refuses bars without the columns its bundle reads."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
import xgboost

from gafcnn import registry
from gafcnn.data.bars import COLUMNS, FLOW, bar_arrays, minute_index
from gafcnn.data.features import (
    FLOW_FEATURES,
    INDICATORS,
    flow_features,
    indicators,
    input_names,
    model_inputs,
    reads_flow,
)
from gafcnn.edge import synthetic
from gafcnn.io import InputError, save_xgb
from gafcnn.models import combine
from gafcnn.serving.boosters import HYBRID, XGB_INDICATORS, Booster
from gafcnn.serving.bundle import Bundle
from gafcnn.serving.signals import Stream


def _frame(n: int = 2000) -> pd.DataFrame:
    return synthetic.order_flow_market(n, 1.0, seed=5)


def test_the_indicator_models_read_the_indicators_then_the_order_flow():
    frame = _frame()
    bars, minutes, pos = bar_arrays(frame), minute_index(frame), np.array([100, 1500, 1999])
    assert set(bars) == {"open", "high", "low", "close", "volume", *FLOW}
    plain = model_inputs(bars, minutes, pos, False)
    np.testing.assert_array_equal(plain, indicators(bars, minutes, pos))
    both = model_inputs(bars, minutes, pos, True)
    np.testing.assert_array_equal(both[:, : len(INDICATORS)], plain)
    np.testing.assert_array_equal(both[:, len(INDICATORS) :], flow_features(bars, pos),
                                  strict=True)  # fmt: skip
    assert input_names(True) == [*INDICATORS, *FLOW_FEATURES]
    assert combine.hybrid_inputs([15, 30], True)[-3:] == ["trades_z", "p_cnn_w15", "p_cnn_w30"]
    assert reads_flow(17, 17) is False and reads_flow(22, 17) is True
    with pytest.raises(ValueError, match="fitted on 20 inputs; this code builds 17 .* or 22"):
        reads_flow(20, 17)


def _booster(path, width: int):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, width)), rng.integers(0, 2, 200)
    save_xgb(xgboost.train({"max_depth": 2}, xgboost.DMatrix(x, label=y), 3), path)


@pytest.mark.parametrize("width, flow", [(17, False), (22, True)])
def test_a_shipped_booster_names_the_inputs_it_was_fitted_on(tmp_path, width, flow):
    _booster(tmp_path / "m.ubj", width)
    hook = Booster(tmp_path / "m.ubj", XGB_INDICATORS.inputs, XGB_INDICATORS.features)
    (tmp_path / "bundle").mkdir()
    spec = hook.ship(registry.XGB_INDICATORS, [15], tmp_path / "bundle")
    assert spec["inputs"] == input_names(flow)
    assert hook.bar_columns(spec) == (set(FLOW) if flow else set())


def test_a_hybrid_of_another_width_is_refused_naming_its_file(tmp_path):
    _booster(tmp_path / "h.ubj", 17 + 2 + 1)  # two windows' P(up) and one stray input
    hook = Booster(tmp_path / "h.ubj", HYBRID.inputs, HYBRID.features, reads_cnns=True)
    with pytest.raises(InputError, match=r"h\.ubj: fitted on 20 inputs; this code builds 19"):
        hook.ship(registry.HYBRID, [15, 30], tmp_path)


def _reads(columns: tuple[str, ...]):
    """A stand-in bundle that reads ``columns`` beyond OHLCV (no sizing)."""
    fake = types.SimpleNamespace(bar_columns=columns, sizer=None)
    fake.check_bars = lambda bars, source, line=None: Bundle.check_bars(fake, bars, source, line)
    return fake


def test_a_stream_refuses_bars_without_the_order_flow_its_bundle_reads():
    frame = _frame(50)
    stream = Stream(_reads(tuple(FLOW)))
    refused = (
        r"models read the order flow \(trades, taker_buy_base\); the bars carry no taker_buy_b"
    )
    with pytest.raises(InputError, match=refused):
        stream.append(frame.iloc[:10].drop(columns="taker_buy_base"))
    assert stream.bars is None  # refused: nothing held
    stream.append(frame.iloc[:10])
    assert list(stream.bars.columns) == [*COLUMNS, *FLOW]
    plain = Stream(_reads(()))
    plain.append(frame.iloc[:10])
    assert list(plain.bars.columns) == COLUMNS  # what no model reads is not held
    plain.swap(_reads(tuple(FLOW)))
    assert plain.bars is None  # the new champion reads what the held bars lack
