"""The ``gafcnn`` command: ``gafcnn predict`` serves a deployment bundle to a trading bot
on the command line, ``gafcnn serve`` over HTTP (:mod:`gafcnn.serving.http`), and
``gafcnn paper`` trades its policy on bars (see :mod:`gafcnn.serving.paper`).

    gafcnn predict --bars bars.csv --last 5        # the one market's bundle (markets/)
    tail -f bars.csv | gafcnn predict --bars - --follow
    gafcnn serve --port 8000                       # each symbol by its own bundle
    gafcnn predict --symbol ETH_USDT --bars eth.csv
    gafcnn predict --bundle markets/BTCUSDT/models/bundle --bars bars.csv
    gafcnn paper --bars bars.csv --from 2024-02-05 --model hybrid
    gafcnn retrain                                  # a challenger, judged; models/versions
    gafcnn serve --bundle models/versions           # each symbol's champion, hot-reloaded
    gafcnn rollback --symbol BTC/USDT
    gafcnn replay --bars BTC_USDT-1m.feather --symbol BTC/USDT

Bars come in any layout `ingest` accepts (a file, a directory, a ``.gz``/``.zip``,
or ``-`` for stdin). One line goes out per decision time (each bar's timestamp):
the timestamp, P(up) of the deployed model and the action of its policy, with the
reason when it is ``flat`` (:mod:`gafcnn.serving.signals`). ``--follow`` answers
each bar appended on stdin at once (flushed), so a bot in any language can pipe
bars in and read signals out. Bad bars in a file stop it with the same one-line
errors as `ingest`; while following, a bad line (unparseable, not a valid bar, not
later than the last good bar) is rejected with that error on stderr and answered
``flat`` (``rejected: ...``), and serving goes on from the good bars.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock, paths
from gafcnn.data.bars import minute_index
from gafcnn.io import InputError, run_stage
from gafcnn.serving.signals import FIELDS, KEEP, Stream, decision_rows, warn_expired

BUNDLE_HELP = (
    "the markets folder (each symbol's markets/<symbol>/models/bundle), a bundle "
    "folder (export stage) or a versions store"
)


def format_row(row: dict, fmt: str) -> str:
    """One output line: a JSON object, or a CSV row (fields quoted where needed)."""
    if fmt == "jsonl":
        return json.dumps(row)
    p = "" if row["p_up"] is None else f"{row['p_up']:.6f}"
    vol, size = (row.get(k) for k in ("predicted_vol", "recommended_size"))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([
        row["timestamp"], p, row["action"], row["reason"],
        "" if vol is None else f"{vol:.6g}", "" if size is None else f"{size:.6g}",
    ])  # fmt: skip
    return buf.getvalue()


def _read(source: str, columns: list[str] | None) -> pd.DataFrame:
    from gafcnn.data.readers import ReadReport, combine, parse_text, read_bars

    if source != "-":
        return read_bars(source, columns=columns)[0]
    name = Path("<stdin>")
    return combine([(name, parse_text(sys.stdin.read(), name, columns))], ReadReport())


def _follow(
    lines: Iterable[str], columns: list[str] | None, stream: Stream
) -> Iterator[InputError | None]:
    """Append each bar of ``lines`` to ``stream`` as it comes; yield None for each bar
    appended, or the InputError that rejects a line (unparseable, not a valid bar, not
    later than the last good bar). A header line is remembered."""
    from gafcnn.data.readers import ReadReport, combine, parse_text

    name, header = "<stdin>", None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if header is None and number == 1 and not line.split(",")[0].strip()[:1].isdigit():
            header = line.rstrip("\n")
            continue
        text = line if header is None else f"{header}\n{line}"
        try:
            stream.append(combine([(Path(name), parse_text(text, name, columns))], ReadReport()),
                          name, number)  # fmt: skip
        except InputError as exc:
            yield InputError(name, exc.message, number)
            continue
        yield None


def predict_main(argv: list[str] | None = None) -> None:
    from gafcnn.serving.symbols import bundle_for

    ap = argparse.ArgumentParser(prog="gafcnn predict", description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", default=str(paths.MARKETS), help=BUNDLE_HELP)
    ap.add_argument("--symbol", help="the bars' symbol: picks its bundle in a universe's folder")
    ap.add_argument("--bars", required=True, help="bars file, directory or - for stdin")
    ap.add_argument("--columns", help="names of a headerless layout, comma-separated")
    ap.add_argument("--last", type=int, help="only the most recent N decision times")
    ap.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    ap.add_argument("--follow", action="store_true", help="answer each bar appended on stdin")
    a = ap.parse_args(argv)
    columns = a.columns.split(",") if a.columns else None
    bundle = bundle_for(a.bundle, a.symbol)
    out = sys.stdout
    header = ",".join(FIELDS) if a.format == "csv" else None
    if a.follow:
        if a.bars != "-":
            raise InputError(a.bars, "--follow reads bars appended on stdin: use --bars -")
        if header:
            print(header, file=out, flush=True)
        stream = Stream(bundle)
        for error in _follow(sys.stdin, columns, stream):
            if error is not None:  # one line out per line in; the bars so far stay
                print(f"error: {error}", file=sys.stderr, flush=True)
                row = dict(zip(FIELDS, (None, None, "flat", f"rejected: {error.message}",
                                        None, None), strict=True))  # fmt: skip
                print(format_row(row, a.format), file=out, flush=True)
                continue
            print(format_row(stream.answer(), a.format), file=out, flush=True)
        return
    bars = _read(a.bars, columns)  # bad bars stop it here, before any output
    bundle.check_bars(bars, a.bars)
    if header:
        print(header, file=out)
    n = len(bars)
    first = 0 if a.last is None else max(0, n - a.last)
    for row in decision_rows(bundle, bars, np.arange(first, n)):
        print(format_row(row, a.format), file=out)


def _paper_model(bundle, name: str | None) -> str:
    """The model to paper-trade: ``name`` (any served model) or the deployed one."""
    served = list(bundle.spec["policy"] or {})
    if name is None:
        if bundle.deployed is None:
            decision = (bundle.spec["decision"] or {}).get("decision", "none")
            raise InputError(bundle.path, f"nothing is deployed (decision: {decision}); "
                             f"name a served model with --model ({', '.join(served)})")  # fmt: skip
        return bundle.deployed
    if name not in served:
        raise InputError(bundle.path, f"--model {name}: not served; served: {', '.join(served)}")
    return name


def _minute(stamp: str | None) -> int | None:
    if stamp is None:
        return None
    return clock.parse_minute(stamp, "--from")


def _trade_lines(frame: pd.DataFrame, fmt: str) -> Iterator[str]:
    for row in frame.to_dict("records"):
        row = {k: clock.iso(v) if isinstance(v, pd.Timestamp) else v for k, v in row.items()}
        row = {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
        if fmt == "jsonl":
            yield json.dumps(row)
        else:
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(
                ["" if v is None else v for v in row.values()]
            )
            yield buf.getvalue()


def paper_main(argv: list[str] | None = None) -> None:
    """``gafcnn paper``: the trade log on stdout (each trade as it closes), the summary
    on stderr and, with ``--summary``, as JSON."""
    from gafcnn.io import write_json
    from gafcnn.serving import paper
    from gafcnn.serving.symbols import bundle_for
    from gafcnn.trading.trader import Trader

    ap = argparse.ArgumentParser(prog="gafcnn paper", description=paper.__doc__.split("\n")[0])
    ap.add_argument("--bundle", default=str(paths.MARKETS), help=BUNDLE_HELP)
    ap.add_argument("--symbol", help="the bars' symbol: picks its bundle in a universe's folder")
    ap.add_argument("--bars", required=True, help="bars file, directory or - for stdin")
    ap.add_argument("--columns", help="names of a headerless layout, comma-separated")
    ap.add_argument("--from", dest="start", help="first decision time (UTC timestamp)")
    ap.add_argument("--model", help="a served model to trade (default: the deployed one)")
    ap.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    ap.add_argument("--summary", help="also write the summary to this JSON file")
    ap.add_argument("--follow", action="store_true", help="trade each bar appended on stdin")
    a = ap.parse_args(argv)
    columns = a.columns.split(",") if a.columns else None
    bundle = bundle_for(a.bundle, a.symbol)
    policy = bundle.policy(_paper_model(bundle, a.model))
    start, trader = _minute(a.start), Trader(policy, bundle.version)
    header = "entry,exit,side,p_up,gross,net,void,recommended_size" if a.format == "csv" else None
    if a.follow:
        if a.bars != "-":
            raise InputError(a.bars, "--follow reads bars appended on stdin: use --bars -")
        if header:
            print(header, flush=True)
        stream, sizes = Stream(bundle), {}  # the size at each decision, kept while open
        for error in _follow(sys.stdin, columns, stream):
            if error is not None:  # the bars so far stay; trading goes on
                print(f"error: {error}", file=sys.stderr, flush=True)
                continue
            bars = stream.bars
            minute = int(minute_index(bars)[-1])
            warn_expired(bundle, minute)
            p = None
            if trader.due(minute):
                recent = bars.iloc[-KEEP:]  # what the stream's answers read
                p = paper.decision_probabilities(bundle, recent, policy, start, last_only=True)[0]
                sizes[minute] = stream.size()["recommended_size"]
            closed = trader.bar(minute, float(bars["close"].iloc[-1]), p)
            if closed is not None:
                size = [sizes.get(closed.entry)]
                for line in _trade_lines(paper.log([closed], policy.horizon, size), a.format):
                    print(line, flush=True)
            held = trader.position  # keep only the open position's size
            sizes = {} if held is None else {held.entry: sizes.get(held.entry)}
    else:
        bars = _read(a.bars, columns)  # bad bars stop it here, before any output
        bundle.check_bars(bars, a.bars)
        p_up = paper.decision_probabilities(bundle, bars, policy, start)
        warn_expired(bundle, int(minute_index(bars)[-1]))  # the last bar is the latest
        if header:
            print(header)
        trades = paper.replay(trader, bars, p_up)
        sized = paper.entry_sizes(bundle, bars, trades)
        for line in _trade_lines(paper.log(trades, policy.horizon, sized), a.format):
            print(line)
    result = paper.summary(trader)
    print("summary: " + ", ".join(f"{k} {v}" for k, v in result.items()), file=sys.stderr)
    if a.summary:
        write_json(a.summary, result)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _token(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise InputError(path, f"cannot read the token file ({exc.strerror})") from None
    if not token or len(token.split()) != 1:
        raise InputError(path, "the token file must hold one token (no spaces)")
    return token


def serve_main(argv: list[str] | None = None) -> None:
    """``gafcnn serve``: the bundle behind HTTP (:mod:`gafcnn.serving.http`)."""
    import uvicorn

    from gafcnn.serving.http.app import create_app
    from gafcnn.serving.http.options import MAX_AHEAD_S, MAX_BARS, MAX_BODY, RELOAD_S, Options
    from gafcnn.serving.symbols import Served

    ap = argparse.ArgumentParser(prog="gafcnn serve", description="Serve the bundle over HTTP.")
    ap.add_argument("--bundle", default=str(paths.MARKETS), help=BUNDLE_HELP)
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--symbols", default="", help="a bundle: symbols it serves besides its "
                    "own; a universe's folder: the symbols served (default all), a,b")  # fmt: skip
    ap.add_argument("--token-file", help="require 'Authorization: Bearer <its token>'")
    ap.add_argument("--max-body", type=int, default=MAX_BODY, help="largest request body, bytes")
    ap.add_argument("--max-bars", type=int, default=MAX_BARS, help="most bars in one POST /bars")
    ap.add_argument("--max-ahead", type=float, default=MAX_AHEAD_S,
                    help="seconds a timestamp may lie ahead of this machine's clock")  # fmt: skip
    ap.add_argument(
        "--reload-s",
        type=float,
        default=RELOAD_S,
        help="seconds between reads of a versions store's pointers and the log",
    )
    ap.add_argument("--log", default=str(paths.PROMOTIONS),
                    help="the promotions log: the guards' state is kept there")  # fmt: skip
    a = ap.parse_args(argv)
    if not a.reload_s > 0:
        raise InputError("--reload-s", f"{a.reload_s:g} is not allowed (seconds > 0)")
    for flag, value in (("--max-body", a.max_body), ("--max-bars", a.max_bars)):
        if value < 1:
            raise InputError(flag, f"{value} is not allowed (an integer >= 1)")
    if not a.max_ahead >= 0:  # NaN too
        raise InputError("--max-ahead", f"{a.max_ahead:g} is not allowed (seconds >= 0)")
    token = _token(a.token_file)
    if a.host not in LOOPBACK and token is None:
        raise InputError("--host", f"{a.host} is reachable from other machines: give --token-file")
    served = Served.open(a.bundle, [s.strip() for s in a.symbols.split(",") if s.strip()])
    watch = served.store  # a store: its new champions are swapped in
    app = create_app(served, Options(token=token, max_body=a.max_body, max_bars=a.max_bars,
                                     max_ahead_s=a.max_ahead, watch=watch, log=Path(a.log),
                                     reload_s=a.reload_s))  # fmt: skip
    gc.freeze()  # the loaded models stay out of the collector's scans while serving
    deployed = ", ".join(f"{s}: {b.deployed or 'nothing'}" for s, b in served.bundles.items())
    print(f"serving {a.bundle} (deployed: {deployed}) on http://{a.host}:{a.port}",
          file=sys.stderr, flush=True)  # fmt: skip
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning", access_log=False,
                loop="uvloop", http="httptools")  # fmt: skip


def _symbols(params, symbol: str | None) -> list[str]:
    """The symbols a retrain fits: the one named, else every symbol of params.yaml."""
    return [symbol] if symbol else list(params.data.symbols)


def _bars_of(params, symbol: str, bars: str | None) -> pd.DataFrame:
    """``symbol``'s bars: the file ``bars``, else params.yaml's data source (new bars
    appended to it), read and validated as `ingest` reads them."""
    from gafcnn.data.ingest import ingest

    if bars is not None:
        return _read(bars, None)
    return ingest(params, symbol)[0]


def retrain_main(argv: list[str] | None = None) -> None:
    """``gafcnn retrain``: a challenger per symbol on the window ending at its newest
    bar, judged against the champion (:mod:`gafcnn.live.retrain`); the symbols' fits
    run as tasks of the project's executor (``runtime``), judged here in order."""
    import tempfile

    from gafcnn.executor import from_params
    from gafcnn.live.retrain import Challenger, fit_challenger, settle
    from gafcnn.params import read_params
    from gafcnn.serving.versions import store

    ap = argparse.ArgumentParser(prog="gafcnn retrain", description=retrain_main.__doc__)
    ap.add_argument("--symbol", help="one symbol (default: every symbol of params.yaml)")
    ap.add_argument("--bars", help="bars file or directory (default: params.yaml's data source)")
    ap.add_argument("--store", default=str(paths.VERSIONS), help="the versions store")
    ap.add_argument("--log", default=str(paths.PROMOTIONS), help="the promotions log")
    a = ap.parse_args(argv)
    params = read_params()
    tasks = []
    for symbol in _symbols(params, a.symbol):
        bars = _bars_of(params, symbol, a.bars)
        end = int(minute_index(bars)[-1]) + 1  # the newest bar is complete
        tasks.append(Challenger(params, bars, end, symbol, a.bars))
    fitted = from_params(params).map(fit_challenger, tasks, [t.symbol for t in tasks])
    for task, fit in zip(tasks, fitted, strict=True):
        with tempfile.TemporaryDirectory(prefix="gafcnn-retrain.") as tmp:
            judged = settle(params, fit, task.bars, task.end,
                            store(a.store, task.symbol, a.log), Path(tmp))  # fmt: skip
        verb = "promoted" if judged.verdict.promote else "refused"
        e = judged.verdict.figures["evidence"]
        print(f"retrain {task.symbol} to {clock.iso_minute(task.end)}: {judged.version} {verb}: "
              f"{judged.verdict.reason} (record: {e['stretches']} tests, {e['test_days']:.1f} "
              f"days, {e['decisions']} decisions; detects an accuracy edge of "
              f"{e['detectable_accuracy_edge'] * 100:.1f} points)", flush=True)  # fmt: skip


