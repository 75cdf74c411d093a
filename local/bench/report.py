"""What a run measured, as figures: the JSON report and the summary table."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from local.bench import cost
from local.bench.ceilings import Ceiling
from local.bench.load import Load
from local.bench.watch import Finished

# 2: a `cost` section (CPU and store work per job, per process), drain runs, and a store
# ceiling on the real write path.
REPORT_VERSION = 2


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


def timeline(t0: float, accepted_at: list[float], finished: dict[str, Finished],
             depths: list[tuple[float, dict[str, int]]], main_queue: str, until: float) -> dict[str, Any]:
    """Throughput per second and queue depth samples, in seconds since `t0`."""
    seconds = max(1, math.ceil(until - t0))
    sent_at = [f.updated for f in finished.values() if f.status == "sent"]
    retry = [q for q in {name for _, d in depths for name in d} if ".retry." in q]
    lanes = (main_queue, f"{main_queue}.high", f"{main_queue}.low")
    return {
        "second": list(range(seconds)),
        "acceptedPerSecond": per_second(accepted_at, t0, seconds),
        "deliveredPerSecond": per_second(sent_at, t0, seconds),
        "queueDepth": [
            {"t": round(t - t0, 2), "main": sum(d.get(q, 0) for q in lanes), "retry": sum(d.get(q, 0) for q in retry),
             "dead": d.get(f"{main_queue}.dead", 0)}
            for t, d in depths if t >= t0
        ],
    }


def _outcomes(finished: dict[str, Finished], unfinished: int) -> dict[str, int]:
    return {**dict(sorted(Counter(f.status for f in finished.values()).items())), "unfinished": unfinished}


def _create_to_sent(finished: dict[str, Finished]) -> dict[str, float | None]:
    return percentiles([(f.updated - f.created) * 1000 for f in finished.values() if f.status == "sent"])


def results(load: Load, finished: dict[str, Finished], unfinished: int) -> dict[str, Any]:
    """The run's figures: rates, outcomes and latencies."""
    create_s = max(load.finished - load.started, 1e-9)
    last = max((f.updated for f in finished.values()), default=load.finished)
    end_to_end_s = max(last - load.started, 1e-9)
    sent = sum(1 for f in finished.values() if f.status == "sent")
    return {
        "complete": unfinished == 0,
        "requests": load.requests,
        "httpStatuses": {str(k): v for k, v in sorted(load.statuses.items())},
        "transportErrors": dict(load.errors),
        "accepted": len(load.ids),
        "rejectedItems": load.rejected_items,
        "outcomes": _outcomes(finished, unfinished),
        "createSeconds": round(create_s, 3),
        "endToEndSeconds": round(end_to_end_s, 3),
        "acceptedPerSecond": round(len(load.ids) / create_s, 1),
        "deliveredPerSecond": round(sent / end_to_end_s, 1),
        "apiLatencyMs": percentiles(load.latencies_ms),
        "createToSentMs": _create_to_sent(finished),
    }


def drain_results(queued: int, queue_s: float, started: float, finished: dict[str, Finished],
                  unfinished: int) -> dict[str, Any]:
    """A drain's figures: how fast one worker finished a backlog queued before it `started`
    (epoch s); its rate runs from then to the last job's outcome."""
    last = max((f.updated for f in finished.values()), default=started)
    drain_s = max(last - started, 1e-9)
    sent = sum(1 for f in finished.values() if f.status == "sent")
    return {
        "complete": unfinished == 0,
        "accepted": queued,
        "queueSeconds": round(queue_s, 3),
        "outcomes": _outcomes(finished, unfinished),
        "drainSeconds": round(drain_s, 3),
        "endToEndSeconds": round(drain_s, 3),
        "drainedPerSecond": round(len(finished) / drain_s, 1),
        "deliveredPerSecond": round(sent / drain_s, 1),
        "createToSentMs": _create_to_sent(finished),
    }


DELIVERING = "deliverPerSecond"  # the store ceiling's claim-and-outcome half, in its detail


def ceiling_rate(ceiling: Ceiling, drain: bool = False) -> float:
    """A ceiling's jobs/s for the work a run measured: a drain's store work is the delivering
    half only (the jobs were stored and queued before the worker started)."""
    if drain and DELIVERING in ceiling.detail:
        return ceiling.detail[DELIVERING]
    return ceiling.per_second


def compare(delivered_per_s: float, ceilings: list[Ceiling], drain: bool = False) -> dict[str, Any]:
    """Our delivered/s as a share of the lower raw ceiling, naming which one that is."""
    if not ceilings:
        return {"lower": None, "ratio": None}
    lower = min(ceilings, key=lambda c: ceiling_rate(c, drain))
    rate = ceiling_rate(lower, drain)
    ratio = round(delivered_per_s / rate, 3) if rate else None
    return {"lower": lower.what, "lowerPerSecond": rate, "ratio": ratio}


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Write the report, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def _ms(figures: dict[str, Any]) -> str:
    return "   ".join(f"{k} {'-' if figures[k] is None else f'{figures[k]:,.0f}'}" for k in ("p50", "p95", "p99"))


