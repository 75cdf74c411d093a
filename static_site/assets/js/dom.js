// Building DOM nodes from data, and the page's ways of writing times. Values only ever reach the
// page as text nodes, never as HTML.

export const STATUS_MARK = {
  scheduled: "◷",
  pending: "○",
  queued: "◔",
  sending: "➜",
  sent: "✓",
  retrying: "↻",
  failed: "✕",
  cancelled: "⊘",
  expired: "⌛",
};

/** An element with attributes and children; strings become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** A status badge: colour, a mark and the status word, so it reads without colour too. */
export function badge(status) {
  const known = Object.hasOwn(STATUS_MARK, status);
  return el(
    "span",
    { className: `badge badge-${known ? status : "unknown"}` },
    el("span", { className: "mark", "aria-hidden": "true", text: known ? STATUS_MARK[status] : "?" }),
    String(status),
  );
}

/** A button that opens a job, showing the end of its id (its name says so to a screen reader). */
export function openButton(id, className = "open") {
  return el("button", { type: "button", className, title: id, "data-full-id": id },
    el("span", { className: "visually-hidden", text: "Open job " }), shortId(id));
}

/** The end of an id (ObjectIds share their leading timestamp bytes within a second). */
export function shortId(id) {
  const text = String(id);
  return text.length > 10 ? `…${text.slice(-8)}` : text;
}

/** "12 s ago", "3 min ago", "2 h ago", "4 d ago". */
export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso ?? "");
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A time in the browser's zone, to the millisecond; the date too unless it is today. */
export function localTime(iso, now = Date.now()) {
  const t = new Date(Date.parse(iso));
  if (Number.isNaN(t.getTime())) return String(iso ?? "");
  const clock = t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3 });
  const today = new Date(now).toDateString() === t.toDateString();
  return today ? clock : `${t.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" })} ${clock}`;
}

/** A <time> showing the local time (and how long ago); the UTC ISO value on hover. */
export function timeNode(iso, { relative = true, now = Date.now() } = {}) {
  const text = relative ? `${localTime(iso, now)} · ${relativeTime(iso, now)}` : localTime(iso, now);
  return el("time", { datetime: iso, title: `${iso} (UTC)`, text });
}

/** A duration in words: "480 ms", "2 s", "1.5 min", "2 h". */
export function duration(ms) {
  const n = Number(ms);
  if (!Number.isFinite(n)) return String(ms);
  if (Math.abs(n) < 1000) return `${Math.round(n)} ms`;
  if (Math.abs(n) < 60000) return `${+(n / 1000).toFixed(1)} s`;
  if (Math.abs(n) < 3600000) return `${+(n / 60000).toFixed(1)} min`;
  return `${+(n / 3600000).toFixed(1)} h`;
}

/** A value for a details list: objects as compact JSON, null as an em dash. */
export function display(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A labelled list (<dl>) of [label, value node or text] pairs. */
export function labelled(pairs, className = "pairs") {
  const list = el("dl", { className });
  for (const [label, value] of pairs) {
    list.append(el("dt", { text: label }), el("dd", {}, value));
  }
  return list;
}
