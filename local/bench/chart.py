"""The run's chart: throughput and queue depth over time, as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in tests

import matplotlib.pyplot as plt


def draw(report: dict[str, Any], path: Path) -> None:
    """Two panels sharing the time axis: accepted/s and delivered/s, then queue depth. (A drain
    accepts nothing while it is watched: its chart starts when the worker starts.)"""
    line = report["timeline"]
    cfg, res = report["config"], report["results"]
    drain = cfg["mode"] == "drain"
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, height_ratios=[3, 2])
    # One more edge, so the last second is drawn as a full step like the others.
    seconds = [*line["second"], len(line["second"])]
    for key, label, color in (("acceptedPerSecond", "accepted/s (API)", "#1f77b4"),
                              ("deliveredPerSecond", "delivered/s (sent)", "#2ca02c")):
        if drain and key == "acceptedPerSecond":
            continue
        top.step(seconds, [*line[key], line[key][-1]], where="post", label=label, color=color)
    cmp = report["ceilings"]
    if cmp["lower"] and cmp["lowerPerSecond"] <= 3 * max([*line["acceptedPerSecond"], *line["deliveredPerSecond"], 1]):
        # Drawn only when it fits on the same scale; the table always names it.
        part = " (claim + outcome)" if drain and cmp["lower"] == "store" else ""
        top.axhline(cmp["lowerPerSecond"], ls=":", color="#7f7f7f", label=f"{cmp['lower']} ceiling{part}")
    top.set_ylabel("jobs per second")
    top.set_ylim(0, top.get_ylim()[1] * 1.25)  # headroom for the legend above the lines
    top.legend(loc="upper left", ncols=3, fontsize=9)
    top.grid(alpha=0.3)
    depth = line["queueDepth"]
    t = [d["t"] for d in depth]
    bottom.plot(t, [d["main"] for d in depth], label="main queue", color="#ff7f0e")
    bottom.plot(t, [d["retry"] for d in depth], label="retry queues", color="#9467bd")
    if any(d["dead"] for d in depth):
        bottom.plot(t, [d["dead"] for d in depth], label="dead-letter", color="#d62728")
    bottom.set_ylabel("messages ready")
    bottom.set_xlabel("seconds since the worker started" if drain else "seconds since the first request")
    bottom.set_ylim(0, max(bottom.get_ylim()[1], 1) * 1.25)
    bottom.legend(loc="upper left", ncols=3, fontsize=9)
    bottom.grid(alpha=0.3)
    mock = report["stack"]["mock"]
    mocked = f"mock {mock['latencyMs']} ms / {mock['failureRate']:.0%} failures"
    if drain:
        title = (f"wavecom bench: drain of {res['accepted']:,} queued jobs by 1 worker "
                 f"(prefetch {report['stack']['prefetch']}), {mocked}\n"
                 f"drained {res['drainedPerSecond']:,.0f}/s")
    else:
        for ax in (top, bottom):
            ax.axvline(res["createSeconds"], ls="--", color="#999999", lw=1)
        what = f"{cfg['mode']} creates" + (f" of {cfg['batchSize']}" if cfg["mode"] == "batch" else "")
        title = (f"wavecom bench: {res['accepted']:,} jobs, {what}, {cfg['concurrency']} clients, {mocked}\n"
                 f"accepted {res['acceptedPerSecond']:,.0f}/s, delivered {res['deliveredPerSecond']:,.0f}/s end to end "
                 "(dashed line: last request)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
