// What the page shows, kept in the URL's fragment (#status=failed&type=sms&q=...&job=...), so a
// link can be shared and the back button works. The fragment, not the query: a browser never
// sends it, so a searched recipient never reaches a server's or a CDN's access log.

const FIELDS = ["status", "type", "q", "job"];
const JOB_ID = /^[0-9a-f]{24}$/i;

/** The view a fragment describes: {status, type, q, job}, each "" when not set. */
export function parseView(hash) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  return Object.fromEntries(FIELDS.map((name) => [name, (params.get(name) || "").trim()]));
}

/** The fragment of a view (empty fields left out). */
export function formatView(view) {
  const params = new URLSearchParams();
  for (const name of FIELDS) if (view[name]) params.set(name, view[name]);
  const text = params.toString();
  return text ? `#${text}` : "";
}

/** Whether two views list the same jobs (the open job aside). */
export function sameListing(a, b) {
  return a.status === b.status && a.type === b.type && a.q === b.q;
}

/** Whether a search looks like a job id (it may still be a recipient, when no job has it). */
export function looksLikeJobId(text) {
  return JOB_ID.test(text);
}
