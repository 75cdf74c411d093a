// The throughput chart: jobs sent and failed per second, side by side in each bucket, in plain
// SVG. Heights are logarithmic (log(1 + rate)), with ticks at 0, 1, 10, 100…, so a burst does not
// flatten what came before it: after a burst at 40/s, a steady 1/s still stands at a fifth of
// the chart's height, where a linear scale would leave it at one fortieth.

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 170;
const PAD = { left: 36, right: 6, top: 8, bottom: 18 };

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The scale's top: the power of ten at or above the peak (at least 1). */
export function logTop(peak) {
  return peak > 1 ? 10 ** Math.ceil(Math.log10(peak)) : 1;
}

/** Where `rate` stands, from 0 (bottom) to 1 (the top of the scale). */
export function heightOf(rate, top) {
  return rate > 0 ? Math.log10(1 + rate) / Math.log10(1 + top) : 0;
}

/** The ticks of a scale whose top is `top`: 0 and each power of ten up to it. */
export function ticksOf(top) {
  const ticks = [0];
  for (let t = 1; t <= top; t *= 10) ticks.push(t);
  return ticks;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function rate(value) {
  return value >= 10 ? value.toFixed(0) : value.toFixed(1);
}

/** Draw `throughput` (the `throughput` object of /api/stats) into the svg element. */
export function drawChart(node, throughput) {
  const sent = throughput?.sentPerSecond || [];
  const failed = throughput?.failedPerSecond || [];
  const sentN = throughput?.sent || [];
  const failedN = throughput?.failed || [];
  const bucketMs = (throughput?.bucketSeconds || 5) * 1000;
  const since = Date.parse(throughput?.since || "") || Date.now() - sent.length * bucketMs;
  const width = Math.max(240, Math.round(node.clientWidth || 600));
  node.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const bottom = PAD.top + plotH;
  const peak = Math.max(0, ...sent, ...failed);
  const top = logTop(peak);
  const y = (value) => bottom - heightOf(value, top) * plotH;
  const children = [];
  for (const tick of ticksOf(top)) {
    children.push(svg("line", { x1: PAD.left, x2: width - PAD.right, y1: y(tick), y2: y(tick), class: tick ? "grid" : "axis" }));
    children.push(svg("text", { x: PAD.left - 5, y: y(tick) + 4, class: "tick", "text-anchor": "end" }, tick.toLocaleString()));
  }
  children.push(svg("text", { x: 2, y: PAD.top + 2, class: "tick unit", "dominant-baseline": "hanging" }, "/s"));
  const step = sent.length ? plotW / sent.length : plotW;
  const barW = Math.max(1, (step - 1) / 2);
  sent.forEach((sentRate, i) => {
    const x = PAD.left + i * step;
    const failedRate = failed[i] || 0;
    for (const [value, offset, kind] of [[sentRate, 0, "sent"], [failedRate, barW, "failed"]]) {
      if (!(value > 0)) continue;
      const h = Math.max(1.5, bottom - y(value));
      children.push(svg("rect", { x: x + offset + 0.5, y: bottom - h, width: barW, height: h, class: `bar bar-${kind}` }));
    }
    const from = since + i * bucketMs;
    const tip = `${clock(from)}–${clock(from + bucketMs)} · sent ${rate(sentRate)}/s (${sentN[i] ?? 0}) · failed ${rate(failedRate)}/s (${failedN[i] ?? 0})`;
    const hit = svg("rect", { x, y: PAD.top, width: step, height: plotH, class: "hit", "data-tip": tip, "data-bucket": i });
    hit.append(svg("title", {}, tip));
    children.push(hit);
  });
  const minutes = Math.round((sent.length * bucketMs) / 60000);
  const labels = [[PAD.left, "start", `${minutes} min ago`], [PAD.left + plotW / 2, "middle", `${minutes / 2} min ago`], [width - PAD.right, "end", "now"]];
  for (const [x, anchor, text] of labels) children.push(svg("text", { x, y: HEIGHT - 4, class: "tick", "text-anchor": anchor }, text));
  node.replaceChildren(...children);
  return { top, peak, minutes, last: sent.length ? sent[sent.length - 1] : 0, lastFailed: failed.length ? failed[failed.length - 1] : 0 };
}

/** Show a bucket's figures in `tip` while the pointer is over it. */
export function attachTooltip(node, tip) {
  node.addEventListener("pointermove", (event) => {
    const target = event.target.closest?.(".hit");
    if (!target) {
      tip.hidden = true;
      return;
    }
    tip.textContent = target.dataset.tip;
    tip.hidden = false;
    const box = node.getBoundingClientRect();
    const x = Math.min(box.width - tip.offsetWidth, Math.max(0, event.clientX - box.left - tip.offsetWidth / 2));
    tip.style.left = `${x}px`;
  });
  node.addEventListener("pointerleave", () => (tip.hidden = true));
}
