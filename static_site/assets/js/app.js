// The dashboard's wiring: the key, the connection, the counters, the chart, the send form, the
// bulk retry, and the view in the URL's fragment that the table and the drawer follow.

import { Api, ApiError } from "./api.js";
import { attachTooltip, drawChart } from "./chart.js";
import { badge, openButton } from "./dom.js";
import { Drawer } from "./drawer.js";
import { JobsTable } from "./jobs.js";
import { Poller } from "./poller.js";
import { formatView, looksLikeJobId, parseView, sameListing } from "./view.js";

const $ = (id) => document.getElementById(id);
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";

const api = new Api(meta("wavecom-api-base"), Number.parseInt(meta("wavecom-page-size"), 10) || 50);
const states = JSON.parse(meta("wavecom-states") || '{"terminal":[],"cancellable":[],"retryable":[]}');
const spacingMs = Number.parseInt(meta("wavecom-poll-ms"), 10) || 1000;
const poller = new Poller(api, spacingMs, onPollState);
let view = parseView(location.hash);
let accepted = null; // the job the form last sent: {id, status}

// ---- key and connection ---------------------------------------------------------------------

function setConnection(kind, text) {
  $("connection").dataset.state = kind;
  $("connection-text").textContent = text;
  $("retry-now").hidden = kind !== "lost";
}

function setKeyState(kind) {
  const text = { required: "key required", rejected: "key rejected", accepted: "key in use", saved: "key saved", none: "" }[kind] ?? "";
  $("key-state").dataset.state = kind;
  $("key-state").textContent = text;
}

/** One call to action, and nothing polled, until a key the API accepts is saved. */
function needKey(kind) {
  poller.stop();
  forgetTenant();
  setKeyState(kind);
  const cta = $("key-cta");
  cta.textContent = kind === "rejected"
    ? "The API rejected this API key, so nothing is shown. Enter a valid key at the top and press Save."
    : "Enter an API key at the top and press Save to see this tenant's jobs. `make run` prints the local one; `wavecom keys create --tenant <name>` makes another.";
  cta.hidden = false;
  setConnection("auth", kind === "rejected" ? "API key rejected" : "API key needed");
  $("api-key").focus();
}

/** Take every trace of the previous tenant off the screen. */
function forgetTenant() {
  table.clear();
  drawer.close();
  accepted = null;
  poller.drop("accepted");
  $("send-result").replaceChildren();
  $("bulk-result").textContent = "";
  for (const node of document.querySelectorAll("[data-count]")) node.textContent = "–";
  shownStats = null;
  $("chart").replaceChildren();
  $("chart-caption").textContent = "";
  $("chart-scale").textContent = "";
}

function onAuthError() {
  needKey(api.key ? "rejected" : "required");
}

function onPollState(kind, detail) {
  if (kind === "ok") {
    setConnection("live", `Live · each part updates every ${poller.cycleSeconds} s`);
    setKeyState("accepted");
    $("key-cta").hidden = true;
  } else if (kind === "paused") {
    setConnection("paused", "Paused while this tab is hidden");
  } else if (kind === "failing" && detail.error instanceof ApiError && detail.error.kind === "unauthorized") {
    onAuthError();
  } else if (kind === "failing") {
    const why = detail.error instanceof ApiError && detail.error.kind === "http" ? ` (HTTP ${detail.error.status})` : "";
    setConnection("lost", `Connection lost${why} · retrying in ${detail.retryIn} s`);
  }
}

function useKey(key) {
  const changed = key.trim() !== api.key;
  api.setKey(key);
  if (changed) forgetTenant();
  if (!api.key) {
    needKey("required");
    return;
  }
  setKeyState("saved");
  $("key-cta").hidden = true;
  setConnection("starting", "Connecting…");
  if (changed) begin();
  else poller.start();
}

/** Show the view for the key in use: its jobs at once, then polling. */
function begin() {
  table.show(view).catch(onTableError);
  poller.fresh("list");
  if (view.job) drawer.open(view.job, table.job(view.job));
  poller.start();
}

// ---- counters, chart ------------------------------------------------------------------------

let shownStats = null; // what the chart shows, redrawn when its width changes

