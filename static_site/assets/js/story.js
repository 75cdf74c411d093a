// A job's timeline as a story: each event named in words, its local time (UTC on hover), how
// long after the one before, and its details as labelled values.

import { display, duration, el, labelled, timeNode } from "./dom.js";

const EVENTS = {
  created: "Created",
  scheduled: "Scheduled",
  queued: "Queued",
  sending: "Sending",
  sent: "Sent",
  retry_scheduled: "Retry scheduled",
  failed: "Failed",
  cancelled: "Cancelled",
  retry_requested: "Retry requested",
  duplicate_skipped: "Duplicate message skipped",
  lease_expired: "Lease expired",
  dead_lettered: "Message dead-lettered",
  expired: "Expired, never sent",
  delivered: "Delivered (receipt)",
  bounced: "Bounced (receipt)",
  complained: "Complaint (receipt)",
  suppressed: "Not sent: recipient suppressed",
  redacted: "Redacted: message and recipient erased",
};

// The details' labels, in the order they are shown; others follow, named from their key.
const DETAILS = [
  ["attempt", "Attempt"],
  ["provider", "Provider"],
  ["error", "Error"],
  ["permanent", "Permanent"],
  ["delayMs", "Delay"],
  ["sendAt", "Send at"],
  ["expiresAt", "Expires at"],
  ["maxAttempts", "Attempt budget"],
  ["keyId", "By key"],
  ["bulk", "Bulk retry"],
  ["reason", "Reason"],
  ["detail", "Receipt"],
  ["erasureId", "Erasure"],
  ["providerMessageId", "Provider message id"],
  ["at", "Reported at"],
  ["count", "Messages"],
  ["lastAt", "Last at"],
  ["type", "Channel"],
  ["recipient", "Recipient"],
  ["queue", "Queue"],
  ["worker", "Worker"],
];
const LABELS = new Map(DETAILS);
// Events that stand out as bad news.
const BAD_EVENTS = new Set(["failed", "dead_lettered", "expired", "bounced", "complained", "suppressed"]);
// Receipt internals a support engineer does not need to read.
const HIDDEN = new Set(["receiptId"]);

/** "messageId" -> "Message id". */
function words(key) {
  const spaced = String(key).replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

export function eventLabel(event) {
  return EVENTS[event] ?? words(event);
}

function detailValue(key, value) {
  if (key === "delayMs") return duration(value);
  if (key === "lastAt" || key === "sendAt" || key === "expiresAt") return timeNode(value, { relative: false });
  if (key === "error") return el("span", { className: "error-text", text: display(value) });
  return display(value);
}

/** The details of an entry as labelled values, known ones first. */
export function detailsList(details) {
  const keys = Object.keys(details || {}).filter((k) => !HIDDEN.has(k));
  const ordered = [...DETAILS.map(([k]) => k).filter((k) => keys.includes(k)), ...keys.filter((k) => !LABELS.has(k))];
  if (!ordered.length) return null;
  return labelled(ordered.map((key) => [LABELS.get(key) ?? words(key), detailValue(key, details[key])]), "pairs details");
}

/** The timeline's entries, oldest first, as list items. */
export function storyItems(entries, now = Date.now()) {
  let previous = null;
  return entries.map((entry) => {
    const at = Date.parse(entry.createdAt);
    const after = previous === null || Number.isNaN(at) ? null : el("span", { className: "after muted", text: `+${duration(at - previous)}` });
    previous = Number.isNaN(at) ? previous : at;
    const failedish = BAD_EVENTS.has(entry.event);
    return el(
      "li",
      { "data-event": entry.event, className: failedish ? "bad" : null },
      el("span", { className: `event event-${entry.event}`, text: eventLabel(entry.event) }),
      el("span", { className: "when" }, timeNode(entry.createdAt, { now }), after ? " " : null, after),
      detailsList(entry.details),
    );
  });
}
