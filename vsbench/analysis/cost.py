"""Cost model of one run: active, idle and provisioned GB-seconds, per invocation, request and run.

Inputs are three tables of a run's archive (pandas DataFrames, columns as the archive writer
provides them; only the columns listed under *Validation* are read):

* ``requests``: request_id, status (ok | app_error | http_error | timeout | dropped), warmup,
  scheduled_ts, end_ts.
* ``invocations``: request_id (None for calls that belong to no measured request), function,
  replica_id, exec_ms (the replica's own execution time of the call), memory_mb (the function's
  memory limit under the regime), status (HTTP), warmup.
* ``replicas``: function, replica_id, memory_mb, alive_s (from the run window's start or its
  spawn to its real stop or, when the run ended first, to the end of its keep-alive: see
  :func:`vsbench.archive.keepalive_ends`), busy_s (time with at least one request in flight).

Units and formulas
------------------
All costs are in GB-seconds (GB-s), with 1 GB = 1024 MB as in AWS Lambda billing.

Invocation (:func:`invocation_costs`)::

    active_gb_s = exec_ms / 1000 * memory_mb / 1024
    fave_units  = duration_s * memory_MB / 1024,   duration_s = exec_ms / 1000

``active_gb_s`` is what a Lambda-style bill charges for the call. ``fave_units`` is the unit of
FAVE, the study this project follows; it is numerically identical to ``active_gb_s`` and kept
as a separately named column only so that reports can cite the anchor's unit explicitly.
A missing ``exec_ms`` (NaN: the replica reported no execution time, e.g. the gateway gave up
first) counts as 0, so such calls are under-costed; the run reports how many non-warm-up calls
that concerned as ``invocations_without_exec_ms``.

Replica (:func:`replica_costs`)::

    idle_gb_s        = max(0, alive_s - busy_s) * memory_mb / 1024
    provisioned_gb_s = alive_s * memory_mb / 1024
    utilisation      = busy_s / alive_s            (NaN when alive_s == 0)

``idle_gb_s`` is warm capacity kept alive but not serving: the keep-alive cost FAVE ignored.
``provisioned_gb_s`` is what a VM-style bill, or Knative with a minimum scale, would charge for
the same replicas. Note ``provisioned >= active + idle`` is not guaranteed per replica: active
GB-s counts concurrent calls on one replica separately, busy_s counts overlapping time once.

Request (:func:`request_costs`), for every *measured* request (``warmup`` false), whatever its
status::

    active_gb_s(r) = sum of active_gb_s of r's invocations
                     (retries and failed attempts included: they cost too)
    idle_gb_s(r)   = IDLE * active_gb_s(r) / sum over measured requests q of active_gb_s(q)
    total_gb_s(r)  = active_gb_s(r) + idle_gb_s(r)
    fave_units(r)  = sum of fave_units of r's invocations

where ``IDLE`` is the run's idle GB-s. Idle capacity is a run-level cost with no single owner;
it is attributed in proportion to the active GB-s each request consumed (heavier requests are
the ones the warm capacity was kept for), so the attributed idle sums back to ``IDLE`` exactly.
If the measured requests consumed nothing (all dropped, or no requests), nothing is attributed
and every request gets 0.

Run (:func:`run_cost`)::

    active_gb_s          = sum of active_gb_s of non-warm-up invocations
                           (including calls with no measured request: ``unattributed_active_gb_s``)
    idle_gb_s            = sum of replica idle_gb_s
    provisioned_gb_s     = sum of replica provisioned_gb_s
    fave_units           = sum of fave_units of non-warm-up invocations
    total_gb_s           = active_gb_s + idle_gb_s
    ok_requests          = number of requests with status "ok" and warmup false
    gb_s_per_ok_request  = total_gb_s / ok_requests
    usd_total            = total_gb_s * prices.gb_s_usd
                           + invocations * prices.per_million_requests_usd / 1e6
    usd_per_ok_request   = usd_total / ok_requests

``invocations`` is the number of non-warm-up invocations: every call, retries included, is a
billed request on a Lambda-style bill. The per-ok-request figures are NaN (``None`` in
:meth:`RunCost.to_dict`) when there is no ok request: a ratio with nothing to divide by.
``by_function`` has one row per function (present in invocations or replicas) with
active_gb_s, idle_gb_s, provisioned_gb_s, fave_units, invocations, replicas, alive_s, busy_s and
utilisation = busy_s / alive_s (sums over the function's replicas).

Prices (:class:`Prices`) default to the AWS Lambda x86 *list* prices ($0.0000166667 per GB-s,
$0.20 per million requests). They are used only to illustrate the GB-s figures in money; they
are not a claim about any real bill (no free tier, no tiering, no ARM discount). Money prices
idle GB-s at the same rate as active GB-s, which Lambda itself would not bill: that is the
point, it makes the keep-alive cost visible in the same currency.

Warm-up
-------
Warm-up requests, and invocations flagged ``warmup`` or belonging to a warm-up request, are
excluded from the per-request table, from the run's active GB-s / FAVE units / invocations
(their active GB-s are reported apart as ``warmup_active_gb_s``) and from the per-ok-request
figures. Replica idle time is a run-level cost and is not split by warm-up here: excluding the
warm-up phase from the run window (and hence from alive_s / busy_s) is the archive writer's
job, not this module's.

Validation
----------
Required columns: requests (request_id, status, warmup); invocations (request_id, function,
replica_id, exec_ms, memory_mb, warmup); replicas (function, replica_id, memory_mb, alive_s,
busy_s). A missing column raises ``ValueError`` naming the table and the columns. Negative
exec_ms / alive_s / busy_s / memory_mb, a missing (NaN) memory_mb / alive_s / busy_s, and a
request_id appearing twice in ``requests`` raise ``ValueError``. Tables without rows (including
a bare ``pandas.DataFrame()``) give zeros, not errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Prices",
    "RunCost",
    "invocation_costs",
    "replica_costs",
    "request_costs",
    "run_cost",
    "REQUEST_COLUMNS",
    "INVOCATION_COLUMNS",
    "REPLICA_COLUMNS",
]

MB_PER_GB = 1024.0

REQUEST_COLUMNS = ("request_id", "status", "warmup")
INVOCATION_COLUMNS = ("request_id", "function", "replica_id", "exec_ms", "memory_mb", "warmup")
REPLICA_COLUMNS = ("function", "replica_id", "memory_mb", "alive_s", "busy_s")

BY_FUNCTION_COLUMNS = (
    "function", "active_gb_s", "idle_gb_s", "provisioned_gb_s", "fave_units",
    "invocations", "replicas", "alive_s", "busy_s", "utilisation",
)
REQUEST_COST_COLUMNS = ("request_id", "status", "active_gb_s", "idle_gb_s", "total_gb_s",
                        "fave_units")


@dataclass(frozen=True)
class Prices:
    """Illustrative list prices (AWS Lambda x86 defaults); not a claim about any real bill."""

    gb_s_usd: float = 0.0000166667
    per_million_requests_usd: float = 0.20


@dataclass
class RunCost:
    """Cost of one run; see the module docstring for every formula."""

    active_gb_s: float
    idle_gb_s: float
    provisioned_gb_s: float
    fave_units: float
    ok_requests: int
    gb_s_per_ok_request: float
    usd_total: float
    usd_per_ok_request: float
    by_function: pd.DataFrame
    invocations: int = 0
    unattributed_active_gb_s: float = 0.0
    warmup_active_gb_s: float = 0.0
    invocations_without_exec_ms: int = 0
    prices: Prices = field(default_factory=Prices)

    @property
    def total_gb_s(self) -> float:
        return self.active_gb_s + self.idle_gb_s

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (NaN becomes None; by_function as a list of records)."""
        records = [
            {k: _plain(v) for k, v in row.items()}
            for row in self.by_function.to_dict(orient="records")
        ]
        return {
            "active_gb_s": _plain(self.active_gb_s),
            "idle_gb_s": _plain(self.idle_gb_s),
            "total_gb_s": _plain(self.total_gb_s),
            "provisioned_gb_s": _plain(self.provisioned_gb_s),
            "fave_units": _plain(self.fave_units),
            "ok_requests": int(self.ok_requests),
            "invocations": int(self.invocations),
            "gb_s_per_ok_request": _plain(self.gb_s_per_ok_request),
            "usd_total": _plain(self.usd_total),
            "usd_per_ok_request": _plain(self.usd_per_ok_request),
            "unattributed_active_gb_s": _plain(self.unattributed_active_gb_s),
            "warmup_active_gb_s": _plain(self.warmup_active_gb_s),
            "invocations_without_exec_ms": int(self.invocations_without_exec_ms),
            "prices": {
                "gb_s_usd": float(self.prices.gb_s_usd),
                "per_million_requests_usd": float(self.prices.per_million_requests_usd),
            },
            "by_function": records,
        }


