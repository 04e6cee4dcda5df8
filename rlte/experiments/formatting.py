"""How the report writes numbers: table cells, values in prose, published values, file names.

Every metric is shown in its domain's unit (`rlte.domains.Metric`: the stored value times
``scale``, followed by ``unit``); the architecture's units are Mbit/s, ms and %.
"""

from __future__ import annotations

import math
import re

from rlte.domains import Metric
from rlte.experiments.statistics import Summary

#: A relative gap (``x / reference - 1``), shown in %.
GAP = Metric("gap", "gap", "%", 100.0)


def unit_suffix(metric: Metric) -> str:
    """What follows a number of ``metric``: a space and its unit, or nothing."""
    return f" {metric.unit}" if metric.unit else ""


def _number(scaled: float) -> str:
    """One decimal; values below 1 in magnitude to 3 significant digits."""
    scaled += 0.0  # no "-0.0"
    return f"{scaled:.1f}" if abs(scaled) >= 1 or scaled == 0 else f"{scaled:.3g}"


def format_summary(summary: Summary, metric: Metric, *, seeds: int | None = None) -> str:
    """A table cell: ``mean ± half-width unit``, or ``mean unit (n=1)``; ``(n=k)`` is added when
    fewer values than ``seeds`` were found."""
    if summary.n == 0:
        return "—"
    scale, unit = metric.scale, unit_suffix(metric)
    if summary.n == 1:
        return f"{summary.mean * scale:.2f}{unit} (n=1)"
    text = f"{summary.mean * scale:.2f} ± {summary.half_width * scale:.2f}{unit}"
    return text + (f" (n={summary.n})" if seeds is not None and summary.n < seeds else "")


def format_value(metric: Metric, value: float) -> str:
    """A single value in prose, e.g. ``72.0 %`` (one decimal; small values to 3 digits)."""
    return f"{_number(value * metric.scale)}{unit_suffix(metric)}"


def format_interval(metric: Metric, summary: Summary) -> str:
    """A mean and its half-width in prose, e.g. ``-1.5 ± 11.6 %``: both to the same decimals, one
    when the larger is at least 1 in magnitude, else enough for 3 significant digits of it."""
    mean, half = summary.mean * metric.scale, summary.half_width * metric.scale
    size = max(abs(mean), abs(half))
    decimals = 1 if size >= 1 or size == 0 else 2 - math.floor(math.log10(size))
    mean, half = round(mean, decimals) + 0.0, round(half, decimals) + 0.0  # no "-0.0"
    return f"{mean:.{decimals}f} ± {half:.{decimals}f}{unit_suffix(metric)}"


def paper_number(metric: Metric, value: float) -> str:
    """A published value with the digits it was published with (at least one decimal)."""
    scaled = value * metric.scale
    number = f"{scaled:.1f}" if abs(round(scaled, 1) - scaled) < 1e-9 else f"{scaled:.6g}"
    return f"{number}{unit_suffix(metric)}"


def paper_entry(metric: Metric, value: float) -> str:
    """A published value in the paper column, e.g. ``MLU 89.4 %``."""
    return f"{capitalised(metric.label)} {paper_number(metric, value)}"


def percent(fraction: float) -> str:
    """``0.95`` -> ``95 %``."""
    return f"{fraction * 100:g} %"


def capitalised(text: str) -> str:
    """The first letter upper-cased, the rest kept (``mean delay`` -> ``Mean delay``, ``MLU`` stays)."""
    return text[:1].upper() + text[1:]


def join_words(words) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    words = list(words)
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def table_cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def slug(*parts) -> str:
    """A file-name stem from parts: ``("abilene", "geant", "plain")`` -> ``abilene-geant-plain``."""
    return "-".join(re.sub(r"[^A-Za-z0-9._]+", "_", str(part)).strip("_") or "x" for part in parts)