def rollback_main(argv: list[str] | None = None) -> None:
    """``gafcnn rollback``: the previous champion serves again (logged)."""
    from gafcnn.serving.versions import store

    ap = argparse.ArgumentParser(prog="gafcnn rollback", description=rollback_main.__doc__)
    ap.add_argument("--symbol", required=True)
    ap.add_argument("--store", default=str(paths.VERSIONS), help="the versions store")
    ap.add_argument("--log", default=str(paths.PROMOTIONS), help="the promotions log")
    ap.add_argument("--reason", default="rolled back by hand", help="said in the log")
    a = ap.parse_args(argv)
    versions = store(a.store, a.symbol, a.log)
    now = clock.iso_minute(int(clock.minutes_of_ms(clock.now_ms())))
    print(f"rollback {a.symbol}: {versions.rollback(now, a.reason)} serves again")


def breaker_main(argv: list[str] | None = None) -> None:
    """``gafcnn breaker reset``: an operator lifts a symbol's tripped breaker (logged; a
    running `gafcnn serve` with the same log picks it up within ``--reload-s``)."""
    from gafcnn.data.sources import symbol_key
    from gafcnn.serving.desk import held
    from gafcnn.serving.versions import Event, Log

    ap = argparse.ArgumentParser(prog="gafcnn breaker", description=breaker_main.__doc__)
    ap.add_argument("action", choices=("reset",))
    ap.add_argument("--symbol", required=True)
    ap.add_argument("--log", default=str(paths.PROMOTIONS), help="the promotions log")
    ap.add_argument("--reason", default="reset by an operator", help="said in the log")
    a = ap.parse_args(argv)
    log = Log(a.log, symbol_key(a.symbol))
    tripped = held(log.events(), None)[0]
    if tripped is None:
        raise InputError(a.log, f"{log.symbol}: no tripped breaker to reset")
    now = clock.iso_minute(int(clock.minutes_of_ms(clock.now_ms())))
    log.record(Event(now, "reset", None, None, a.reason, {"was": tripped}, log.symbol))
    print(f"breaker {log.symbol}: reset ({tripped})")