function renderStats(stats) {
  shownStats = stats;
  for (const node of document.querySelectorAll("[data-count]")) {
    const key = node.dataset.count;
    const value = key === "total" ? stats.total : stats.counts?.[key];
    node.textContent = value === undefined ? "–" : Number(value).toLocaleString();
  }
  const failed = Number(stats.counts?.failed || 0);
  document.querySelector('button.counter[data-status="failed"]')?.classList.toggle("alert", failed > 0);
  const drawn = drawChart($("chart"), stats.throughput);
  $("chart").setAttribute("aria-label", `Jobs sent and failed per second over the last ${drawn.minutes} minutes; `
    + `peak ${drawn.peak.toFixed(1)}/s, last bucket ${drawn.last.toFixed(1)} sent and ${drawn.lastFailed.toFixed(1)} failed per second`);
  $("chart-caption").textContent = `· last ${drawn.minutes} min, now ${drawn.last.toFixed(1)}/s sent`;
  $("chart-scale").textContent = `· logarithmic scale, top ${drawn.top.toLocaleString()}/s`;
}

function showFilterState() {
  for (const button of document.querySelectorAll("button.counter[data-status]")) {
    button.setAttribute("aria-pressed", String(button.dataset.status === view.status));
  }
  $("filter-status").value = view.status;
  $("filter-type").value = view.type;
  $("search").value = view.q;
  $("clear-filters").hidden = !(view.status || view.type || view.q);
  const failedOnly = !view.status || view.status === "failed";
  $("retry-all").disabled = !failedOnly || looksLikeJobId(view.q);
  $("retry-all").title = failedOnly ? "Retry every failed job the filters select" : "Only failed jobs can be retried";
}

// ---- the view (filters, search, open job) ---------------------------------------------------

/** Go to a view: a new history entry, so the back button returns to this one. */
function go(changes) {
  const next = { ...view, ...changes };
  const hash = formatView(next);
  if (hash === formatView(view)) return;
  history.pushState(null, "", hash || `${location.pathname}${location.search}`);
  apply(next);
}

function apply(next) {
  const relist = !sameListing(view, next);
  view = next;
  showFilterState();
  if (relist && api.key) {
    poller.fresh("list");
    table.show(view).catch(onTableError);
    $("bulk-result").textContent = "";
  }
  if (view.job && view.job !== drawer.openId) drawer.open(view.job, table.job(view.job));
  if (!view.job && drawer.openId) drawer.close();
}

function onTableError(error) {
  if (error instanceof ApiError && error.kind === "unauthorized") onAuthError();
  else $("jobs-note").textContent = `Jobs could not be loaded: ${error.message}`;
}

// ---- bulk retry ----------------------------------------------------------------------------

async function retryAll() {
  const filter = {};
  if (view.type) filter.type = view.type;
  if (view.q) filter.recipient = view.q;
  const result = $("bulk-result");
  try {
    const { matched } = await api.retryFailed(filter, true);
    if (!matched) {
      result.textContent = "No failed job matches these filters.";
      return;
    }
    const most = Math.min(matched, 1000);
    const question = `Retry ${matched.toLocaleString()} failed ${view.type ? `${view.type} ` : ""}job${matched === 1 ? "" : "s"}`
      + `${view.q ? ` to ${view.q}` : ""}?`
      + (matched > most ? ` This retries the newest ${most.toLocaleString()}; press again for the rest.` : "");
    if (!window.confirm(question)) return;
    result.textContent = "Retrying…";
    const done = await api.retryFailed(filter);
    const left = done.matched - done.retried;
    result.textContent = `Queued again: ${done.retried.toLocaleString()} of ${done.matched.toLocaleString()} failed jobs`
      + (left > 0 ? `; ${left.toLocaleString()} remain, press again.` : ".");
    poller.soon("list");
    poller.soon("stats");
  } catch (error) {
    if (error instanceof ApiError && error.kind === "unauthorized") return onAuthError();
    result.textContent = `Not retried: ${error.message}`;
  }
}

// ---- send form ------------------------------------------------------------------------------

function clearFieldErrors() {
  for (const node of document.querySelectorAll("#send-form .field-error")) node.textContent = "";
  for (const node of document.querySelectorAll("#send-form [aria-invalid]")) node.removeAttribute("aria-invalid");
}

