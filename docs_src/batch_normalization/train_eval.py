"""Train mode normalises with the batch's statistics; eval mode with running averages collected during training."""

import torch
from torch import nn

torch.manual_seed(0)
bn = nn.BatchNorm1d(4, momentum=0.1)  # running = (1 - momentum) * running + momentum * batch
for _ in range(200):  # "training": the inputs have mean 3 and std 2
    bn(3.0 + 2.0 * torch.randn(64, 4))
print("running mean ~", bn.running_mean.round(decimals=1).tolist())
print("running var  ~", bn.running_var.round(decimals=1).tolist())
assert torch.allclose(bn.running_mean, torch.full((4,), 3.0), atol=0.3)
assert torch.allclose(bn.running_var, torch.full((4,), 4.0), atol=0.8)

x = 3.0 + 2.0 * torch.randn(8, 4)
bn.eval()  # now a fixed affine map: one sample's output no longer depends on the others
alone = bn(x[:1])
assert torch.allclose(alone, bn(x)[:1])
bn.train()
try:
    bn(x[:1])  # train mode needs more than one value per channel
except ValueError as err:
    print("train mode, batch of 1:", err)
else:
    raise AssertionError("BatchNorm1d accepted a batch of one in train mode")
