"""ferret (Attanasio et al. 2023), as g8a9/ferret computes it: AOPC comprehensiveness and
sufficiency over the bins 10%, 20%, ..., 100% (`ferret/evaluators/utils_from_soft_to_discrete.py`,
`parse_evaluator_args`: `np.arange(0.1, 1.1, 0.1)`), int(f * n) tokens per bin among the
positive scores only, a bin that selects nothing or repeats the previous one left out (no bin
left: comprehensiveness 0 and sufficiency 1, ferret's defaults), tokens deleted
(`remove_tokens=True`; `faithfulness_measures.py`); auprc on scores clipped at zero and token
F1 of the top-k positive scores with k the mean human rationale length
(`plausibility_measures.py`, `top_k_rationale`). The class is the explained target."""

import numpy as np

from bench.protocol import Protocol, register_protocol

FERRET = register_protocol(
    Protocol(
        name="ferret",
        reference="g8a9/ferret ferret/evaluators/faithfulness_measures.py, plausibility_measures.py",
        removal="delete",
        target="gold",
        bins=tuple(float(f) for f in np.arange(0.1, 1.1, 0.1)),
        rounding="floor",
        skip_repeated_bins=True,
        no_selection=(0.0, 1.0),
        positive_only=True,
        aopc="bins",
        token_f1_k="mean",
    )
)
