"""HAR-RV (Corsi 2009) for the next ``horizon`` minutes' realized volatility: least
squares of its log on the logs of the realized volatility over the last hour, day and
week by default (``sizing.har_spans``; each scaled to the horizon), plus the
hour-of-week seasonality as a level per hour of the day and one per day of the week
(31 levels where 168 would each rest on two or three samples in a retrain's few
weeks). Persistence, the last ``horizon`` minutes' realized volatility, is the
baseline it must beat."""

from __future__ import annotations

import numpy as np

from gafcnn.volatility.realized import trailing

SPANS = (60, 1440, 10080)  # the last hour, day and week, in minutes (`sizing.har_spans`)
MIN_KNOWN = 0.9  # share of a longer span's minutes that must be there (an outage of a few
# hours leaves the day and the week readable); the first, shortest span must be whole
HOURS_PER_WEEK = 168


def inputs(close: np.ndarray, minutes: np.ndarray, horizon: int,
           spans: tuple[int, ...] = SPANS) -> np.ndarray:  # fmt: skip
    """Per bar: the log realized volatility over each of ``spans`` (shortest first),
    scaled to ``horizon`` minutes (x sqrt(horizon / span)); NaN where the first span
    misses a minute or a longer one has fewer than :data:`MIN_KNOWN` of its minutes."""
    cols = [trailing(close, minutes, s, 1.0 if k == 0 else MIN_KNOWN) * np.sqrt(horizon / s)
            for k, s in enumerate(spans)]  # fmt: skip
    with np.errstate(divide="ignore"):
        return np.log(np.column_stack(cols))


def hour_of_week(minutes: np.ndarray) -> np.ndarray:
    """The hour of the week (0-167, counted from Monday 00:00 UTC) of epoch minutes."""
    monday = 4 * 1440  # 1970-01-05, the first Monday after the epoch
    return ((np.asarray(minutes, dtype=np.int64) - monday) // 60) % HOURS_PER_WEEK


def a_width(inputs: int) -> int:
    """Columns of the least-squares design: the inputs, 24 hours and 6 weekdays."""
    return inputs + 30


def _design(x: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """The inputs, a level per hour of the day (spanning the intercept) and one per day
    of the week but the first."""
    n = len(x)
    hour, day = np.zeros((n, 24)), np.zeros((n, 6))
    hour[np.arange(n), hours % 24] = 1.0
    later = hours // 24 > 0
    day[np.flatnonzero(later), hours[later] // 24 - 1] = 1.0
    return np.column_stack([x, hour, day])


class HarRV:
    """HAR-RV on log realized volatility: :meth:`fit` by least squares, :meth:`predict`
    the volatility (its lognormal mean: exp(fitted log + residual variance / 2))."""

    def fit(self, x: np.ndarray, hours: np.ndarray, rv: np.ndarray) -> HarRV:
        """Fit on rows with every input and a positive target; one error otherwise."""
        ok = np.all(np.isfinite(x), axis=1) & np.isfinite(rv) & (rv > 0)
        if ok.sum() <= a_width(x.shape[1]):
            raise ValueError(f"HAR-RV needs more than {a_width(x.shape[1])} samples with every "
                             f"span's history and a target, got {int(ok.sum())}")  # fmt: skip
        a, y = _design(x[ok], hours[ok]), np.log(rv[ok])
        self.coef_ = np.linalg.lstsq(a, y, rcond=None)[0]
        self.resid_var_ = float(np.var(y - a @ self.coef_))
        return self

    def predict(self, x: np.ndarray, hours: np.ndarray) -> np.ndarray:
        """Predicted volatility per row (NaN where an input is missing)."""
        ok = np.all(np.isfinite(x), axis=1)
        out = np.full(len(x), np.nan)
        out[ok] = np.exp(_design(x[ok], hours[ok]) @ self.coef_ + self.resid_var_ / 2)
        return out
