"""Named evaluation protocols: the settings a published evaluation fixes, in one frozen object.

ERASER, ferret and this project score "comprehensiveness" or "token F1" with different removal,
class, bins, rounding, positive-only selection and k. A `Protocol` holds those settings, a
registry names it (`bench/protocols/<name>.py`, one file each), `Evidence` carries it, and the
metrics that a protocol governs read their settings from it; no metric branches on a name.

A metric's value under a protocol other than `xai-bench` is recorded as `<metric>@<protocol>`
(its *key*), so one run can hold several protocols side by side and the report can show how a
method's rank moves between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.errors import InputError
from bench.registry import METRICS, PROTOCOLS, UnknownNameError

DEFAULT_PROTOCOL = "xai-bench"
SEPARATOR = "@"
TARGETS = ("gold", "predicted")
ROUNDINGS = ("ceil", "floor")
AOPC_KINDS = ("samek", "bins")
TOKEN_F1_KS = ("rationale", "mean", "fraction")


@dataclass(frozen=True)
class Protocol:
    """How the protocol-governed metrics compute; each names the fields it reads in
    `Metric.protocol_settings`."""

    name: str
    reference: str
    """The code this protocol follows (repository and file)."""
    removal: str | None = None
    """How tokens are removed (`delete`, `mask`, ...); None: the run's replacement. Images
    always use the run's replacement (neither reference defines image removal)."""
    target: str = "gold"
    """Which class the scores are read for: the example's `gold` target, or the class the
    model `predicted` on the full input (causal LMs: always the target text)."""
    bins: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20, 0.50)
    """Fractions of the ranked tokens selected per comprehensiveness/sufficiency bin."""
    rounding: str = "ceil"
    """Tokens per bin: `ceil` (at least one) or `floor` (int(f * n), which may be zero)."""
    skip_repeated_bins: bool = False
    """Leave out a bin that selects nothing or the same tokens as the bin before (ferret)."""
    no_selection: tuple[float, float] = (float("nan"), float("nan"))
    """(comprehensiveness, sufficiency) when no bin is left to count (ferret: 0 and 1)."""
    positive_only: bool = False
    """Only positive scores are selected (bins, top-k) and ranked (auprc clips at zero)."""
    aopc: str = "samek"
    """`samek`: the first L + 1 deletion steps; `bins`: the mean drop over `bins` (ERASER's AOPC)."""
    token_f1_k: str | int = "rationale"
    """k of token_f1: each example's |rationale|, the run's `mean` rationale length, the run's
    mean rationale `fraction` of the tokens (times n, floored), or a fixed int."""

    def __post_init__(self) -> None:
        for field, value, allowed in (
            ("target", self.target, TARGETS),
            ("rounding", self.rounding, ROUNDINGS),
            ("aopc", self.aopc, AOPC_KINDS),
        ):
            if value not in allowed:
                raise ValueError(f"protocol {self.name}: {field}={value!r} is not one of {allowed}")
        k = self.token_f1_k
        if not (isinstance(k, int) and k > 0) and k not in TOKEN_F1_KS:
            raise ValueError(
                f"protocol {self.name}: token_f1_k={k!r} is not a positive int or in {TOKEN_F1_KS}"
            )


def register_protocol(protocol: Protocol) -> Protocol:
    return PROTOCOLS.register(protocol.name)(protocol)


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS.get(name)
    except UnknownNameError as error:
        raise InputError(str(error)) from error


def check_protocols(names: Sequence[str]) -> list[str]:
    """The protocol names, each known, duplicates dropped, at least one."""
    unique = list(dict.fromkeys(names)) or [DEFAULT_PROTOCOL]
    for name in unique:
        get_protocol(name)
    return unique


def metric_key(metric: str, protocol: str) -> str:
    """The name a metric's value goes by under `protocol`: plain under the default protocol and
    for a metric no protocol governs (its value is the same under every one)."""
    governed = metric in METRICS.names() and METRICS.get(metric).protocol_settings
    return f"{metric}{SEPARATOR}{protocol}" if governed and protocol != DEFAULT_PROTOCOL else metric


def split_key(key: str) -> tuple[str, str]:
    """(metric, protocol) of a key made by `metric_key`."""
    metric, _, protocol = key.partition(SEPARATOR)
    return metric, protocol or DEFAULT_PROTOCOL


def metric_column(key: str) -> str:
    """The records column holding a key's values: the metric's own column, suffixed with a
    protocol other than the default one."""
    metric, protocol = split_key(key)
    column = METRICS.get(metric).record_column() if metric in METRICS.names() else f"metric_{metric}"
    return column if protocol == DEFAULT_PROTOCOL else f"{column}{SEPARATOR}{protocol}"


def metric_of(key: str):
    """The registered Metric class behind a key (`comprehensiveness@eraser` -> Comprehensiveness)."""
    return METRICS.get(split_key(key)[0])


def is_registered(key: str) -> bool:
    return split_key(key)[0] in METRICS.names()


def scored_under(metric: str, protocols: Sequence[str]) -> list[str]:
    """The protocols a metric is scored under: the first, then each further one whose settings
    that metric reads (`Metric.protocol_settings`) differ from the first's (the same settings
    give the same value). A metric this version no longer registers: the first only."""
    if metric not in METRICS.names():
        return list(protocols[:1])
    settings = METRICS.get(metric).protocol_settings
    first = get_protocol(protocols[0])
    return [protocols[0]] + [
        name
        for name in protocols[1:]
        if any(getattr(get_protocol(name), s) != getattr(first, s) for s in settings)
    ]


def metric_keys(metrics: Sequence[str], protocols: Sequence[str]) -> list[str]:
    """Every key a run records (see `scored_under`), grouped by metric."""
    return [metric_key(name, protocol) for name in metrics for protocol in scored_under(name, protocols)]
