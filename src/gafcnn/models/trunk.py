"""A direction CNN's trunk: the network up to its pooled features, its classifier head
dropped, so that another head can read what the images gave it (the volatility
forecaster on the CNN's images, :mod:`gafcnn.serving.cnn_head`)."""

from __future__ import annotations

import torch
from torch import nn

from gafcnn.models.cnn import Conv1D, ResNet18, SimpleCNN


class _ResNetTrunk(nn.Module):
    def __init__(self, net: ResNet18):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        x = n.layer4(n.layer3(n.layer2(n.layer1(x))))
        return torch.flatten(n.avgpool(x), 1)


def trunk(model: nn.Module) -> nn.Module:
    """``model``'s trunk: ``(N, *input_shape)`` in, ``(N, features)`` out (the pooled
    features its classifier reads), sharing its weights; evaluation mode."""
    if isinstance(model, SimpleCNN):
        out: nn.Module = nn.Sequential(model.features, nn.Flatten())
    elif isinstance(model, Conv1D):
        out = nn.Sequential(model.conv, nn.Flatten())
    elif isinstance(model, ResNet18):
        out = _ResNetTrunk(model)
    else:
        raise ValueError(f"no trunk for {type(model).__name__}")
    return out.eval()
