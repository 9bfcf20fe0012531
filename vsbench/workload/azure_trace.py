"""Azure Functions Trace 2019: read one function's per-minute invocation counts.

The public dataset (Shahrad et al., "Serverless in the Wild", USENIX ATC '20) ships one CSV
per day, ``invocations_per_function_md.anon.dNN.csv``, with the header
``HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440``: one row per function, and in column
``m`` the number of invocations that started in minute ``m`` of the day.

:func:`read_trace_row` selects one row (by ``HashFunction``, or the busiest by total count).
A file may hold fewer minute columns than 1440 as long as they run ``1..N`` without gaps.
The reader streams the file with the :mod:`csv` module: naming ``HashFunction`` stops at the
first matching row; finding the busiest converts every row's counts (about 0.3 ms a row, so
some 15 s for a full day file of ~50k functions).

:func:`write_synthetic_trace` writes the small *synthetic* sample in the same format that the
repository commits as ``data/traces/azure-functions-2019-sample.csv`` (see
``data/traces/README.md``). It uses only :class:`random.Random`'s ``random()``, whose
sequence Python guarantees across versions, so the file regenerates byte for byte.
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
from dataclasses import dataclass
from pathlib import Path

from ..errors import VsbError

ID_COLUMNS = ("HashOwner", "HashApp", "HashFunction", "Trigger")
MINUTES_PER_DAY = 1440
FORMAT_HINT = ("the Azure Functions 2019 format is HashOwner,HashApp,HashFunction,Trigger,"
               "1,2,...,1440 (invocations_per_function_md.anon.dNN.csv)")


class TraceError(ValueError, VsbError):
    """A trace file or row that cannot be replayed, with what to do."""


@dataclass(frozen=True)
class TraceRow:
    """One function's day: ``counts[k]`` invocations in minute ``k + 1``."""

    owner: str
    app: str
    function: str
    trigger: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


def _minute_columns(header: list[str], path: Path) -> dict[int, int]:
    """Minute number -> column index; raises naming the columns the header lacks."""
    minutes = {int(name): i for i, name in enumerate(header) if name.strip().isdigit()}
    last = max(minutes, default=0)
    missing = [c for c in ID_COLUMNS if c not in header]
    if last == 0:
        missing.append("1..1440 (minute columns)")
    else:
        gaps = [str(m) for m in range(1, last + 1) if m not in minutes]
        if len(gaps) > 10:
            gaps = gaps[:10] + [f"... ({len(gaps)} minute columns in all)"]
        missing += gaps
    if last > MINUTES_PER_DAY:
        raise TraceError(f"{path}: minute column {last} is beyond {MINUTES_PER_DAY}; "
                         f"{FORMAT_HINT}")
    if missing:
        raise TraceError(f"{path}: header lacks column(s) {', '.join(missing)}; {FORMAT_HINT}")
    return minutes


def _counts(cells: list[str], order: list[int], path: Path, line: int) -> tuple[int, ...]:
    """The counts of minutes 1..N, ``order[m - 1]`` being minute m's column."""
    first = order[0]
    try:  # fast path (int() accepts surrounding blanks); the dataset's columns are contiguous
        if order[-1] - first == len(order) - 1:
            out = tuple(map(int, cells[first:first + len(order)]))
        else:
            out = tuple(map(int, [cells[i] for i in order]))
        if min(out) >= 0:
            return out
    except ValueError:
        pass
    for m, i in enumerate(order, start=1):  # find the offending cell for the message
        cell = cells[i].strip()
        try:
            value = int(cell)
        except ValueError:
            raise TraceError(f"{path}, line {line}, minute {m}: {cell!r} is not a whole "
                             "number of invocations") from None
        if value < 0:
            raise TraceError(f"{path}, line {line}, minute {m}: negative count {value}")
    raise AssertionError("unreachable")


def read_trace_row(path: str | Path, function: str | None = None) -> TraceRow:
    """The row of ``HashFunction == function`` (the first one, in file order), or when
    ``function`` is None the busiest row (largest total; the first one on a tie)."""
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise TraceError(f"trace file {path} not found; set trace_path to an Azure Functions "
                         "2019 invocations CSV (the repository ships "
                         "data/traces/azure-functions-2019-sample.csv)") from None
    except OSError as exc:
        raise TraceError(f"trace file {path}: cannot read it ({exc.strerror})") from None
    with handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        if not header:
            raise TraceError(f"{path}: empty file; {FORMAT_HINT}")
        minutes = _minute_columns(header, path)
        order = [minutes[m] for m in range(1, len(minutes) + 1)]
        ids = [header.index(c) for c in ID_COLUMNS]
        f_col = header.index("HashFunction")
        best: TraceRow | None = None
        best_total = -1
        rows = 0
        for cells in reader:
            if not cells or not any(c.strip() for c in cells):
                continue
            rows += 1
            line = reader.line_num
            if len(cells) < len(header):
                raise TraceError(f"{path}, line {line}: {len(cells)} fields where the header "
                                 f"has {len(header)}")
            if function is not None:
                if cells[f_col].strip() != function:
                    continue
                return TraceRow(*(cells[i].strip() for i in ids),
                                counts=_counts(cells, order, path, line))
            counts = _counts(cells, order, path, line)
            total = sum(counts)
            if total > best_total:
                best = TraceRow(*(cells[i].strip() for i in ids), counts=counts)
                best_total = total
    if function is not None:
        raise TraceError(f"{path}: no row has HashFunction {function!r} ({rows} rows in the "
                         "file); set trace_function to one of its HashFunction values, or "
                         "omit it to replay the busiest row")
    if best is None:
        raise TraceError(f"{path}: no data rows after the header; {FORMAT_HINT}")
    return best


