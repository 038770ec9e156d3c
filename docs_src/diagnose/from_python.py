"""Diagnose from Python: a criterion, a stricter threshold, the report as data."""

import json

import torch
from torch import nn

from gradnotes.diagnose import Thresholds, diagnose

torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(20, 64),
    nn.Tanh(),
    nn.Linear(64, 64),
    nn.Tanh(),
    nn.Linear(64, 3),
)
inputs, targets = torch.randn(256, 20), torch.randint(0, 3, (256,))

# With a criterion such as nn.CrossEntropyLoss(), the batch is (inputs, targets).
strict = Thresholds(max_saturated_fraction=0.1)
report = diagnose(model, (inputs, targets), nn.CrossEntropyLoss(), thresholds=strict)
print(report.table())
for flag in report.flags:
    print(flag.kind, flag.layer, f"{flag.value:.3g}")
print(report.layer("1").saturated_fraction)  # names as in model.named_modules()
log_line = json.dumps(report.to_dict())  # plain data, e.g. for a training log
