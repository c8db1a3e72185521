"""Training loop: deterministic, early stopping restores the best epoch, learns a signal."""

from __future__ import annotations

import numpy as np
import pytest
from ddp_worker import data as _data

from gafcnn.io import InputError
from gafcnn.models.cnn import build_model
from gafcnn.models.device import seed_everything
from gafcnn.models.inference import predict
from gafcnn.models.metrics import log_loss
from gafcnn.models.sources import ArraySource, ImageSource
from gafcnn.models.training import fit
from gafcnn.params import TrainConfig


def _run(cfg, signal=True):
    seed_everything(cfg.seed, 1)
    x, y = _data(signal=signal)
    xv, yv = _data(300, signal=signal, seed=1)
    model = build_model("simple_cnn", 2, cfg.width, cfg.dropout)
    result = fit(
        model, ImageSource(x, y), ImageSource(xv, yv), cfg, device=__import__("torch").device("cpu")
    )
    return (
        model,
        result,
        predict(model, ImageSource(xv, yv), 64, __import__("torch").device("cpu")),
        yv,
    )


def test_same_seed_same_metrics():
    cfg = TrainConfig(width=4, epochs=3, batch_size=64, seed=7)
    _, r1, p1, _ = _run(cfg)
    _, r2, p2, _ = _run(cfg)
    np.testing.assert_array_equal(p1, p2)
    assert [h["val_loss"] for h in r1.history] == [h["val_loss"] for h in r2.history]


def test_early_stopping_restores_best_epoch():
    # pure-noise labels and a high learning rate: validation loss gets worse
    cfg = TrainConfig(width=8, epochs=30, patience=3, lr=3e-3, dropout=0.0, batch_size=32, seed=3)
    model, result, p_val, y_val = _run(cfg, signal=False)
    assert result.epochs_run == result.best_epoch + cfg.patience < cfg.epochs
    losses = [h["val_loss"] for h in result.history]
    assert result.best_val_loss == pytest.approx(min(losses))
    assert log_loss(y_val, p_val) == pytest.approx(result.best_val_loss, rel=1e-6)


def test_learns_a_learnable_pattern():
    cfg = TrainConfig(width=8, epochs=15, patience=5, lr=3e-3, batch_size=32, seed=0)
    _, _, p, y = _run(cfg)
    assert np.mean((p >= 0.5) == (y == 1)) > 0.8


@pytest.mark.parametrize("imbalance", ["none", "weights", "sampler"])
def test_imbalance_options_run(imbalance):
    cfg = TrainConfig(width=4, epochs=1, batch_size=64, imbalance=imbalance)
    _, result, _, _ = _run(cfg)
    assert result.epochs_run == 1 and np.isfinite(result.best_val_loss)


def test_array_source_noise_only_when_augmenting():
    x = np.zeros((4, 3, 15), dtype=np.float32)
    src = ArraySource(x, np.array([0, 1, 0, 1]), noise=0.5)
    rng = np.random.default_rng(0)
    assert (src.batch(np.arange(4), False, rng) == 0).all()
    assert src.batch(np.arange(4), True, rng).std() > 0.3


def test_config_validation():
    with pytest.raises(InputError, match='params.yaml: optimizer: "adam2" is not allowed'):
        TrainConfig.from_params({"optimizer": "adam2"})
    cfg = TrainConfig.from_params({"lr": "1e-5", "xgb": {"max_depth": 2}})  # sections read apart
    assert cfg.lr == 1e-5
    with pytest.raises(InputError, match="unknown key 'learning_rate' \\(did you mean 'lr'\\?\\)"):
        TrainConfig.from_params({"learning_rate": 1e-5})


def test_the_loop_trains_class_logits_every_epoch_without_a_validation_set():
    """The pattern CNNs' use of the one loop: class logits, cross-entropy, a one-cycle
    schedule, no validation set (every epoch runs; nothing is restored)."""
    import torch

    from gafcnn.models.cnn import PatternCNN
    from gafcnn.models.inference import predict_classes
    from gafcnn.models.training import Loop

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    x = rng.standard_normal((600, 1, 6, 6)).astype(np.float32) * 0.3
    x[np.arange(600), 0, 5, y] += 2.0  # the class marks one pixel of the last row
    seed_everything(0, 1)
    model = PatternCNN(1, 6, width=4, dropout=0.0, n_outputs=3, hidden=16)
    model.standardize.fit(torch.from_numpy(x))
    loop = Loop(epochs=6, lr=3e-3, batch_size=32, weight_decay=0.0, seed=0, classes=3,
                one_cycle=True)  # fmt: skip
    result = fit(model, ArraySource(x, y), None, loop, torch.device("cpu"))
    assert result.epochs_run == result.best_epoch == len(result.history) == 6
    assert all("val_loss" not in row for row in result.history)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.history[-1]["lr"] < loop.lr / 100  # the one-cycle schedule ran to its end
    assert np.mean(predict_classes(model, x) == y) > 0.9
