"""What the complexity metrics share: the attribution magnitudes they read, as Quantus prepares
them (`abs=True, normalise=True`: |a| divided by its maximum), over the removable positions
(special tokens are not part of what is explained)."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence


def magnitudes(evidence: Evidence) -> np.ndarray | None:
    """|scores| / max |scores| on the removable positions; None when all are zero or too few."""
    values = np.abs(np.asarray(evidence.explanation.scores, dtype=np.float64)[evidence.removable])
    if len(values) < 2 or not np.isfinite(values).all() or values.max() == 0:
        return None
    return values / values.max()
