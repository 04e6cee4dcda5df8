"""Classical traffic-engineering baselines and the LP optimum (HiGHS)."""

from rlte.baselines.classical import (
    BASELINES,
    Baseline,
    Ecmp,
    KPathUniform,
    LpCache,
    LpOpt,
    LpPaths,
    LpPeak,
    ShortestPath,
    Ucmp,
    make_baseline,
)

__all__ = [
    "BASELINES",
    "Baseline",
    "Ecmp",
    "KPathUniform",
    "LpCache",
    "LpOpt",
    "LpPaths",
    "LpPeak",
    "ShortestPath",
    "Ucmp",
    "make_baseline",
]