function showFieldErrors(problem) {
  const errors = problem?.errors?.length ? problem.errors : [{ field: "body", message: problem?.detail || "The request failed." }];
  for (const { field, message } of errors) {
    const name = String(field).split(".")[0];
    const target = document.querySelector(`#send-form .field-error[data-field="${CSS.escape(name)}"]`) || $("error-form");
    const prefix = target === $("error-form") && name !== "body" ? `${field}: ` : "";
    target.textContent = target.textContent ? `${target.textContent} ${prefix}${message}` : `${prefix}${message}`;
    document.getElementById(`f-${name}`)?.setAttribute("aria-invalid", "true");
  }
}

/** "Accepted as …eb00dabf: sent", following the job until it settles. */
function showAccepted(job) {
  if (!accepted || job.id !== accepted.id) return;
  accepted.status = job.status;
  const open = openButton(job.id, "link");
  open.addEventListener("click", () => go({ job: job.id }));
  $("send-result").replaceChildren("Accepted as ", open, ": ", badge(job.status));
  followAccepted();
}

/** Keep the note's job fresh: the table does while it lists the job, else a poll of its own. */
function followAccepted() {
  if (!accepted || states.terminal.includes(accepted.status) || table.isLive(accepted.id)) poller.drop("accepted");
  else if (!poller.tasks.has("accepted")) poller.set("accepted", async () => showAccepted(await api.getJob(accepted.id)));
}

async function onSend(event) {
  event.preventDefault();
  clearFieldErrors();
  const form = event.currentTarget;
  const payload = { type: form.type.value, recipient: form.recipient.value, message: form.message.value };
  $("send").disabled = true;
  $("send-result").textContent = "Sending…";
  try {
    const created = await api.createJob(payload);
    const job = { ...payload, metadata: {}, lastError: null, updatedAt: created.createdAt, ...created };
    accepted = { id: job.id, status: job.status };
    table.add(job);
    showAccepted(job);
    form.message.value = "";
    poller.soon("list");
  } catch (error) {
    $("send-result").textContent = "";
    if (error instanceof ApiError && error.kind === "unauthorized") {
      onAuthError();
      $("error-form").textContent = api.key ? "The API rejected this key." : "The API requires a key: set it at the top.";
    } else if (error instanceof ApiError && error.kind === "http") {
      showFieldErrors(error.problem);
    } else {
      $("error-form").textContent = "The API could not be reached; nothing was sent.";
    }
  } finally {
    $("send").disabled = false;
  }
}

// ---- wiring ---------------------------------------------------------------------------------

const table = new JobsTable({
  api,
  onOpen: (id) => go({ job: id }),
  onRows: () => {
    table.openId = drawer?.openId ?? null;
    for (const job of table.rows) {
      if (job.id === drawer?.openId) drawer.update(job);
      if (job.id === accepted?.id && table.isLive(job.id)) showAccepted(job);
    }
    followAccepted();
  },
});
const drawer = new Drawer({
  api,
  poller,
  states,
  isLive: (id) => table.isLive(id),
  onJob: (job) => {
    table.update(job);
    showAccepted(job);
  },
  onClose: () => {
    table.openId = null;
    table.render();
    if (view.job) go({ job: "" });
  },
  onAuthError,
});

poller.set("list", () => table.refresh());
poller.set("stats", async () => renderStats(await api.stats()));

$("api-key").value = api.key;
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  useKey($("api-key").value);
});
$("key-clear").addEventListener("click", () => {
  $("api-key").value = "";
  useKey("");
});
$("retry-now").addEventListener("click", () => poller.start());
$("send-form").addEventListener("submit", onSend);
$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  go({ q: $("search").value.trim(), job: "" });
});
$("filter-status").addEventListener("change", () => go({ status: $("filter-status").value, job: "" }));
$("filter-type").addEventListener("change", () => go({ type: $("filter-type").value, job: "" }));
$("clear-filters").addEventListener("click", () => go({ status: "", type: "", q: "", job: "" }));
for (const button of document.querySelectorAll("button.counter[data-status]")) {
  button.addEventListener("click", () => go({ status: view.status === button.dataset.status ? "" : button.dataset.status, job: "" }));
}
$("retry-all").addEventListener("click", retryAll);
window.addEventListener("popstate", () => apply(parseView(location.hash)));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && drawer.openId) drawer.close();
});
attachTooltip($("chart"), $("chart-tip"));
new ResizeObserver(() => shownStats && drawChart($("chart"), shownStats.throughput)).observe($("chart"));

showFilterState();
if (api.key) begin();
else needKey("required");