# --- validation -------------------------------------------------------------------------------

def _plain(v: Any) -> Any:
    """numpy / pandas scalar -> Python scalar; NaN / NA -> None."""
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def _check(df: pd.DataFrame, table: str, required: tuple[str, ...]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{table}: expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0 and len(df.columns) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in required})
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{table} table is missing column(s): {', '.join(missing)}")
    return df.copy()


def _numeric(df: pd.DataFrame, table: str, column: str, allow_nan: bool) -> pd.Series:
    s = pd.to_numeric(df[column], errors="raise").astype(float)
    if not allow_nan and s.isna().any():
        raise ValueError(f"{table}.{column} has missing values ({int(s.isna().sum())} rows)")
    if (s < 0).any():
        bad = s[s < 0]
        raise ValueError(
            f"{table}.{column} must not be negative ({len(bad)} rows, e.g. {bad.iloc[0]!r})")
    return s


def _flag(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), False).astype(bool)


def _request_ids(s: pd.Series) -> pd.Series:
    """request_id as str, None/NaN kept as None."""
    return s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))


# --- per-row costs ----------------------------------------------------------------------------

def invocation_costs(invocations: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``invocations`` with ``active_gb_s`` and ``fave_units`` added."""
    inv = _check(invocations, "invocations", INVOCATION_COLUMNS)
    exec_ms = _numeric(inv, "invocations", "exec_ms", allow_nan=True).fillna(0.0)
    memory_mb = _numeric(inv, "invocations", "memory_mb", allow_nan=False)
    duration_s = exec_ms / 1000.0
    inv["active_gb_s"] = duration_s * memory_mb / MB_PER_GB
    inv["fave_units"] = duration_s * memory_mb / MB_PER_GB  # FAVE: duration_s * memory_MB / 1024
    inv["warmup"] = _flag(inv["warmup"])
    inv["request_id"] = _request_ids(inv["request_id"])
    return inv


def replica_costs(replicas: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``replicas`` with ``idle_gb_s``, ``provisioned_gb_s`` and ``utilisation`` added."""
    rep = _check(replicas, "replicas", REPLICA_COLUMNS)
    alive = _numeric(rep, "replicas", "alive_s", allow_nan=False)
    busy = _numeric(rep, "replicas", "busy_s", allow_nan=False)
    memory_mb = _numeric(rep, "replicas", "memory_mb", allow_nan=False)
    rep["alive_s"], rep["busy_s"] = alive, busy
    gb = memory_mb / MB_PER_GB
    rep["idle_gb_s"] = (alive - busy).clip(lower=0.0) * gb
    rep["provisioned_gb_s"] = alive * gb
    rep["utilisation"] = (busy / alive.where(alive > 0)).astype(float)
    return rep


def _requests(requests: pd.DataFrame) -> pd.DataFrame:
    req = _check(requests, "requests", REQUEST_COLUMNS)
    req["warmup"] = _flag(req["warmup"])
    req["request_id"] = _request_ids(req["request_id"])
    dup = req["request_id"][req["request_id"].notna() & req["request_id"].duplicated()]
    if len(dup):
        raise ValueError(f"requests.request_id must be unique; duplicated: {sorted(set(dup))[:5]}")
    return req


def _split(req: pd.DataFrame, inv: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(warm-up mask, measured mask) over the invocations."""
    warm_ids = set(req.loc[req["warmup"], "request_id"].dropna())
    measured_ids = set(req.loc[~req["warmup"], "request_id"].dropna())
    warm = inv["warmup"] | inv["request_id"].isin(warm_ids)
    measured = ~warm & inv["request_id"].isin(measured_ids)
    return warm, measured


def _request_table(req: pd.DataFrame, inv: pd.DataFrame, idle_total: float) -> pd.DataFrame:
    _, measured = _split(req, inv)
    per = (inv.loc[measured].groupby("request_id")[["active_gb_s", "fave_units"]].sum())
    out = req.loc[~req["warmup"], ["request_id", "status"]].reset_index(drop=True)
    out["active_gb_s"] = out["request_id"].map(per["active_gb_s"]).fillna(0.0).astype(float)
    out["fave_units"] = out["request_id"].map(per["fave_units"]).fillna(0.0).astype(float)
    denom = float(out["active_gb_s"].sum())
    out["idle_gb_s"] = (idle_total * out["active_gb_s"] / denom) if denom > 0 else 0.0
    out["idle_gb_s"] = out["idle_gb_s"].astype(float)
    out["total_gb_s"] = out["active_gb_s"] + out["idle_gb_s"]
    return out[list(REQUEST_COST_COLUMNS)]


def request_costs(requests: pd.DataFrame, invocations: pd.DataFrame,
                  replicas: pd.DataFrame) -> pd.DataFrame:
    """One row per measured (non-warm-up) request: request_id, status, active_gb_s, idle_gb_s,
    total_gb_s, fave_units. Idle GB-s attributed in proportion to active GB-s."""
    req = _requests(requests)
    inv = invocation_costs(invocations)
    rep = replica_costs(replicas)
    return _request_table(req, inv, float(rep["idle_gb_s"].sum()))


# --- run --------------------------------------------------------------------------------------

def _by_function(inv: pd.DataFrame, rep: pd.DataFrame) -> pd.DataFrame:
    a = inv.groupby("function").agg(active_gb_s=("active_gb_s", "sum"),
                                    fave_units=("fave_units", "sum"),
                                    invocations=("active_gb_s", "size"))
    r = rep.groupby("function").agg(idle_gb_s=("idle_gb_s", "sum"),
                                    provisioned_gb_s=("provisioned_gb_s", "sum"),
                                    replicas=("replica_id", "nunique"),
                                    alive_s=("alive_s", "sum"),
                                    busy_s=("busy_s", "sum"))
    out = a.join(r, how="outer")
    for c in ("active_gb_s", "fave_units", "idle_gb_s", "provisioned_gb_s", "alive_s", "busy_s"):
        out[c] = out[c].astype(float).fillna(0.0)
    for c in ("invocations", "replicas"):
        out[c] = out[c].fillna(0).astype(int)
    out["utilisation"] = out["busy_s"] / out["alive_s"].where(out["alive_s"] > 0)
    out.index.name = "function"
    out = out.reset_index()
    return out[list(BY_FUNCTION_COLUMNS)].sort_values("function", ignore_index=True)


def run_cost(requests: pd.DataFrame, invocations: pd.DataFrame, replicas: pd.DataFrame,
             prices: Prices = Prices()) -> RunCost:  # noqa: B008 (frozen, immutable default)
    """Run totals, per-function breakdown and per-ok-request figures (see module docstring)."""
    req = _requests(requests)
    inv = invocation_costs(invocations)
    rep = replica_costs(replicas)

    warm, measured = _split(req, inv)
    billed = inv.loc[~warm]
    active = float(billed["active_gb_s"].sum())
    idle = float(rep["idle_gb_s"].sum())
    total = active + idle
    n_inv = len(billed)
    ok = int(((req["status"] == "ok") & ~req["warmup"]).sum())
    usd = total * prices.gb_s_usd + n_inv * prices.per_million_requests_usd / 1e6
    return RunCost(
        active_gb_s=active,
        idle_gb_s=idle,
        provisioned_gb_s=float(rep["provisioned_gb_s"].sum()),
        fave_units=float(billed["fave_units"].sum()),
        ok_requests=ok,
        gb_s_per_ok_request=total / ok if ok else math.nan,
        usd_total=usd,
        usd_per_ok_request=usd / ok if ok else math.nan,
        by_function=_by_function(billed, rep),
        invocations=n_inv,
        unattributed_active_gb_s=float(inv.loc[~warm & ~measured, "active_gb_s"].sum()),
        warmup_active_gb_s=float(inv.loc[warm, "active_gb_s"].sum()),
        invocations_without_exec_ms=int(pd.to_numeric(billed["exec_ms"]).isna().sum()),
        prices=prices,
    )
