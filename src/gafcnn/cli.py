"""The ``gafcnn`` command: ``gafcnn predict`` serves a deployment bundle to a trading bot;
``gafcnn paper`` trades its policy on bars (see :mod:`gafcnn.serving.paper`).

    gafcnn predict --bundle models/bundle --bars bars.csv --last 5
    tail -f bars.csv | gafcnn predict --bundle models/bundle --bars - --follow
    gafcnn paper --bundle models/bundle --bars bars.csv --from 2024-02-05 --model hybrid

Bars come in any layout `ingest` accepts (a file, a directory, a ``.gz``/``.zip``,
or ``-`` for stdin). One line goes out per decision time (each bar's timestamp):
the timestamp, P(up) of the deployed model and the action of its policy, as the
backtest trades it - ``long`` if P(up) >= 0.5 + theta, ``short`` if <= 0.5 - theta
(theta: the model's threshold chosen on val; theta 0 is always in), ``flat`` with the
reason inside that band, when nothing is deployed or when history is too short
(fewer than the bundle's ``history_bars``, 240, or a gap inside the longest window).
``--follow`` answers each bar appended on stdin at once (flushed), so a bot in any
language can pipe bars in and read signals out. Bad bars in a file stop it with the
same one-line errors as `ingest`; while following, a bad line (unparseable, not a
valid bar, not later than the last good bar) is rejected with that error on stderr
and answered ``flat`` (``rejected: ...``), and serving goes on from the good bars.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import paths
from gafcnn.data.bars import MINUTE_MS, OHLCV, minute_index
from gafcnn.evaluation.backtest import sides
from gafcnn.io import InputError, run_stage

FIELDS = ("timestamp", "p_up", "action", "reason")
ACTIONS = {1: "long", -1: "short", 0: "flat"}  # the backtest's sides
FOLLOW_KEEP = 2000  # bars kept while following: indicators' EMAs forget older ones


def warn_expired(bundle, minute: int) -> str | None:
    """Why a decision at ``minute`` may not trade on ``bundle`` (expired), said once on
    stderr per process; None while it may."""
    expired = bundle.expired(minute)
    if expired and not bundle.warned_expired:
        print(f"warning: {expired}", file=sys.stderr, flush=True)
        bundle.warned_expired = True
    return expired


def decision_rows(bundle, bars: pd.DataFrame, positions: np.ndarray) -> list[dict]:
    """One output row per bar position: timestamp, P(up), action and reason."""
    minutes = minute_index(bars)
    arrays = {k: bars[k].to_numpy(np.float64) for k in OHLCV}
    need, history = max(bundle.windows), bundle.history
    complete = bundle.ready(minutes, positions)
    p = np.full(len(positions), np.nan)
    if bundle.deployed is not None and complete.any():
        p[complete] = bundle.predict(arrays, minutes, positions[complete])
    rows = []
    for k, pos in enumerate(positions):
        stamp = pd.Timestamp(int(minutes[pos]) * MINUTE_MS, unit="ms", tz="UTC").isoformat()
        expired = warn_expired(bundle, int(minutes[pos]))
        if bundle.deployed is None:
            decision = bundle.spec["decision"]["decision"] if bundle.spec["decision"] else "none"
            row = (None, "flat", f"decision: {decision}")
        elif expired:
            row = (None, "flat", "model expired")
        elif not complete[k]:
            row = (
                None,
                "flat",
                f"history too short: needs {history} bars, the last {need} of them "
                "consecutive minutes",
            )
        else:
            prob = float(p[k])
            action = ACTIONS[int(sides(np.array([prob]), bundle.theta)[0])]
            reason = "" if action != "flat" else f"below threshold ({bundle.theta:g} from 0.5)"
            row = (prob, action, reason)
        rows.append(dict(zip(FIELDS, (stamp, *row), strict=True)))
    return rows


def format_row(row: dict, fmt: str) -> str:
    """One output line: a JSON object, or a CSV row (fields quoted where needed)."""
    if fmt == "jsonl":
        return json.dumps(row)
    p = "" if row["p_up"] is None else f"{row['p_up']:.6f}"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([row["timestamp"], p, row["action"], row["reason"]])
    return buf.getvalue()


def _read(source: str, columns: list[str] | None) -> pd.DataFrame:
    from gafcnn.data.readers import ReadReport, combine, parse_text, read_bars

    if source != "-":
        return read_bars(source, columns=columns)[0]
    name = Path("<stdin>")
    return combine([(name, parse_text(sys.stdin.read(), name, columns))], ReadReport())


def _follow(lines: Iterable[str], columns: list[str] | None) -> Iterator[pd.DataFrame | InputError]:
    """Each line appended to ``lines``: the bar, as a one-row frame, or the InputError
    that rejects it (unparseable, not a valid bar, not later than the last good bar); a
    header line is remembered."""
    from gafcnn.data.readers import ReadReport, combine, parse_text

    name, header, last = Path("<stdin>"), None, None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if header is None and number == 1 and not line.split(",")[0].strip()[:1].isdigit():
            header = line.rstrip("\n")
            continue
        text = line if header is None else f"{header}\n{line}"
        try:
            bar = combine([(name, parse_text(text, name, columns))], ReadReport())
            stamp = int(bar["timestamp"].dt.as_unit("ms").astype("int64").iloc[0])
            if last is not None and stamp <= last:
                raise InputError(name, "bar is not later than the one before it", number)
        except InputError as exc:
            yield InputError(name, exc.message, number)
            continue
        last = stamp
        yield bar


def predict_main(argv: list[str] | None = None) -> None:
    from gafcnn.serving.bundle import Bundle

    ap = argparse.ArgumentParser(prog="gafcnn predict", description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", default=str(paths.BUNDLE), help="bundle folder (export stage)")
    ap.add_argument("--bars", required=True, help="bars file, directory or - for stdin")
    ap.add_argument("--columns", help="names of a headerless layout, comma-separated")
    ap.add_argument("--last", type=int, help="only the most recent N decision times")
    ap.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    ap.add_argument("--follow", action="store_true", help="answer each bar appended on stdin")
    a = ap.parse_args(argv)
    columns = a.columns.split(",") if a.columns else None
    bundle = Bundle(a.bundle)
    out = sys.stdout
    header = ",".join(FIELDS) if a.format == "csv" else None
    if a.follow:
        if a.bars != "-":
            raise InputError(a.bars, "--follow reads bars appended on stdin: use --bars -")
        if header:
            print(header, file=out, flush=True)
        bars = None
        for bar in _follow(sys.stdin, columns):
            if isinstance(bar, InputError):  # one line out per line in; the bars so far stay
                print(f"error: {bar}", file=sys.stderr, flush=True)
                row = dict(zip(FIELDS, (None, None, "flat", f"rejected: {bar.message}"),
                               strict=True))  # fmt: skip
                print(format_row(row, a.format), file=out, flush=True)
                continue
            bars = bar if bars is None else pd.concat([bars, bar], ignore_index=True)
            bars = bars.iloc[-FOLLOW_KEEP:].reset_index(drop=True)
            row = decision_rows(bundle, bars, np.array([len(bars) - 1]))[0]
            print(format_row(row, a.format), file=out, flush=True)
        return
    bars = _read(a.bars, columns)  # bad bars stop it here, before any output
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
    try:
        t = pd.Timestamp(stamp)
    except (ValueError, TypeError):
        raise InputError("--from", f"not a timestamp: {stamp!r}") from None
    t = t.tz_localize("UTC") if t.tzinfo is None else t
    return int(t.value // (MINUTE_MS * 1_000_000))


def _trade_lines(frame: pd.DataFrame, fmt: str) -> Iterator[str]:
    for row in frame.to_dict("records"):
        row = {k: v.isoformat() if isinstance(v, pd.Timestamp) else v for k, v in row.items()}
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
    from gafcnn.serving.bundle import Bundle

    ap = argparse.ArgumentParser(prog="gafcnn paper", description=paper.__doc__.split("\n")[0])
    ap.add_argument("--bundle", default=str(paths.BUNDLE), help="bundle folder (export stage)")
    ap.add_argument("--bars", required=True, help="bars file, directory or - for stdin")
    ap.add_argument("--columns", help="names of a headerless layout, comma-separated")
    ap.add_argument("--from", dest="start", help="first decision time (UTC timestamp)")
    ap.add_argument("--model", help="a served model to trade (default: the deployed one)")
    ap.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    ap.add_argument("--summary", help="also write the summary to this JSON file")
    ap.add_argument("--follow", action="store_true", help="trade each bar appended on stdin")
    a = ap.parse_args(argv)
    columns = a.columns.split(",") if a.columns else None
    bundle = Bundle(a.bundle)
    policy = paper.Policy.of(bundle, _paper_model(bundle, a.model))
    start, trader = _minute(a.start), paper.Trader(policy)
    header = "entry,exit,side,p_up,gross,net,void" if a.format == "csv" else None
    if a.follow:
        if a.bars != "-":
            raise InputError(a.bars, "--follow reads bars appended on stdin: use --bars -")
        if header:
            print(header, flush=True)
        bars = None
        for bar in _follow(sys.stdin, columns):
            if isinstance(bar, InputError):  # the bars so far stay; trading goes on
                print(f"error: {bar}", file=sys.stderr, flush=True)
                continue
            bars = bar if bars is None else pd.concat([bars, bar], ignore_index=True)
            bars = bars.iloc[-FOLLOW_KEEP:].reset_index(drop=True)
            warn_expired(bundle, int(minute_index(bars)[-1]))
            p = paper.decision_probabilities(bundle, bars, policy, start, last_only=True)[0]
            closed = trader.step(int(minute_index(bars)[-1]), float(bars["close"].iloc[-1]),
                                 None if np.isnan(p) else float(p))  # fmt: skip
            if closed is not None:
                for line in _trade_lines(paper.log([closed], policy.horizon), a.format):
                    print(line, flush=True)
    else:
        bars = _read(a.bars, columns)  # bad bars stop it here, before any output
        p_up = paper.decision_probabilities(bundle, bars, policy, start)
        warn_expired(bundle, int(minute_index(bars)[-1]))  # the last bar is the latest
        if header:
            print(header)
        for line in _trade_lines(paper.log(paper.replay(trader, bars, p_up), policy.horizon),
                                 a.format):  # fmt: skip
            print(line)
    result = paper.summary(trader)
    print("summary: " + ", ".join(f"{k} {v}" for k, v in result.items()), file=sys.stderr)
    if a.summary:
        write_json(a.summary, result)


COMMANDS = {"predict": predict_main, "paper": paper_main}


def main(argv: list[str] | None = None) -> None:
    """``gafcnn <command>``: ``predict`` (signals) or ``paper`` (trades)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print("usage: gafcnn predict|paper --bundle DIR --bars FILE|- [options]", file=sys.stderr)
        sys.exit(2)
    command = COMMANDS[argv[0]]
    run_stage(lambda: command(argv[1:]))


if __name__ == "__main__":
    main()
