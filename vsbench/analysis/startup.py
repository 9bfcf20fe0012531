"""Cold-start components per platform (host) and function: where a replica's start goes.

Every replica of every run records its own timeline (docs/archive.md, ``replicas``). The
components, in order, add up to spawn → ready:

* ``provision_ms``: spawn → the replica's process starts. On the process host, the fork and
  exec; on the container host, ``engine_create_ms`` (the engine's create call: config,
  storage layer) plus ``engine_start_ms`` (start call → the container's process starts:
  cgroup, namespaces, mounts, the OCI runtime);
* ``runtime_up_ms``: the interpreter and the runtime's imports, until its HTTP server is
  bound;
* ``import_ms``: importing the handler module (and the storage client);
* ``init_ms``: the handler's ``init()`` (models loaded, caches read);
* ``ready_ms``: spawn → the provider knew it was ready (the whole start).

Medians pool every replica a platform started for a function, over all its runs (regimes
differ in how many replicas start, not in what a start contains).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..archive import serving_replicas

COMPONENTS = ["provision_ms", "engine_create_ms", "engine_start_ms", "runtime_up_ms",
              "import_ms", "init_ms", "ready_ms"]
STARTUP_COLUMNS = ["platform", "function", "replicas", *COMPONENTS, "other_ms"]


def _ms(a: pd.Series, b: pd.Series) -> pd.Series:
    return (pd.to_numeric(b, errors="coerce") - pd.to_numeric(a, errors="coerce")) * 1000.0


def replica_components(replicas: pd.DataFrame) -> pd.DataFrame:
    """One row per replica that became ready: its start split into components (ms)."""
    r = replicas.copy()
    for col in ("function", "spawn_ts", "create_done_ts", "start_call_ts", "process_start_ts",
                "runtime_up_ts", "import_ms", "init_ms", "ready_ts"):
        if col not in r.columns:  # archives older than a field, or hand-made test tables
            r[col] = None
    r = r[pd.to_numeric(r["ready_ts"], errors="coerce").notna()]
    out = pd.DataFrame({"function": r["function"]})
    out["provision_ms"] = _ms(r["spawn_ts"], r["process_start_ts"])
    out["engine_create_ms"] = _ms(r["spawn_ts"], r["create_done_ts"])
    out["engine_start_ms"] = _ms(r["start_call_ts"], r["process_start_ts"])
    out["runtime_up_ms"] = _ms(r["process_start_ts"], r["runtime_up_ts"])
    out["import_ms"] = pd.to_numeric(r["import_ms"], errors="coerce")
    out["init_ms"] = pd.to_numeric(r["init_ms"], errors="coerce")
    out["ready_ms"] = _ms(r["spawn_ts"], r["ready_ts"])
    return out


def startup_table(runs: list[Any], function_order: dict[str, int] | None = None
                  ) -> pd.DataFrame:
    """Median components per platform × function (``runs``: analysis.tables.Run objects).

    ``other_ms`` is what the listed parts leave of ``ready_ms`` (the gap between init done
    and the provider hearing of it, and anything unmeasured)."""
    frames = []
    for run in runs:
        comp = replica_components(serving_replicas(run.archive["replicas"]))
        comp.insert(0, "platform", run.platform)
        frames.append(comp)
    if not frames or all(f.empty for f in frames):
        return pd.DataFrame(columns=STARTUP_COLUMNS)
    allc = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    rows = []
    for (platform, function), grp in allc.groupby(["platform", "function"], sort=False):
        row: dict[str, Any] = {"platform": platform, "function": function,
                               "replicas": len(grp)}
        for c in COMPONENTS:
            vals = grp[c].dropna()
            row[c] = float(vals.median()) if len(vals) else math.nan
        parts = [row[c] for c in ("provision_ms", "runtime_up_ms", "import_ms", "init_ms")]
        row["other_ms"] = (row["ready_ms"] - sum(parts)
                           if not any(math.isnan(p) for p in parts + [row["ready_ms"]])
                           else math.nan)
        rows.append(row)
    order = function_order or {}
    table = pd.DataFrame(rows, columns=STARTUP_COLUMNS)
    table["_o"] = table["function"].map(lambda f: order.get(f, len(order)))
    return table.sort_values(["_o", "platform"]).drop(columns="_o").reset_index(drop=True)