def _ceiling_rows(report: dict[str, Any], rate: str) -> list[tuple[str, str]]:
    rows = []
    for c in report["ceilings"]["measured"]:
        d = c["detail"]
        if c["what"] == "broker":
            unit = f"msgs/s publish+consume (transactions of {d['transactionSize']:.0f})"
        else:
            unit = (f"jobs/s on the real write path in chunks of {d['chunk']:,.0f} "
                    f"({d['writtenPerJob']:.2f} documents written, {d['readPerJob']:.2f} read, "
                    f"{d['commandsPerJob']:.3f} commands per job; insert + mark queued alone "
                    f"{d['acceptPerSecond']:,.1f}/s, claim + outcome alone {d['deliverPerSecond']:,.1f}/s)")
        rows.append((f"{c['what']} ceiling", f"{c['per_second']:,.1f} {unit}, {c['jobs']:,} in {c['seconds']:.1f} s"))
    cmp = report["ceilings"]
    if cmp["lower"]:
        part = " (claim + outcome: what a drain asks of it)" if report["config"]["mode"] == "drain" else ""
        rows.append((f"{rate} / ceiling",
                     f"{cmp['ratio']:.1%} of the {cmp['lower']} ceiling{part}, {cmp['lowerPerSecond']:,.1f}/s (the lower one)"))
    return rows


def _run_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    cfg, res, mock = report["config"], report["results"], report["stack"]["mock"]
    out = res["outcomes"]
    incomplete = "" if res["complete"] else f" (INCOMPLETE: {out['unfinished']:,} unfinished)"
    outcomes = ("outcomes", ", ".join(f"{k} {v:,}" for k, v in out.items()))
    if cfg["mode"] == "drain":
        return [
            ("run", (f"drain: 1 worker (prefetch {report['stack']['prefetch']}) on a backlog of "
                    f"{res['accepted']:,} queued jobs{incomplete}")),
            ("mock provider", f"{mock['latencyMs']} ms, {mock['failureRate']:.0%} transient failures (set for the worker)"),
            ("queued", f"{res['accepted']:,} jobs in {res['queueSeconds']:.1f} s, before the worker started"),
            ("drained", (f"{res['drainedPerSecond']:,.1f} jobs/s over {res['drainSeconds']:.1f} s "
                        f"(sent {res['deliveredPerSecond']:,.1f}/s)")),
            outcomes,
            ("create->sent ms", _ms(res["createToSentMs"])),
            *([("webhooks", (f"an endpoint for `sent` answering after {hooks['answerMs']:,} ms: "
                             f"{hooks['received']:,} deliveries reached it during the drain "
                             f"({hooks['concurrency']} at a time)"))] if (hooks := report.get("webhooks")) else []),
            *([("WARNING", res["warning"])] if res.get("warning") else []),
        ]
    what = f"{cfg['mode']} creates" + (f" of {cfg['batchSize']}" if cfg["mode"] == "batch" else "")
    source = f"read from {mock['workers']} worker(s)" if mock["source"] == "worker" else "as declared"
    depth = report["timeline"]["queueDepth"]
    peak = {k: max((d[k] for d in depth), default=0) for k in ("main", "retry", "dead")}
    return [
        ("run", f"{what}, {cfg['concurrency']} clients, {res['accepted']:,} jobs accepted{incomplete}"),
        ("mock provider", f"{mock['latencyMs']} ms, {mock['failureRate']:.0%} transient failures ({source})"),
        ("accepted", f"{res['acceptedPerSecond']:,.1f} jobs/s over {res['createSeconds']:.1f} s"),
        ("requests", f"{res['requests']:,}, by status {res['httpStatuses']}"),
        ("delivered (sent)", f"{res['deliveredPerSecond']:,.1f} jobs/s end to end over {res['endToEndSeconds']:.1f} s"),
        outcomes,
        ("API latency ms", _ms(res["apiLatencyMs"])),
        ("create->sent ms", _ms(res["createToSentMs"])),
        ("queue depth peak", f"main {peak['main']:,}, retry {peak['retry']:,}, dead {peak['dead']:,}"),
    ]


def summary(report: dict[str, Any]) -> str:
    """The table printed at the end of a run."""
    machine = report["stack"]["machine"]
    rows = _run_rows(report)
    rows += cost.rows(report["cost"])
    rows += _ceiling_rows(report, "drained" if report["config"]["mode"] == "drain" else "end to end")
    rows.append(("machine", (f"{machine['cpus']} cpus, load average (1 min) {machine['loadAverage1mAtStart']:.2f} "
                            f"at the start, {machine['loadAverage1mAtEnd']:.2f} at the end")))
    rows.append(("report", f"{report['files']['json']}  chart {report['files']['png']}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
