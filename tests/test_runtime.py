"""The served CNNs: ONNX exports that compute what the torch models compute."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gafcnn.models.cnn import build_model
from gafcnn.serving.onnx import OnnxCnn, to_onnx

SHAPES = {"simple_cnn": (2, 15, 15), "resnet18": (3, 30, 30), "conv1d": (3, 60)}


@pytest.mark.parametrize("arch", list(SHAPES))
def test_export_computes_the_torch_models_p_up(arch):
    torch.manual_seed(0)
    shape = SHAPES[arch]
    model = build_model(arch, shape[0], 16, 0.3).eval()
    x = np.random.default_rng(0).uniform(-1, 1, (37, *shape)).astype(np.float32)
    with torch.no_grad():
        ref = torch.sigmoid(model(torch.from_numpy(x))).double().numpy()
    graph = to_onnx(model, shape)
    served = OnnxCnn(graph)
    p = served.predict(x)
    assert p.shape == (37,) and p.dtype == np.float64
    np.testing.assert_allclose(p, ref, rtol=0, atol=1e-6)
    assert to_onnx(model, shape) == graph  # same weights, same bytes
    assert not model.training  # exporting leaves the model as it was


def test_a_samples_output_does_not_depend_on_its_batch(monkeypatch):
    """The pipeline predicts in batches, a live bot one sample at a time: same bytes."""
    torch.manual_seed(1)
    model = build_model("simple_cnn", 2, 16, 0.3).eval()
    served = OnnxCnn(to_onnx(model, (2, 30, 30)))
    x = np.random.default_rng(1).uniform(-1, 1, (300, 2, 30, 30)).astype(np.float32)
    whole = served.predict(x)
    one_by_one = np.concatenate([served.predict(x[i : i + 1]) for i in range(len(x))])
    np.testing.assert_array_equal(one_by_one, whole)
    monkeypatch.setattr("gafcnn.serving.onnx.CHUNK", 7)  # chunked calls, ragged last chunk
    np.testing.assert_array_equal(served.predict(x), whole)


def test_changed_weights_change_the_export():
    torch.manual_seed(2)
    model = build_model("simple_cnn", 2, 8, 0.0).eval()
    before = to_onnx(model, (2, 15, 15))
    with torch.no_grad():
        next(model.parameters()).add_(0.1)
    assert to_onnx(model, (2, 15, 15)) != before