def replay_main(argv: list[str] | None = None) -> None:
    """``gafcnn replay``: a history lived bar by bar with retraining, promotion and the
    guards (:mod:`gafcnn.live.replay`); the summary on stdout."""
    import time

    from gafcnn.live.replay import replay
    from gafcnn.params import read_params

    ap = argparse.ArgumentParser(prog="gafcnn replay", description=replay_main.__doc__)
    ap.add_argument("--bars", required=True, help="bars file or directory (one symbol)")
    ap.add_argument("--symbol", help="the bars' symbol (default: params.yaml's first)")
    ap.add_argument("--out", default=str(paths.REPLAY), help="folder for the store and timeline")
    ap.add_argument("--no-guards", action="store_true", help="drift gate and breaker off")
    a = ap.parse_args(argv)
    params = read_params()
    symbol = _symbols(params, a.symbol)[0]
    bars = _read(a.bars, None)
    t0 = time.perf_counter()
    summary = replay(params, bars, symbol, Path(a.out), not a.no_guards, a.bars)
    print(json.dumps(summary, indent=1))
    print(f"replay: {time.perf_counter() - t0:.0f} s; timeline in {a.out}", file=sys.stderr)


def volatility_main(argv: list[str] | None = None) -> None:
    """``gafcnn volatility``: the volatility forecasters and always long, unsized against
    sized, on one bars file with params.yaml's split (:mod:`gafcnn.volatility.study`);
    the report on stdout, its figures as JSON with ``--json``."""
    from gafcnn.params import read_params, runtime_setting
    from gafcnn.serving.sizing import forecasters
    from gafcnn.volatility.report import markdown
    from gafcnn.volatility.study import study

    ap = argparse.ArgumentParser(prog="gafcnn volatility", description=volatility_main.__doc__)
    ap.add_argument("--bars", required=True, help="bars file or directory (one symbol)")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args(argv)
    params = read_params()
    bars = _read(a.bars, None)
    try:
        figures = study(params, bars, forecasters(pipeline=False),
                        runtime_setting(params, "threads"))  # fmt: skip
    except ValueError as exc:
        raise InputError(a.bars, str(exc)) from None
    print(markdown(figures))
    if a.json:
        from gafcnn.io import write_json

        write_json(a.json, figures)


