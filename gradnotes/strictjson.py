"""RFC 8259 JSON for every ``--json``: a number that is not finite becomes ``null`` (the report says why beside it)."""

from __future__ import annotations

import json
import math
from typing import Any


def strict(value: Any) -> Any:
    """A copy with every non-finite float replaced by None: JSON has no NaN or Infinity (``JSON.parse`` fails)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """Strict JSON text of ``value`` (``allow_nan=False`` after ``strict``)."""
    return json.dumps(strict(value), allow_nan=False, **kwargs)
