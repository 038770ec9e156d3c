"""BatchNorm at inference is an affine map: fold it into the Linear layer before it (used by ``bench-norm`` and the
``bn_cost`` figure, which checks that the folded network computes the same outputs)."""

from __future__ import annotations

import copy

import torch
from torch import nn


def fold_batchnorm(model: nn.Sequential) -> nn.Sequential:
    """An eval-mode copy of ``model`` with every Linear → BatchNorm1d pair folded into one Linear.

    Uses ``torch.nn.utils.fuse_linear_bn_eval``: W′ = γ/√(σ²+ε)·W, b′ = γ(b − μ)/√(σ²+ε) + β with the running μ, σ².
    """
    source = copy.deepcopy(model).eval()
    layers = list(source)
    folded: list[nn.Module] = []
    k = 0
    while k < len(layers):
        layer = layers[k]
        following = layers[k + 1] if k + 1 < len(layers) else None
        if isinstance(layer, nn.Linear) and isinstance(following, nn.BatchNorm1d):
            folded.append(torch.nn.utils.fuse_linear_bn_eval(layer, following))
            k += 2
        else:
            folded.append(layer)
            k += 1
    return nn.Sequential(*folded).eval()
