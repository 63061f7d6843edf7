"""The seed notes' models, written correctly: mode-aware, returning logits.

Every model here behaves differently in ``train()`` and ``eval()`` (dropout
and/or BatchNorm), returns raw scores for ``nn.CrossEntropyLoss`` (no softmax,
no ReLU on the output), and computes its own layer sizes.

>>> import torch
>>> ConvNet(n_classes=10, image_size=8)(torch.zeros(2, 1, 8, 8)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from torchfacts.padding import conv_same, flat_features

__all__ = ["MLP", "ConvNet", "ConvBNBlock", "ResidualBlock", "TinyResNet"]


class MLP(nn.Sequential):
    """Seed 003's network: flatten, hidden layers with ReLU and dropout, logits out.

    ``nn.Sequential`` needs no ``forward``: it calls its layers in order.

    >>> MLP(in_features=64, hidden=(32,), n_classes=10)
    MLP(
      (0): Flatten(start_dim=1, end_dim=-1)
      (1): Linear(in_features=64, out_features=32, bias=True)
      (2): ReLU()
      (3): Dropout(p=0.2, inplace=False)
      (4): Linear(in_features=32, out_features=10, bias=True)
    )
    """

    def __init__(self, in_features: int = 784, hidden: Sequence[int] = (256, 128), n_classes: int = 10,
                 dropout: float = 0.2):
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_classes))  # logits: no activation after the last layer
        super().__init__(*layers)


class ConvNet(nn.Module):
    """Seed 004's net, fixed: the flattened size is computed, and the logits are not ReLU'd.

    conv(5×5, 32) → ReLU → max-pool(2) → dropout → linear.
    """

    def __init__(self, n_classes: int, in_channels: int = 1, image_size: int = 28, dropout: float = 0.25):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(in_channels, 32, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.dropout = nn.Dropout(dropout)
        # 32*4 in the seed is right only for 8×8 inputs; ask the layers instead.
        self.fc = nn.Linear(flat_features(self.features, (in_channels, image_size, image_size)), n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).flatten(1)  # flatten(1) works for any layout; view() may not
        return self.fc(self.dropout(x))


class ConvBNBlock(nn.Sequential):
    """conv (SAME padding, no bias: BatchNorm adds its own) → BatchNorm → ReLU.

    >>> ConvBNBlock(3, 8, stride=2)(torch.zeros(2, 3, 7, 7)).shape
    torch.Size([2, 8, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1):
        super().__init__(conv_same(in_channels, out_channels, kernel_size, stride, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class ResidualBlock(nn.Module):
    """``relu(x + body(x))``: the skip connection is why this needs its own ``forward``."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(ConvBNBlock(channels, channels),
                                  nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.body(x))


class TinyResNet(nn.Module):
    """A small residual network: stem, residual blocks, global average pool, dropout, logits.

    >>> TinyResNet(n_classes=10)(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, n_classes: int, in_channels: int = 1, width: int = 16, blocks: int = 2, dropout: float = 0.1):
        super().__init__()
        self.stem = ConvBNBlock(in_channels, width)
        self.blocks = nn.Sequential(*(ResidualBlock(width) for _ in range(blocks)))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))
