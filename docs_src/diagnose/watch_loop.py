"""Your own training loop, watched: per-layer statistics every 10 steps go to a JSON-lines log."""

import tempfile
from pathlib import Path

import torch
from torch import nn

from gradnotes.diagnose import read_log, training_findings, watch

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
inputs = torch.randn(512, 20)
targets = (inputs[:, 0] > 0).long() + (inputs[:, 1] > 0).long()

log = Path(tempfile.mkdtemp()) / "run.jsonl"
with watch(model, every=10, log=log, optimizer=optimizer) as w:
    for _ in range(200):
        batch = torch.randint(0, 512, (64,))
        loss = nn.functional.cross_entropy(model(inputs[batch]), targets[batch])
        w.loss(loss)  # optional: gives the log its loss curve
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

history = read_log(log)  # what `gradnotes diagnose --report run.jsonl` reads
print(f"{len(history['steps'])} recorded steps, loss {history['steps'][0]['loss']:.3f} → {loss.item():.3f}")
ratio = history["steps"][-1]["layers"]["2"]["update_ratio"]
print(f"update:data ratio of layer 2 at step {history['steps'][-1]['step']}: {ratio:.1e}")
print(training_findings(history) or "no problem found")
