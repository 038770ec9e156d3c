"""torch.nn.init.calculate_gain: the factor each init multiplies its standard deviation by."""

import math

from torch import nn

gains = {name: nn.init.calculate_gain(name) for name in ("linear", "sigmoid", "tanh", "relu", "selu")}
gains["leaky_relu(0.01)"] = nn.init.calculate_gain("leaky_relu", 0.01)
for name, gain in gains.items():
    print(f"{name:17s} {gain:.4f}")

assert gains["sigmoid"] == gains["linear"] == 1
assert math.isclose(gains["tanh"], 5 / 3)
assert math.isclose(gains["relu"], math.sqrt(2))  # He: Var[W] = gain^2 / n_in = 2 / n_in
assert math.isclose(gains["leaky_relu(0.01)"], math.sqrt(2 / (1 + 0.01**2)))
assert math.isclose(gains["selu"], 3 / 4)
