// The throughput chart: sent per second as filled bars in plain SVG.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 160;

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

/** A peak rounded up to 1, 2 or 5 times a power of ten, so the scale does not jitter. */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/** Draw `throughput` (the `throughput` object of /api/stats) into the svg element. */
export function drawChart(node, throughput) {
  const rates = throughput?.sentPerSecond || [];
  const top = niceMax(Math.max(0, ...rates));
  const children = [];
  for (const fraction of [0.5, 1]) {
    const y = HEIGHT - fraction * (HEIGHT - 4);
    children.push(svg("line", { x1: 0, x2: WIDTH, y1: y, y2: y, class: "grid" }));
  }
  const step = rates.length ? WIDTH / rates.length : WIDTH;
  rates.forEach((rate, i) => {
    if (!(rate > 0)) return;
    const h = Math.max(1, (rate / top) * (HEIGHT - 4));
    const bar = svg("rect", { x: i * step + 0.5, y: HEIGHT - h, width: Math.max(1, step - 1), height: h, class: "bar" });
    const title = svg("title", {});
    title.textContent = `${rate.toFixed(1)} /s`;
    bar.append(title);
    children.push(bar);
  });
  children.push(svg("line", { x1: 0, x2: WIDTH, y1: HEIGHT - 0.5, y2: HEIGHT - 0.5, class: "axis" }));
  node.replaceChildren(...children);
  const last = rates.length ? rates[rates.length - 1] : 0;
  return { top, last, minutes: Math.round((rates.length * (throughput?.bucketSeconds || 0)) / 60) };
}
