"""scikit-learn's bundled 8×8 digits, split once (stratified, fixed seed) and standardised: the data every digits
experiment trains on. scikit-learn is imported only when the images are first needed."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from gradnotes.errors import UserError

DIGITS_TEST_PER_CLASS = 36  # 360 of the 1797 images are held out, 36 of every class
DIGITS_SPLIT_SEED = 0


@dataclass(frozen=True)
class Digits:
    """The 8×8 digits, split once (stratified, fixed seed) and standardised with the training set's statistics."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    test_index: Tensor  # positions in sklearn's order of the held-out images
    pixels_train: Tensor  # the same images unstandardised, intensity in [0, 1] (for the RNNs: rows as time steps)
    pixels_test: Tensor


def _sklearn_digits(needed_by: str):
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError:
        raise UserError(f"scikit-learn is needed for {needed_by}: pip install scikit-learn") from None
    return sklearn_load_digits(return_X_y=True)


@functools.cache
def _digits_arrays() -> tuple[Tensor, Tensor]:
    images, labels = _sklearn_digits("the digits experiments")
    return torch.tensor(images, dtype=torch.float64), torch.tensor(labels, dtype=torch.int64)


def load_digits(needed_by: str = "the digits experiments") -> Digits:
    """The fixed digits split: 1437 training and 360 test images (36 per class), float32, standardised per pixel."""
    try:
        images, labels = _digits_arrays()
    except UserError:
        _digits_arrays.cache_clear()
        raise UserError(f"scikit-learn is needed for {needed_by}: pip install scikit-learn") from None
    generator = torch.Generator().manual_seed(DIGITS_SPLIT_SEED)
    test = []
    for digit in range(10):
        of_class = torch.nonzero(labels == digit).flatten()
        test.append(of_class[torch.randperm(len(of_class), generator=generator)[:DIGITS_TEST_PER_CLASS]])
    test_index = torch.sort(torch.cat(test)).values
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    is_test[test_index] = True
    x_train, x_test = images[~is_test], images[is_test]
    mean, std = x_train.mean(0), x_train.std(0)
    std = torch.where(std > 0, std, torch.ones_like(std))  # corner pixels are always 0: leave them at 0
    return Digits(
        x_train=((x_train - mean) / std).float(),
        y_train=labels[~is_test],
        x_test=((x_test - mean) / std).float(),
        y_test=labels[is_test],
        test_index=test_index,
        pixels_train=(x_train / 16).float(),
        pixels_test=(x_test / 16).float(),
    )
