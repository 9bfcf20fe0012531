"""How the report writes a measured number: the only place that turns values into text.

Every number the report shows goes through one of these functions, so a missing value
(None, NaN, ``pd.NA``) reads ``n/a`` everywhere and the template holds no number of its own.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pandas as pd

__all__ = ["NA", "is_missing", "fmt", "fmt_pct", "fmt_ratio", "fmt_ci", "fmt_timeout",
           "fmt_int", "fmt_p", "fmt_mem", "label", "wmean", "summarise"]

NA = "n/a"


def is_missing(x: Any) -> bool:
    """None, NaN, ``pd.NA`` or not a number at all."""
    if x is None or x is pd.NA:
        return True
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def fmt(x: Any, sig: int = 3) -> str:
    """A measured number: thousands separators from 1000, whole numbers from 100, otherwise
    ``sig`` significant digits; NaN/None → ``n/a``; inf → ``∞``."""
    if is_missing(x):
        return NA
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if x == 0:
        return "0"
    return f"{x:.{sig}g}"


def fmt_pct(frac: Any) -> str:
    """A fraction as a percentage with one decimal (0.0625 → ``6.2%``)."""
    return NA if is_missing(frac) else f"{100 * float(frac):.1f}%"


def fmt_ratio(x: Any) -> str:
    """A ratio with two decimals (``1.25×``)."""
    return NA if is_missing(x) else f"{float(x):.2f}×"


def fmt_ci(est: Any, low: Any, high: Any, f: Callable[[Any], str] = fmt) -> str:
    """An estimate with its confidence interval, ``est [low, high]``; the estimate alone
    when the interval is missing."""
    if is_missing(est):
        return NA
    if is_missing(low) or is_missing(high):
        return f(est)
    return f"{f(est)} [{f(low)}, {f(high)}]"


def fmt_timeout(x: Any) -> str:
    """An idle timeout in seconds; ``inf`` (never scales down) → ``never``."""
    if is_missing(x):
        return NA
    return "never" if math.isinf(float(x)) else f"{fmt(x)} s"


def fmt_int(x: Any) -> str:
    """A count, rounded, with thousands separators."""
    return NA if is_missing(x) else f"{int(round(float(x))):,}"


def fmt_p(x: Any) -> str:
    """A p-value with three decimals, ``< 0.001`` below that."""
    if is_missing(x):
        return NA
    return "< 0.001" if float(x) < 0.001 else f"{float(x):.3f}"


def fmt_mem(v: Any) -> str:
    """A memory limit in MB."""
    return NA if is_missing(v) else f"{fmt(v)} MB"


def label(row: Any, multi_platform: bool) -> str:
    """A regime's name, prefixed by its platform when the study has several."""
    return f"{row['platform']}/{row['regime']}" if multi_platform else str(row["regime"])


def wmean(values: pd.Series, weights: pd.Series) -> float:
    """Weighted mean over the rows with a value and a positive weight (NaN when none)."""
    v = pd.to_numeric(values, errors="coerce")
    w = pd.to_numeric(weights, errors="coerce").fillna(0)
    m = v.notna() & (w > 0)
    return float((v[m] * w[m]).sum() / w[m].sum()) if m.any() else math.nan


def summarise(values: dict[str, Any], f: Callable[[Any], str]) -> str:
    """One policy field over the functions: the common value, exceptions in parentheses
    (memory limits as a range)."""
    if not values:
        return NA
    counts = Counter(f(v) for v in values.values())
    common = counts.most_common(1)[0][0]
    if len(counts) == 1:
        return common
    if f is fmt_mem:
        nums = sorted(float(v) for v in values.values() if not is_missing(v))
        return f"{fmt(nums[0])}–{fmt(nums[-1])} MB" if nums else NA
    others = [f"{fn}: {f(v)}" for fn, v in values.items() if f(v) != common]
    return f"{common} ({'; '.join(others)})"


def fmt_range(low: Any, high: Any, f: Callable[[Any], str] = fmt) -> str:
    """``a–b``, or ``a`` when both ends are the same."""
    a, b = f(low), f(high)
    return a if a == b else f"{a}–{b}"
