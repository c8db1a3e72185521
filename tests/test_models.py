"""Models: shapes for every arch, torchvision-compatible ResNet-18, no downloads."""

from __future__ import annotations

import pytest
import torch

from gafcnn.models.cnn import (
    Conv1D,
    PatternCNN,
    PretrainedError,
    ResNet18,
    SimpleCNN,
    build_model,
)


@pytest.mark.parametrize("size", [10, 15, 30, 64])
@pytest.mark.parametrize("channels", [1, 2, 5])
def test_simple_cnn_any_size_and_channels(size, channels):
    model = SimpleCNN(channels, width=8, dropout=0.3).eval()
    out = model(torch.randn(4, channels, size, size))
    assert out.shape == (4,) and torch.isfinite(out).all()


@pytest.mark.parametrize("size", [15, 30])
def test_resnet18_shapes(size):
    model = ResNet18(3).eval()
    assert model(torch.randn(2, 3, size, size)).shape == (2,)


@pytest.mark.parametrize("length", [15, 30, 60])
def test_conv1d_shapes(length):
    model = Conv1D(3, width=16).eval()
    assert model(torch.randn(5, 3, length)).shape == (5,)


def test_resnet18_uses_torchvision_names():
    keys = list(ResNet18(3).state_dict())
    assert len(keys) == 122  # torchvision resnet18: 62 parameters + 60 BN buffers
    for k in (
        "conv1.weight",
        "bn1.running_var",
        "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.num_batches_tracked",
        "layer4.1.bn2.bias",
        "fc.weight",
    ):
        assert k in keys


def _torchvision_like_weights(path):
    """A state dict with torchvision's layout: 3 input channels, 1000 classes."""
    torch.manual_seed(1)
    donor = ResNet18(3)
    donor.fc = torch.nn.Linear(512, 1000)
    torch.save(donor.state_dict(), path)
    return donor.state_dict()


def test_pretrained_from_local_file_averages_first_conv(tmp_path):
    path = tmp_path / "resnet18.pth"
    state = _torchvision_like_weights(path)
    model = build_model("resnet18", in_channels=2, pretrained=str(path))
    expect = state["conv1.weight"].mean(dim=1, keepdim=True).repeat(1, 2, 1, 1)
    torch.testing.assert_close(model.conv1.weight, expect)
    torch.testing.assert_close(model.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
    assert model.fc.out_features == 1


@pytest.mark.parametrize(
    ("arch", "pretrained", "message"),
    [
        ("resnet18", "https://download.pytorch.org/models/resnet18-f37072fd.pth", "no downloads"),
        ("resnet18", "/nonexistent/resnet18.pth", "no such local weights file"),
        ("simple_cnn", "weights.pth", "only for resnet18"),
    ],
)
def test_pretrained_never_downloads(arch, pretrained, message, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("attempted a download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    with pytest.raises(PretrainedError, match=message):
        build_model(arch, 2, pretrained=pretrained)


def test_unknown_arch():
    with pytest.raises(ValueError, match="arch must be one of"):
        build_model("vgg16", 2)


def test_pattern_cnn_standardises_with_stored_statistics():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 10, 10) * 0.01 - 0.9  # GAF values crowded near -1
    model = PatternCNN(3, 10, width=4, n_outputs=9)
    model.standardize.fit(x)
    z = model.standardize(x)
    assert torch.allclose(z.mean(dim=0), torch.zeros(3, 10, 10), atol=1e-4)
    assert torch.allclose(z.std(dim=0), torch.ones(3, 10, 10), atol=1e-4)
    assert model(x).shape == (64, 9)
    again = PatternCNN(3, 10, width=4, n_outputs=9)
    again.load_state_dict(model.state_dict())  # the statistics travel with the weights
    assert torch.equal(again.standardize.mean, model.standardize.mean)
