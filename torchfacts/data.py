"""Real data without downloads: scikit-learn's digits, a local MNIST folder, FakeData.

Every function returns ``(train_loader, val_loader)`` split reproducibly from
``seed``; the training loader shuffles with its own seeded ``torch.Generator``
(so resuming a run can restore exactly where the shuffling was).

>>> train, val = digits(batch_size=32)
>>> images, labels = next(iter(train))
>>> images.shape, labels.dtype, len(train.dataset) + len(val.dataset)
(torch.Size([32, 1, 8, 8]), torch.int64, 1797)
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset, random_split
from torchvision import datasets, transforms

from torchfacts._validate import as_int

__all__ = ["digits", "mnist", "fake", "split_loaders", "MNIST_FILES"]

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def split_loaders(dataset: Dataset, *, batch_size: int = 64, val_fraction: float = 0.2, seed: int = 0
                  ) -> tuple[DataLoader, DataLoader]:
    """Split ``dataset`` reproducibly and wrap both parts in loaders (only training shuffles)."""
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    seed = as_int(seed, "seed")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be a number strictly between 0 and 1, got {val_fraction!r}")
    n_val = max(1, round(len(dataset) * val_fraction))
    if n_val >= len(dataset):
        raise ValueError(f"dataset of {len(dataset)} samples is too small to split with val_fraction={val_fraction}")
    train_set, val_set = random_split(dataset, [len(dataset) - n_val, n_val], generator=torch.Generator().manual_seed(seed))
    shuffle = torch.Generator().manual_seed(seed + 1)
    return (DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=shuffle),
            DataLoader(val_set, batch_size=batch_size))


def digits(batch_size: int = 64, val_fraction: float = 0.2, seed: int = 0) -> tuple[DataLoader, DataLoader]:
    """scikit-learn's 1,797 handwritten 8×8 digits as ``1×8×8`` float tensors, normalized."""
    from sklearn.datasets import load_digits  # the 'data' extra; imported here so the rest works without it

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # pixels are 0..16
    # Normalize with the training set's statistics in mind: the whole-set mean/std are close enough here
    # and keep the transform a constant that a learner can read.
    normalize = transforms.Normalize((images.mean().item(),), (images.std().item(),))
    dataset = TensorDataset(normalize(images), torch.tensor(bunch.target, dtype=torch.int64))
    return split_loaders(dataset, batch_size=batch_size, val_fraction=val_fraction, seed=seed)


MNIST_TRANSFORM = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])


def mnist(root: str | Path, batch_size: int = 64, val_fraction: float = 0.1, seed: int = 0,
          download: bool = False) -> tuple[DataLoader, DataLoader]:
    """MNIST's training split from ``root`` via ``torchvision.datasets.MNIST``; downloads only if asked.

    The raw files (uncompressed) belong in ``root/MNIST/raw/``.
    """
    raw = Path(root) / "MNIST" / "raw"
    try:
        dataset = datasets.MNIST(str(root), train=True, transform=MNIST_TRANSFORM, download=download)
    except RuntimeError as missing:
        present = sorted(p.name for p in raw.glob("*")) if raw.is_dir() else []
        raise FileNotFoundError(
            f"MNIST not found under {raw}: expected the files {', '.join(MNIST_FILES)} there "
            f"(found: {present or 'nothing'}). Put them there, or pass download=True (--download) to fetch them. "
            f"torchvision said: {missing}"
        ) from None
    return split_loaders(dataset, batch_size=batch_size, val_fraction=val_fraction, seed=seed)


def fake(size: int = 512, image_size: tuple[int, int, int] = (1, 8, 8), n_classes: int = 10, batch_size: int = 64,
         val_fraction: float = 0.2, seed: int = 0) -> tuple[DataLoader, DataLoader]:
    """Random images via ``torchvision.datasets.FakeData``: for smoke tests (nothing to learn)."""
    dataset = datasets.FakeData(size=as_int(size, "size", minimum=2), image_size=tuple(image_size),
                                num_classes=as_int(n_classes, "n_classes", minimum=1), transform=transforms.ToTensor(),
                                random_offset=seed)
    return split_loaders(dataset, batch_size=batch_size, val_fraction=val_fraction, seed=seed)