TIMEFRAMES = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240,
              "1d": 1440}  # fmt: skip


def _edge_bars(paths_: list[str], timeframe: str) -> dict[str, pd.DataFrame]:
    """Each symbol's bars: ``SYMBOL=PATH`` (a file, a folder or a glob of its files), a
    file (its symbol the freqtrade pair or the file's stem) or a freqtrade directory
    (every pair's file of ``timeframe``)."""
    from gafcnn.data import freqtrade
    from gafcnn.data.readers import read_bars

    files: dict[str, Path | str] = {}
    for item in paths_:
        name, sep, path = item.partition("=")
        if sep:
            files[name] = path
            continue
        p = Path(item)
        if p.is_dir():
            found = {k.rsplit("-", 1)[0]: v[0] for k, v in freqtrade.pairs_in(p).items()
                     if k.endswith(f"-{timeframe}")}  # fmt: skip
            if not found:
                raise InputError(p, f"no freqtrade {timeframe} candle files here")
            files |= found
        else:
            m = freqtrade.PAIR_FILE.match(p.name)
            files[m.group("pair") if m else p.name.split(".")[0]] = p
    interval = TIMEFRAMES[timeframe]
    return {s: read_bars(str(f), interval=interval)[0] for s, f in sorted(files.items())}


def edge_main(argv: list[str] | None = None) -> None:
    """``gafcnn edge``: where the edge might be (:mod:`gafcnn.edge`). ``horizons``: one
    symbol's direction at several horizons on one split, with order flow (when its bars
    carry it) and leaders' bars as inputs; ``cross-section``: the ranking of three or
    more symbols, rank IC and a long-short portfolio. The report on stdout, its figures
    as JSON with ``--json``; params.yaml's split, xgb, costs and bootstrap."""
    from gafcnn.edge import cross_section, horizons
    from gafcnn.edge.report import cross_section_markdown, horizons_markdown
    from gafcnn.params import read_params, runtime_setting

    ap = argparse.ArgumentParser(prog="gafcnn edge", description=edge_main.__doc__)
    sub = ap.add_subparsers(dest="study", required=True)
    h = sub.add_parser("horizons", help="one symbol, several horizons (1-minute bars)")
    h.add_argument("--bars", required=True, help="bars file or directory (one symbol)")
    h.add_argument("--horizons", default="5,15,60,240", help="bars ahead, comma-separated")
    h.add_argument(
        "--flow",
        choices=("auto", "on", "off"),
        default="auto",
        help="the order-flow model: when the bars carry it (auto), or not",
    )
    h.add_argument(
        "--leader",
        action="append",
        default=[],
        metavar="SYMBOL=FILE",
        help="a leader's bars, read as of each decision's bar (repeatable)",
    )
    c = sub.add_parser("cross-section", help="three or more symbols ranked")
    c.add_argument(
        "--bars",
        required=True,
        nargs="+",
        help="each symbol's bars: SYMBOL=PATH (a file, folder or glob), a file (one per "
        "symbol) or a freqtrade exchange directory",
    )
    c.add_argument("--timeframe", choices=list(TIMEFRAMES), default="1m", help="the bars' interval")
    c.add_argument("--horizons", default="1", help="bars ahead, comma-separated")
    c.add_argument(
        "--refit",
        choices=("none", "yearly"),
        default="none",
        help="fit once on the split, or walk forward refitting each year",
    )
    for p in (h, c):
        p.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args(argv)
    try:
        hs = [int(v) for v in a.horizons.split(",")]
    except ValueError:
        hs = []
    if not hs or min(hs) < 1:
        raise InputError("--horizons", f"{a.horizons!r} is not whole bars >= 1, comma-separated")
    params = read_params()
    threads = runtime_setting(params, "threads")
    try:
        if a.study == "horizons":
            leaders = {}
            for spec in a.leader:
                name, sep, file = spec.partition("=")
                if not sep or not name or not file:
                    raise InputError("--leader", f"{spec!r} is not SYMBOL=FILE")
                leaders[name] = _read(file, None)
            bars = _read(a.bars, None)
            flow = None if a.flow == "auto" else a.flow == "on"
            market = horizons.Market.of(bars, leaders)
            figures = horizons.study(params, market, hs, flow, threads)
            text = horizons_markdown(figures)
        else:
            frames = _edge_bars(a.bars, a.timeframe)
            panel = cross_section.Panel.of(frames, TIMEFRAMES[a.timeframe])
            figures = cross_section.study(params, panel, hs, a.refit, threads)
            text = cross_section_markdown(figures)
    except ValueError as exc:
        raise InputError(" ".join(a.bars) if isinstance(a.bars, list) else a.bars,
                         str(exc)) from None  # fmt: skip
    print(text)
    if a.json:
        from gafcnn.io import write_json

        write_json(a.json, figures)


COMMANDS = {"predict": predict_main, "paper": paper_main, "serve": serve_main,
            "retrain": retrain_main, "rollback": rollback_main, "replay": replay_main,
            "breaker": breaker_main, "volatility": volatility_main,
            "edge": edge_main}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """``gafcnn <command>``: ``predict`` (signals), ``paper`` (trades) or ``serve`` (HTTP)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        usage = ("usage: gafcnn predict|paper --bundle DIR --bars FILE|- [options]\n"
                 "       gafcnn serve --bundle DIR [--host H] [--port P]\n"
                 "       gafcnn retrain [--symbol S] [--bars FILE]\n"
                 "       gafcnn rollback --symbol S\n"
                 "       gafcnn breaker reset --symbol S\n"
                 "       gafcnn replay --bars FILE [--symbol S] [--out DIR]\n"
                 "       gafcnn volatility --bars FILE [--json FILE]\n"
                 "       gafcnn edge horizons|cross-section --bars ... [--json F]")  # fmt: skip
        print(usage, file=sys.stderr)
        sys.exit(2)
    command = COMMANDS[argv[0]]
    run_stage(lambda: command(argv[1:]))


if __name__ == "__main__":
    main()
