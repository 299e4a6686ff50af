"""Seeded node splits for datasets that ship none."""

from __future__ import annotations

import torch
from torch import Tensor


def per_class_split(
    y: Tensor, num_classes: int, train_per_class: int = 20, val_per_class: int = 30, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor]:
    """The split of Shchur et al. (2018): per class, ``train_per_class`` training and
    ``val_per_class`` validation nodes drawn at random; every other node is a test node.

    Returns three boolean masks (train, val, test). The same ``seed`` always gives the
    same split. A class with fewer than ``train_per_class + val_per_class`` nodes gives all
    its nodes to train and val in that order (none to test).
    """
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(y.numel(), generator=gen)
    train = torch.zeros(y.numel(), dtype=torch.bool)
    val = torch.zeros_like(train)
    for c in range(num_classes):
        idx = perm[y[perm] == c]
        train[idx[:train_per_class]] = True
        val[idx[train_per_class : train_per_class + val_per_class]] = True
    return train, val, ~(train | val)


def index_to_mask(index: Tensor, size: int) -> Tensor:
    mask = torch.zeros(size, dtype=torch.bool)
    mask[index] = True
    return mask
