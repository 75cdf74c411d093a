"""What a run measured, as figures: the JSON report and the summary table."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from local.bench.ceilings import Ceiling
from local.bench.load import Load
from local.bench.watch import Finished

REPORT_VERSION = 1


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p95, p99, max and mean of `values` (linear interpolation between ranks)."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        rank = q * (len(ordered) - 1)
        low, high = math.floor(rank), math.ceil(rank)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

    figures = {"p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1],
               "mean": sum(ordered) / len(ordered)}
    return {k: round(v, 1) for k, v in figures.items()}


def per_second(times: Iterable[float], t0: float, seconds: int) -> list[int]:
    """How many of `times` (epoch s) fall in each whole second after `t0`."""
    counts = [0] * seconds
    for t in times:
        i = int(t - t0)
        if 0 <= i < seconds:
            counts[i] += 1
    return counts


def timeline(load: Load, finished: dict[str, Finished], depths: list[tuple[float, dict[str, int]]],
             main_queue: str, until: float) -> dict[str, Any]:
    """Throughput per second and queue depth samples, in seconds since the first request."""
    t0 = load.started
    seconds = max(1, math.ceil(until - t0))
    sent_at = [f.updated for f in finished.values() if f.status == "sent"]
    retry = [q for q in {name for _, d in depths for name in d} if ".retry." in q]
    return {
        "second": list(range(seconds)),
        "acceptedPerSecond": per_second(load.accepted_at, t0, seconds),
        "deliveredPerSecond": per_second(sent_at, t0, seconds),
        "queueDepth": [
            {"t": round(t - t0, 2), "main": d.get(main_queue, 0), "retry": sum(d.get(q, 0) for q in retry),
             "dead": d.get(f"{main_queue}.dead", 0)}
            for t, d in depths
        ],
    }


def results(load: Load, finished: dict[str, Finished], unfinished: int) -> dict[str, Any]:
    """The run's figures: rates, outcomes and latencies."""
    create_s = max(load.finished - load.started, 1e-9)
    last = max((f.updated for f in finished.values()), default=load.finished)
    end_to_end_s = max(last - load.started, 1e-9)
    by_status = Counter(f.status for f in finished.values())
    sent = [f for f in finished.values() if f.status == "sent"]
    return {
        "complete": unfinished == 0,
        "requests": load.requests,
        "httpStatuses": {str(k): v for k, v in sorted(load.statuses.items())},
        "transportErrors": dict(load.errors),
        "accepted": len(load.ids),
        "rejectedItems": load.rejected_items,
        "outcomes": {**dict(sorted(by_status.items())), "unfinished": unfinished},
        "createSeconds": round(create_s, 3),
        "endToEndSeconds": round(end_to_end_s, 3),
        "acceptedPerSecond": round(len(load.ids) / create_s, 1),
        "deliveredPerSecond": round(len(sent) / end_to_end_s, 1),
        "apiLatencyMs": percentiles(load.latencies_ms),
        "createToSentMs": percentiles([(f.updated - f.created) * 1000 for f in sent]),
    }


def compare(delivered_per_s: float, ceilings: list[Ceiling]) -> dict[str, Any]:
    """Our delivered/s as a share of the lower raw ceiling, naming which one that is."""
    if not ceilings:
        return {"lower": None, "ratio": None}
    lower = min(ceilings, key=lambda c: c.per_second)
    ratio = round(delivered_per_s / lower.per_second, 3) if lower.per_second else None
    return {"lower": lower.what, "lowerPerSecond": lower.per_second, "ratio": ratio}


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Write the report, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def _ms(figures: dict[str, Any]) -> str:
    return "   ".join(f"{k} {'-' if figures[k] is None else f'{figures[k]:,.0f}'}" for k in ("p50", "p95", "p99"))


def summary(report: dict[str, Any]) -> str:
    """The table printed at the end of a run."""
    cfg, res, mock = report["config"], report["results"], report["stack"]["mock"]
    what = f"{cfg['mode']} creates" + (f" of {cfg['batchSize']}" if cfg["mode"] == "batch" else "")
    depth = report["timeline"]["queueDepth"]
    peak = {k: max((d[k] for d in depth), default=0) for k in ("main", "retry", "dead")}
    out = res["outcomes"]
    source = f"read from {mock['workers']} worker(s)" if mock["source"] == "worker" else "as declared"
    incomplete = "" if res["complete"] else f" (INCOMPLETE: {out['unfinished']:,} unfinished)"
    rows = [
        ("run", f"{what}, {cfg['concurrency']} clients, {res['accepted']:,} jobs accepted{incomplete}"),
        ("mock provider", f"{mock['latencyMs']} ms, {mock['failureRate']:.0%} transient failures ({source})"),
        ("accepted", f"{res['acceptedPerSecond']:,.1f} jobs/s over {res['createSeconds']:.1f} s"),
        ("requests", f"{res['requests']:,}, by status {res['httpStatuses']}"),
        ("delivered (sent)", f"{res['deliveredPerSecond']:,.1f} jobs/s end to end over {res['endToEndSeconds']:.1f} s"),
        ("outcomes", ", ".join(f"{k} {v:,}" for k, v in out.items())),
        ("API latency ms", _ms(res["apiLatencyMs"])),
        ("create->sent ms", _ms(res["createToSentMs"])),
        ("queue depth peak", f"main {peak['main']:,}, retry {peak['retry']:,}, dead {peak['dead']:,}"),
    ]
    for c in report["ceilings"]["measured"]:
        unit = "msgs/s publish+consume" if c["what"] == "broker" else "jobs/s (8 writes each, in bulk)"
        rows.append((f"{c['what']} ceiling", f"{c['per_second']:,.1f} {unit}, {c['jobs']:,} in {c['seconds']:.1f} s"))
    cmp = report["ceilings"]
    if cmp["lower"]:
        rows.append(("end to end / ceiling", f"{cmp['ratio']:.1%} of the {cmp['lower']} ceiling (the lower one)"))
    rows.append(("report", f"{report['files']['json']}  chart {report['files']['png']}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
