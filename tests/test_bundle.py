"""The deployment bundle serves exactly what was evaluated, and `gafcnn predict` serves it."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import kraken_rows
from pipeline import MARKET, env

from gafcnn import clock
from gafcnn.clock import MINUTE_MS
from gafcnn.data.bars import OHLCV, minute_index
from gafcnn.io import InputError
from gafcnn.serving.bundle import BUNDLE_FILE, Bundle, redeploy, seal, serving_code_digest

MODELS = ["cnn_w15", "cnn_w30", "cnn_w60", "minirocket_w15", "minirocket_w30", "minirocket_w60",
          "xgb_raw_w15", "xgb_raw_w30", "xgb_raw_w60", "ensemble_mean", "ensemble_weighted",
          "ensemble_stacking", "ensemble", "xgb_indicators", "hybrid"]  # fmt: skip
# Their stages write P(up) with the very function the bundle serves them with.
EXACT = ("cnn_", "minirocket_", "xgb_raw_")


def _bars(root):
    df = pd.read_parquet(root / MARKET / "data" / "interim" / "bars.parquet")
    return df, {k: df[k].to_numpy(np.float64) for k in OHLCV}, minute_index(df)


def _reference(root) -> pd.DataFrame:
    files = sorted((root / MARKET / "data" / "predictions").rglob("*.parquet"))
    ref = pd.concat([pd.read_parquet(f) for f in files if f.name != "baseline.parquet"])
    return ref[ref["segment"] == "test"]


def test_bundle_matches_the_pipelines_predictions(project):
    bundle = Bundle(project / MARKET / "models" / "bundle")
    df, arrays, minutes = _bars(project)
    ref = _reference(project)
    ts = np.sort(clock.ms_of(ref.loc[ref["model"] == "hybrid", "timestamp"]))
    out = bundle.predict_all(arrays, minutes, np.searchsorted(minutes, ts // MINUTE_MS))
    method = json.loads((project / MARKET / "models" / "ensemble.json").read_text())["method"]
    for name in MODELS:
        file_name = f"ensemble_{method}" if name == "ensemble" else name
        r = ref[ref["model"] == file_name].sort_values("timestamp")
        np.testing.assert_array_equal(clock.ms_of(r["timestamp"]), ts)
        diff = np.abs(out[name] - r["p_up"].to_numpy()).max()
        assert diff <= 1e-6, (name, diff)
        if name.startswith(EXACT):  # e.g. the pipeline's CNN P(up) come from the served graphs
            assert diff == 0.0, (name, diff)
    for w in bundle.windows:  # served images have the dtype the CNN was trained on
        gaf_meta = json.loads(
            (project / MARKET / "data" / "gaf" / f"w{w}" / "meta.json").read_text()
        )
        served = bundle.spec["models"]["cnn_w{w}"]["windows"][f"w{w}"]
        assert served["image_dtype"] == gaf_meta["dtype"]


def test_bundle_is_self_contained_and_checked(project, tmp_path, monkeypatch):
    copy = tmp_path / "elsewhere" / "bundle"
    shutil.copytree(project / MARKET / "models" / "bundle", copy)
    monkeypatch.chdir(tmp_path)  # no params.yaml, no pipeline outputs here
    spec = Bundle(copy).spec
    decision = json.loads((project / MARKET / "metrics" / "decision.json").read_text())
    assert spec["decision"]["decision"] == decision["decision"]
    assert spec["deployed"] == decision["deployed_model"]
    assert spec["models"]["ensemble_stacking"]["intercept"] != 0.0
    assert spec["label_horizon"] == 5 and spec["costs"]["per_side_bps"] == 5.0
    evaluated = json.loads((project / MARKET / "metrics" / "evaluate.json").read_text())["policy"]
    assert spec["policy"] == {m: evaluated[m]["theta"] for m in MODELS}  # each served model's
    assert {"label", "gaf", "xgb", "evaluate"} <= set(spec["params"])
    assert spec["code"]["serving_sha256"] == serving_code_digest()  # the code that serves it
    (copy / "xgb_indicators.ubj").write_bytes(b"tampered")
    with pytest.raises(InputError, match="missing or altered bundle file"):
        Bundle(copy)


def test_the_version_names_what_is_traded_and_an_edited_spec_is_refused(project, tmp_path):
    """``bundle.json`` digests itself: two bundles whose thresholds differ report
    different versions, and one whose decision was edited by hand does not load."""
    src = project / MARKET / "models" / "bundle"
    a = redeploy(src, tmp_path / "a", "ensemble", "deploy ensemble")
    b = redeploy(src, tmp_path / "b", "ensemble", "deploy ensemble")
    assert Bundle(a).version == Bundle(b).version  # the same bytes decide the same trades
    spec = json.loads((b / BUNDLE_FILE).read_text())
    spec["policy"]["ensemble"] = 0.05
    seal(b, spec)  # a deliberate change, sealed: loads, under another version
    assert Bundle(b).theta == 0.05 and Bundle(b).version != Bundle(a).version
    assert Bundle(a).version != Bundle(src).version  # redeploy changed the decision
    spec["expiry"]["max_age_days"] = 400.0  # edited by hand, not sealed
    (b / BUNDLE_FILE).write_text(json.dumps(spec))
    with pytest.raises(InputError) as err:
        Bundle(b)
    assert str(err.value) == (f"{b / BUNDLE_FILE}: edited after export (its SHA-256 differs "
                              "from the one export recorded); `dvc repro export`")  # fmt: skip


def test_serving_needs_neither_torch_nor_scikit_learn(project):
    """A serving process loads ONNX Runtime, the XGBoost booster and NumPy only."""
    market = project / MARKET
    code = (
        "import sys, numpy as np, pandas as pd\n"
        "from gafcnn.data.bars import OHLCV, minute_index\n"
        "from gafcnn.serving.bundle import Bundle\n"
        f"df = pd.read_parquet({str(market / 'data/interim/bars.parquet')!r}).iloc[-300:]\n"
        f"b = Bundle({str(market / 'models/bundle')!r})\n"
        "out = b.predict_all({k: df[k].to_numpy() for k in OHLCV}, minute_index(df), [299])\n"
        "assert 0 < out['hybrid'][0] < 1\n"
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def _predict(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gafcnn.cli", "predict", *args],
        input=stdin, capture_output=True, text=True, env=env(),
    )  # fmt: skip


def test_predict_last_n_from_a_file(project, deployed, tmp_path):
    df, arrays, minutes = _bars(project)
    tail = df.iloc[-400:].reset_index(drop=True)
    path = tmp_path / "XBTUSDC_1.csv"
    path.write_text(kraken_rows(tail))
    proc = _predict("--bundle", str(deployed), "--bars", str(path), "--last", "5")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "timestamp,p_up,action,reason,predicted_vol,recommended_size"
    assert len(lines) == 6
    expected = Bundle(deployed).predict(
        {k: tail[k].to_numpy(np.float64) for k in OHLCV}, minute_index(tail), np.arange(395, 400)
    )
    for line, p in zip(lines[1:], expected, strict=True):
        stamp, p_up, action, _, vol, size = line.split(",")
        assert vol == size == ""  # 400 bars: fewer than the forecaster reads
        assert abs(float(p_up) - p) < 1e-6
        assert action == ("long" if p >= 0.5 else "short")
    assert lines[-1].startswith(tail["timestamp"].iloc[-1].isoformat())
    # nothing deployed: every line flat, with the decision as the reason
    none = redeploy(
        project / MARKET / "models" / "bundle", tmp_path / "none", None, "deploy nothing"
    )
    plain = _predict("--bundle", str(none), "--bars", str(path), "--last", "2", "--format", "jsonl")
    rows = [json.loads(x) for x in plain.stdout.splitlines()]
    assert [(r["action"], r["p_up"], r["reason"]) for r in rows] == [
        ("flat", None, "decision: deploy nothing")
    ] * 2
    assert Bundle(none).predict({}, np.array([]), np.array([])) is None
    # too little history: flat, and the reason (which holds a comma) stays one CSV field
    short = tmp_path / "short.csv"
    short.write_text(kraken_rows(tail.iloc[-100:]))
    out = _predict("--bundle", str(deployed), "--bars", str(short), "--last", "1").stdout
    row = next(csv.reader(io.StringIO(out.splitlines()[1])))
    assert row[1:3] == ["", "flat"] and row[3].startswith("history too short: needs 240 bars,")


def test_predict_follows_bars_appended_on_stdin(project, deployed):
    df, _, _ = _bars(project)
    tail = df.iloc[-250:].reset_index(drop=True)
    rows = kraken_rows(tail).splitlines()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gafcnn.cli", "predict", "--bundle", str(deployed), "--bars", "-",
         "--follow", "--format", "jsonl"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env(),
    )  # fmt: skip
    answers = []
    for row in rows:  # one bar in, one line out, before the next bar is written
        proc.stdin.write(row + "\n")
        proc.stdin.flush()
        answers.append(json.loads(proc.stdout.readline()))
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert [a["timestamp"] for a in answers] == [t.isoformat() for t in tail["timestamp"]]
    history = Bundle(deployed).history
    assert history == 240
    assert all(a["action"] == "flat" and "history too short" in a["reason"]
               for a in answers[: history - 1])  # fmt: skip
    assert all(a["action"] in ("long", "short") for a in answers[history - 1 :])
    # the streamed answers equal the batch path's over the same bars
    expected = Bundle(deployed).predict(
        {k: tail[k].to_numpy(np.float64) for k in OHLCV}, minute_index(tail),
        np.arange(history - 1, len(tail)),
    )  # fmt: skip
    got = np.array([a["p_up"] for a in answers[history - 1 :]])
    assert np.abs(got - expected).max() <= 1e-6  # one bar at a time vs a batch


def test_predict_refuses_bad_bars_in_one_line(project, deployed, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,0,9,0,8,1\n")
    proc = _predict("--bundle", str(deployed), "--bars", str(bad))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {bad}:2: non-positive price"
    assert proc.stdout == ""  # nothing written before the error
    stream = "1704067200,10,11,9,10,1,5\n1704067260,10,11,9,10,1,5\n1704067200,10,11,9,10,1,5\n"
    proc = _predict("--bundle", str(deployed), "--bars", "-", "--follow", stdin=stream)
    assert proc.returncode == 0  # following, a bad line is rejected and serving goes on
    assert proc.stderr.strip() == "error: <stdin>:3: bar is not later than the one before it"
    lines = proc.stdout.splitlines()  # the header, the two good bars' answers, the rejection
    assert (
        len(lines) == 4 and lines[3] == ",,flat,rejected: bar is not later than the one before it,,"
    )


def test_following_rejects_each_bad_line_and_keeps_serving(project, deployed):
    """Garbage, an out-of-order bar, a NaN and a non-positive price fed mid-stream are
    each rejected on stderr and answered flat; the good bars around them get exactly
    the answers they get without the bad lines."""
    df, _, _ = _bars(project)
    good = kraken_rows(df.iloc[-260:].reset_index(drop=True)).splitlines()
    bad = ["not,a,bar", good[100], good[250].replace(good[250].split(",")[4], "nan", 1),
           "1704067200,0,11,9,10,1,5"]  # fmt: skip
    fed = good[:252] + [bad[0]] + good[252:254] + bad[1:] + good[254:]
    args = ("--bundle", str(deployed), "--bars", "-", "--follow", "--format", "jsonl")
    clean = _predict(*args, stdin="\n".join(good) + "\n")
    mixed = _predict(*args, stdin="\n".join(fed) + "\n")
    assert clean.returncode == 0 and mixed.returncode == 0, mixed.stderr
    answers = [json.loads(x) for x in mixed.stdout.splitlines()]
    assert len(answers) == len(fed)  # one line out per line in
    rejected = [a for a in answers if a["reason"].startswith("rejected: ")]
    assert len(rejected) == 4 and all(a["action"] == "flat" for a in rejected)
    assert len(mixed.stderr.strip().splitlines()) == 4
    assert all(line.startswith("error: <stdin>:") for line in mixed.stderr.splitlines())
    kept = [a for a in answers if not a["reason"].startswith("rejected: ")]
    assert kept == [json.loads(x) for x in clean.stdout.splitlines()]


def test_history_bars_are_enough_for_the_full_history_answer(project):
    """What a live bot hands over (the last ``history_bars`` bars) gives the P(up) that
    the whole history gives, indicators' warm-up included."""
    bundle = Bundle(project / MARKET / "models" / "bundle")
    _, arrays, minutes = _bars(project)
    h = bundle.history
    ends = np.linspace(len(minutes) // 2, len(minutes) - 1, 12).astype(int)
    full = bundle.predict_all(arrays, minutes, ends)
    for k, end in enumerate(ends):
        sl = slice(end - h + 1, end + 1)
        recent = bundle.predict_all({c: v[sl] for c, v in arrays.items()}, minutes[sl], [h - 1])
        for name in ("ensemble", "xgb_indicators", "hybrid"):
            assert abs(recent[name][0] - full[name][k]) <= 1e-7, (name, end)


def test_no_look_ahead_in_what_is_served(project):
    """At decision times across the test segment, every served input (indicators, each
    CNN's images or bar features) and output (each model's P(up), the action) computed
    from the bars up to t alone equals what the whole file gives."""
    from gafcnn.serving.cnn import cnn_inputs, encoder_of
    from gafcnn.serving.served import Inputs
    from gafcnn.trading.engine import sides

    bundle = Bundle(project / MARKET / "models" / "bundle")
    _, arrays, minutes = _bars(project)
    ref = _reference(project)
    ts = np.sort(clock.ms_of(ref.loc[ref["model"] == "hybrid", "timestamp"]))
    ends = np.searchsorted(minutes, ts[np.linspace(0, len(ts) - 1, 8).astype(int)] // MINUTE_MS)
    whole = Inputs(arrays, minutes, ends)
    full = bundle.predict_all(arrays, minutes, ends)
    cnns = bundle.spec["models"]["cnn_w{w}"]["windows"]
    for k, t in enumerate(ends):
        upto = Inputs({c: v[: t + 1] for c, v in arrays.items()}, minutes[: t + 1], np.array([t]))
        np.testing.assert_array_equal(upto.indicators[0], whole.indicators[k])
        for key, meta in cnns.items():
            w, enc = int(key[1:]), encoder_of(meta)
            np.testing.assert_array_equal(
                cnn_inputs(upto, w, enc, meta)[0], cnn_inputs(whole, w, enc, meta)[k]
            )
        alone = bundle.predict_all(upto.bars, upto.minutes, upto.positions)
        assert alone.keys() == full.keys()
        for name, p in full.items():
            assert abs(alone[name][0] - p[k]) <= 1e-12, (name, t)
            theta = bundle.spec["policy"][name]
            assert sides(alone[name], theta)[0] == sides(p[k : k + 1], theta)[0]


def _predict_tail(bundle, spec: dict, tail: pd.DataFrame, tmp_path, last: int):
    """`gafcnn predict --last N` on ``tail`` with ``spec`` as the bundle's bundle.json:
    the process and its CSV rows (header left out)."""
    seal(bundle, spec)
    path = tmp_path / "XBTUSDC_1.csv"
    path.write_text(kraken_rows(tail))
    proc = _predict("--bundle", str(bundle), "--bars", str(path), "--last", str(last))
    assert proc.returncode == 0, proc.stderr
    return proc, [line.split(",") for line in proc.stdout.strip().splitlines()[1:]]


def test_an_expired_model_answers_flat_and_says_so_once(project, deployed, tmp_path):
    df, _, _ = _bars(project)
    tail = df.iloc[-400:].reset_index(drop=True)
    spec = json.loads((deployed / BUNDLE_FILE).read_text())
    assert spec["expiry"]["max_age_days"] == 14.0 and 0 < spec["expiry"]["tested_days"] < 14
    fitted = tail["timestamp"].iloc[-3] - pd.Timedelta(days=1)  # the last two bars are older
    spec["expiry"] = {"fitted_until": fitted.isoformat(), "max_age_days": 1.0}
    proc, rows = _predict_tail(deployed, spec, tail, tmp_path, 5)
    assert [r[3] for r in rows[3:]] == ["model expired"] * 2 and {r[2] for r in rows[3:]} == {
        "flat"
    }
    assert all(r[1] for r in rows[:3]) and not any(r[1] for r in rows[3:])
    assert proc.stderr.count("model expired") == 1 and fitted.isoformat() in proc.stderr


def test_predict_is_flat_inside_the_deployed_models_band(project, deployed, tmp_path):
    df, arrays, minutes = _bars(project)
    tail = df.iloc[-400:].reset_index(drop=True)
    spec = json.loads((deployed / BUNDLE_FILE).read_text())
    p = Bundle(deployed).predict(
        {k: tail[k].to_numpy(np.float64) for k in OHLCV}, minute_index(tail), np.arange(380, 400)
    )
    spec["policy"]["ensemble"] = float(np.median(np.abs(p - 0.5)))  # about half inside the band
    _, rows = _predict_tail(deployed, spec, tail, tmp_path, 20)
    theta = spec["policy"]["ensemble"]
    for (_, p_up, action, reason, _, _), prob in zip(rows, p, strict=True):
        want = "long" if prob >= 0.5 + theta else "short" if prob <= 0.5 - theta else "flat"
        assert action == want and (reason.startswith("below threshold") == (want == "flat"))
        assert abs(float(p_up) - prob) < 1e-6
    assert {"flat", "long"} <= {r[2] for r in rows} or {"flat", "short"} <= {r[2] for r in rows}


def test_the_served_volatility_forecast_is_the_one_the_sizing_stage_scored(project):
    """The bundle's forecaster, from raw bars, gives the `volatility` stage's test
    forecasts of the model `sizing` chose, bit for bit; the size is the capped ratio;
    a forecast from the bars up to t alone is the whole file's, from the last
    ``history_bars`` too, and from half of them there is none."""
    from gafcnn.volatility.sizing import recommended_size

    bundle = Bundle(project / MARKET / "models" / "bundle")
    chosen = json.loads((project / MARKET / "metrics" / "sizing.json").read_text())["served"]
    assert bundle.sizer is not None and bundle.sizer.model == chosen["model"]
    ref = pd.read_parquet(project / MARKET / "data" / "volatility.parquet")
    ref = ref[(ref["model"] == chosen["model"]) & (ref["segment"] == "test")].sort_values("ts")
    _, arrays, minutes = _bars(project)
    pos = np.searchsorted(minutes, ref["ts"].to_numpy() // MINUTE_MS)
    served = bundle.sizer.forecast(arrays, minutes, pos)
    assert np.isfinite(served).all()
    np.testing.assert_array_equal(served, ref["predicted"].to_numpy())
    size = bundle.sizer.size(served)
    spec = bundle.spec["volatility"]
    np.testing.assert_array_equal(
        size, recommended_size(served, spec["target_vol"], spec["max_leverage"])
    )
    for t in pos[np.linspace(0, len(pos) - 1, 5).astype(int)]:
        upto = bundle.sizer.forecast({c: v[: t + 1] for c, v in arrays.items()},
                                     minutes[: t + 1], np.array([t]))  # fmt: skip
        assert abs(upto[0] - served[pos == t][0]) <= 1e-12 * served[pos == t][0]
        h = spec["history_bars"]
        recent = bundle.sizer.forecast({c: v[t - h + 1 : t + 1] for c, v in arrays.items()},
                                       minutes[t - h + 1 : t + 1], np.array([h - 1]))  # fmt: skip
        assert abs(recent[0] - upto[0]) <= 1e-9 * upto[0]  # history_bars are enough
        half = bundle.sizer.forecast({c: v[t - h // 2 : t + 1] for c, v in arrays.items()},
                                     minutes[t - h // 2 : t + 1], np.array([h // 2]))  # fmt: skip
        assert np.isnan(half[0]) or spec["model"] == "vol_persistence"  # half of it: none


def test_predict_sizes_whatever_the_direction_decides(project, tmp_path):
    """`gafcnn predict` on a bundle that deploys nothing: every answer flat, and every
    one with the history a recommended size (the capped ratio of its forecast)."""
    bundle = redeploy(project / MARKET / "models" / "bundle", tmp_path / "b", None, "none")
    spec = Bundle(bundle).spec["volatility"]
    df, _, _ = _bars(project)
    path = tmp_path / "XBTUSDC_1.csv"
    path.write_text(kraken_rows(df.iloc[-(spec["history_bars"] + 10) :]))
    proc = _predict("--bundle", str(bundle), "--bars", str(path), "--last", "5",
                    "--format", "jsonl")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 5 and {r["action"] for r in rows} == {"flat"}
    for r in rows:
        assert r["recommended_size"] == pytest.approx(
            min(spec["max_leverage"], spec["target_vol"] / r["predicted_vol"]), rel=1e-12
        )


def test_every_forecaster_loaded_from_its_files_forecasts_what_the_stage_scored(project):
    """Each declared forecaster (the CNN head included), loaded from the files the
    `volatility` stage wrote as a bundle loads it, gives the stage's test forecasts bit
    for bit from raw bars."""
    from gafcnn import registry
    from gafcnn.serving.boosters import load_booster
    from gafcnn.serving.sizing import declared
    from gafcnn.volatility.forecasters import Features

    folder = project / MARKET / "models" / "volatility"
    ref = pd.read_parquet(project / MARKET / "data" / "volatility.parquet")
    _, arrays, minutes = _bars(project)
    fitted = json.loads((project / MARKET / "metrics" / "volatility.json").read_text())
    horizon, spans = fitted["horizon_minutes"], tuple(fitted["har_spans"])
    for model in registry.VOLATILITY:
        want = ref[(ref["model"] == model.name) & (ref["segment"] == "test")].sort_values("ts")
        state = json.loads((folder / f"{model.name}.json").read_text())
        forecaster = declared(model).load(state, folder, model.name, loader=load_booster)
        pos = np.searchsorted(minutes, want["ts"].to_numpy() // MINUTE_MS)
        got = forecaster.predict(Features(arrays, minutes, pos, horizon, spans))
        np.testing.assert_array_equal(got, want["predicted"].to_numpy(), err_msg=model.name)
        assert np.isfinite(got).mean() > 0.99, model.name


def test_a_bundle_sizing_by_an_undeclared_forecaster_is_refused_in_one_line(project, tmp_path):
    bundle = redeploy(project / MARKET / "models" / "bundle", tmp_path / "b", None, "none")
    spec = json.loads((bundle / BUNDLE_FILE).read_text())
    spec["volatility"]["model"] = "vol_garch"
    seal(bundle, spec)
    with pytest.raises(InputError, match="no volatility forecaster 'vol_garch'; declared: vol_"):
        Bundle(bundle)