# --- the synthetic sample -------------------------------------------------------------------

#: (name, trigger) of the sample's rows; the name seeds the row's hashes.
SYNTHETIC_FUNCTIONS = (
    ("http-diurnal", "http"),
    ("timer-5min", "timer"),
    ("queue-bursty", "queue"),
    ("http-sparse", "http"),
    ("event-steady", "event"),
)


def _poisson(rng: random.Random, lam: float) -> int:
    """Poisson(lam) by inversion from one ``random()`` draw (fine for lam < ~500)."""
    u = rng.random()
    k, p = 0, math.exp(-lam)
    cdf = p
    while u > cdf and p > 0.0:
        k += 1
        p *= lam / k
        cdf += p
    return k


def synthetic_hash(kind: str, name: str) -> str:
    """A 64-hex-digit stand-in for the dataset's anonymised hashes (sha256 of a label)."""
    return hashlib.sha256(f"vsbench-synthetic-trace/{kind}/{name}".encode()).hexdigest()


def synthetic_trace_rows(seed: int = 0) -> list[TraceRow]:
    """Five made-up functions, one day each (see ``data/traces/README.md``).

    * ``http-diurnal`` (http): Poisson counts with mean ``12 + 10 sin(2π (m - 481) / 1440)``
      per minute: 2/min at 02:00, 22/min at 14:00 (the busiest row, ~17k a day);
    * ``timer-5min`` (timer): exactly 1 invocation in minutes 1, 6, 11, ...;
    * ``queue-bursty`` (queue): background Poisson(0.05)/min plus 10 bursts at random
      minutes, each ``H`` (40..150) then ``H/3`` and ``H/9`` (Poisson) in the next minutes;
    * ``http-sparse`` (http): Poisson(0.03)/min, a few dozen a day (every call is cold);
    * ``event-steady`` (event): Poisson(4)/min.
    """
    rng = random.Random(seed)
    n = MINUTES_PER_DAY
    minutes = range(1, n + 1)
    diurnal = [_poisson(rng, 12 + 10 * math.sin(2 * math.pi * (m - 481) / n)) for m in minutes]
    timer = [1 if (m - 1) % 5 == 0 else 0 for m in minutes]
    queue = [_poisson(rng, 0.05) for _ in minutes]
    for _ in range(10):
        start = int(n * rng.random())
        height = 40 + int(111 * rng.random())
        for k, share in enumerate((1.0, 1 / 3, 1 / 9)):
            if start + k < n:
                queue[start + k] += _poisson(rng, height * share)
    sparse = [_poisson(rng, 0.03) for _ in minutes]
    steady = [_poisson(rng, 4.0) for _ in minutes]
    series = (diurnal, timer, queue, sparse, steady)
    return [TraceRow(owner=synthetic_hash("owner", "vsbench"),
                     app=synthetic_hash("app", name.split("-")[0]),
                     function=synthetic_hash("function", name),
                     trigger=trigger, counts=tuple(counts))
            for (name, trigger), counts in zip(SYNTHETIC_FUNCTIONS, series, strict=True)]


def trace_csv_text(rows: list[TraceRow]) -> str:
    """Rows in the dataset's CSV format (``\\n`` line ends, no quoting needed)."""
    n = len(rows[0].counts) if rows else MINUTES_PER_DAY
    lines = [",".join([*ID_COLUMNS, *map(str, range(1, n + 1))])]
    lines += [",".join([r.owner, r.app, r.function, r.trigger, *map(str, r.counts)])
              for r in rows]
    return "\n".join(lines) + "\n"


def write_synthetic_trace(path: str | Path, seed: int = 0) -> Path:
    """Write the synthetic sample trace to ``path`` (parents created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(trace_csv_text(synthetic_trace_rows(seed)).encode())
    return path


if __name__ == "__main__":  # python -m vsbench.workload.azure_trace [PATH]
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else "data/traces/azure-functions-2019-sample.csv"
    print(write_synthetic_trace(out))
