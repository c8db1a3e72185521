"""The CNN members' predictions joined by decision timestamp, for the stages that
combine them (`ensemble`, `hybrid`)."""

from __future__ import annotations

import pandas as pd

from gafcnn import paths, registry
from gafcnn.images.imageset import AlignmentError, GafSet
from gafcnn.io import InputError
from gafcnn.models import predictions
from gafcnn.models.ensemble import join_predictions


def joined_cnn_predictions(sets: dict[int, GafSet], name: str = "w{w}") -> pd.DataFrame:
    """``timestamp, segment, label, p_<name>...`` for every window's CNN (``name`` a
    template of the window), checked to keep exactly the image sets' val and test
    samples (one clear error otherwise)."""
    frames = {
        name.format(w=w): predictions.of_model(
            predictions.read(paths.cnn_predictions(w)), registry.CNN.at(w)
        )
        for w in sets
    }
    expected = {s: sets[min(sets)].meta["counts"][s] for s in ("val", "test")}
    try:
        return join_predictions(frames, expected)
    except AlignmentError as exc:
        raise InputError(paths.CNN_PREDICTIONS, str(exc)) from None
