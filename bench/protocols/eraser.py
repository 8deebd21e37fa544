"""ERASER (DeYoung et al. 2020), as jayded/eraserbenchmark computes it: the model's predicted
class (`rationale_benchmark/metrics.py`, `score_classifications` reads `classification`), the
top int(f * n) tokens per bin deleted from the document (`models/encode_attend.py`,
`generate_rationales`: `nlargest(int(k_fraction * len(doc)), ...)`), AOPC as the mean over the
bins 1/5/10/20/50% (`_instances_aopc`), and token F1 of the top int(k_fraction * n) tokens with
k_fraction the dataset's mean rationale fraction (the `k_fraction` of `params/*_soft.json`)."""

from bench.protocol import Protocol, register_protocol

ERASER = register_protocol(
    Protocol(
        name="eraser",
        reference="jayded/eraserbenchmark rationale_benchmark/metrics.py, models/encode_attend.py",
        removal="delete",
        target="predicted",
        rounding="floor",
        aopc="bins",
        token_f1_k="fraction",
    )
)
