"""HAR-RV (Corsi 2009) for the next ``horizon`` minutes' realized volatility: least
squares of its log on the logs of the realized volatility over the last hour, day and
week (each scaled to the horizon), plus the hour-of-week seasonality as a level per
hour of the day and one per day of the week (31 levels where 168 would each rest on
two or three samples in a retrain's few weeks). Persistence, the last ``horizon``
minutes' realized volatility, is the baseline it must beat."""

from __future__ import annotations

import numpy as np

from gafcnn.volatility.realized import trailing

SPANS = (60, 1440, 10080)  # the last hour, day and week, in minutes
HOURS_PER_WEEK = 168


def inputs(close: np.ndarray, minutes: np.ndarray, horizon: int) -> np.ndarray:
    """Per bar: the log realized volatility over each of :data:`SPANS`, scaled to
    ``horizon`` minutes (x sqrt(horizon / span)); NaN where a span is incomplete."""
    cols = [trailing(close, minutes, s) * np.sqrt(horizon / s) for s in SPANS]
    with np.errstate(divide="ignore"):
        return np.log(np.column_stack(cols))


def hour_of_week(minutes: np.ndarray) -> np.ndarray:
    """The hour of the week (0-167, counted from Monday 00:00 UTC) of epoch minutes."""
    monday = 4 * 1440  # 1970-01-05, the first Monday after the epoch
    return ((np.asarray(minutes, dtype=np.int64) - monday) // 60) % HOURS_PER_WEEK


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
        if ok.sum() <= x.shape[1] + 1:
            raise ValueError(f"HAR-RV needs more than {x.shape[1] + 1} complete rows, "
                             f"got {int(ok.sum())}")  # fmt: skip
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
