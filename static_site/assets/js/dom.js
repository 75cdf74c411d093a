// Building DOM nodes from data. Values only ever reach the page as text nodes, never as HTML.

export const STATUS_MARK = {
  pending: "○",
  queued: "◔",
  sending: "➜",
  sent: "✓",
  retrying: "↻",
  failed: "✕",
  cancelled: "⊘",
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
    { className: `badge badge-${known ? status : "unknown"}`, "data-status": status },
    el("span", { className: "mark", "aria-hidden": "true", text: known ? STATUS_MARK[status] : "?" }),
    String(status),
  );
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

/** The exact time for a tooltip: UTC as the API gives it, and the browser's local time. */
export function exactTime(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso ?? "");
  return `${iso} (local: ${new Date(t).toLocaleString()})`;
}

/** A value for a details list: objects as indented JSON, null as an em dash. */
export function display(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "object") return JSON.stringify(value, null, 2);
  return String(value);
}
