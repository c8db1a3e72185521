"""The models, in plain ``torch.nn``, each returning one logit per sample.

* :class:`SimpleCNN`: four conv blocks, adaptive average pooling and a dropout head
  (the original plan's Step 2.4), with input channels and width as parameters; works for any
  channel count and image size from 10x10 up.
* :class:`ResNet18`: the original plan's original model, with torchvision's parameter names so
  a torchvision ResNet-18 state dict loads into it (:func:`load_pretrained`).
* :class:`Conv1D`: a 1-D CNN on the raw window (the original plan's Option 4B).
* :class:`PatternCNN`: the candlestick-pattern classifier (class logits), with the
  per-pixel :class:`Standardize` layer fitted on its training images.

Every trained model is saved one way (:func:`save_checkpoint`): its state dict
(``.pt``) and, beside it, a JSON that says what it is and how to rebuild it
(:func:`load_checkpoint`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gafcnn import paths
from gafcnn.io import read_json, save_torch, write_json
from gafcnn.params import ARCHS

PATTERN_ARCH = "pattern_cnn"


class SimpleCNN(nn.Module):
    """Four conv blocks and a small dense head: one logit per sample (shape (N,))."""

    def __init__(self, in_channels: int = 2, width: int = 32, dropout: float = 0.3):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(4 * w, 8 * w, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(8 * w, 2 * w),
            nn.ReLU(),
            nn.Dropout(dropout * 0.5),
            nn.Linear(2 * w, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x)).squeeze(1)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 with torchvision's layout and names; ``fc`` outputs one logit."""

    def __init__(self, in_channels: int = 2, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(512, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x)).squeeze(1)


class Conv1D(nn.Module):
    """1-D CNN over the bars of the window (features per bar as channels)."""

    def __init__(self, in_channels: int = 3, width: int = 64, dropout: float = 0.3):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool1d(2, ceil_mode=True),
            nn.Conv1d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool1d(2, ceil_mode=True),
            nn.AdaptiveAvgPool1d(1),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width, width),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(width, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.conv(x)).squeeze(1)


class PretrainedError(ValueError):
    """Pretrained weights asked for but not available as a local file."""


def load_pretrained(model: ResNet18, path: str | Path) -> list[str]:
    """Load a local torchvision ResNet-18 state dict into ``model``; never downloads.

    The first conv is adapted to the channel count by averaging its RGB filters; the
    1000-class ``fc`` is skipped. Returns the names of the parameters left as initialised.
    """
    p = Path(path)
    if "://" in str(path):
        raise PretrainedError(
            f"pretrained={path}: only a local weights file is allowed, no downloads"
        )
    if not p.is_file():
        raise PretrainedError(f"pretrained={path}: no such local weights file")
    state = torch.load(p, map_location="cpu", weights_only=True)
    if "conv1.weight" not in state:
        raise PretrainedError(f"{p}: not a torchvision ResNet-18 state dict (no conv1.weight)")
    w = state["conv1.weight"]
    c = model.conv1.in_channels
    state["conv1.weight"] = w.mean(dim=1, keepdim=True).repeat(1, c, 1, 1)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise PretrainedError(f"{p}: unexpected parameters {unexpected[:5]}")
    return list(missing)


def build_model(
    arch: str,
    in_channels: int,
    width: int = 32,
    dropout: float = 0.3,
    pretrained: str | None = None,
) -> nn.Module:
    """The model named by ``arch``; ``pretrained`` only for resnet18, only from a file."""
    if arch == "simple_cnn":
        model: nn.Module = SimpleCNN(in_channels, width, dropout)
    elif arch == "resnet18":
        model = ResNet18(in_channels, dropout)
    elif arch == "conv1d":
        model = Conv1D(in_channels, width, dropout)
    else:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    if pretrained:
        if arch != "resnet18":
            raise PretrainedError(f"pretrained weights exist only for resnet18, not {arch}")
        load_pretrained(model, pretrained)
    return model


class Standardize(nn.Module):
    """Per-pixel ``(x - mean) / std`` with statistics stored in the model (buffers)."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, *shape))
        self.register_buffer("std", torch.ones(1, *shape))

    @torch.no_grad()
    def fit(self, x: torch.Tensor, floor: float = 1e-3) -> Standardize:
        """Set the statistics from training images ``x`` (N, *shape)."""
        self.mean.copy_(x.mean(dim=0, keepdim=True))
        self.std.copy_(x.std(dim=0, keepdim=True).clamp_min(floor))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class PatternCNN(nn.Module):
    """Full-resolution CNN with a dense head; returns class logits (N, n_outputs)."""

    def __init__(
        self, in_channels: int, size: int, width: int = 32, dropout: float = 0.2,
        n_outputs: int = 9, hidden: int = 128,
    ):  # fmt: skip
        super().__init__()
        self.standardize = Standardize((in_channels, size, size))
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(width * size * size, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.standardize(x)))


def model_from_meta(meta: dict) -> nn.Module:
    """An untrained model of the architecture a checkpoint's metadata describes."""
    shape, p = meta["input_shape"], meta["params"]
    if meta["arch"] == PATTERN_ARCH:
        return PatternCNN(shape[0], shape[1], p["width"], p["dropout"], len(meta["classes"]),
                          p["hidden"])  # fmt: skip
    return build_model(meta["arch"], shape[0], p["width"], p["dropout"])


def save_checkpoint(model: nn.Module, meta: dict, path: str | Path) -> None:
    """The one checkpoint format: ``model``'s state dict at ``path`` and ``meta`` (its
    ``arch``, ``input_shape`` and ``params``, plus anything else) beside it."""
    save_torch(model.state_dict(), path)
    write_json(paths.meta_of(path), meta)


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict]:
    """A saved model, rebuilt from its metadata with its weights (evaluation mode)."""
    meta = read_json(paths.meta_of(path))
    model = model_from_meta(meta)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval(), meta
