// The dashboard: send form, jobs table with filters, counters, chart and the job panel.

import { Api, ApiError } from "./api.js";
import { drawChart } from "./chart.js";
import { badge, display, el, exactTime, relativeTime, shortId } from "./dom.js";
import { Poller } from "./poller.js";

const $ = (id) => document.getElementById(id);
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";

const api = new Api(meta("wavecom-api-base"));
const state = { jobs: [], openId: null, auth: "unknown" };

// ---- connection and key state -------------------------------------------------------------

function setConnection(kind, text) {
  $("connection").dataset.state = kind;
  $("connection-text").textContent = text;
  $("retry-now").hidden = kind !== "lost" && kind !== "auth";
}

function setKeyState(kind) {
  state.auth = kind;
  const text = { required: "key required", rejected: "key rejected", accepted: "key in use", none: "" }[kind] ?? "";
  $("key-state").dataset.state = kind;
  $("key-state").textContent = text;
}

function onPollState(kind, detail) {
  if (kind === "ok") {
    setConnection("live", "Live · updates every " + Math.round(poller.intervalMs / 1000) + " s");
    if (api.key) setKeyState("accepted");
    else setKeyState("none");
  } else if (kind === "paused") {
    setConnection("paused", "Paused while this tab is hidden");
  } else if (detail.error instanceof ApiError && detail.error.kind === "unauthorized") {
    const kindOfKey = api.key ? "rejected" : "required";
    setKeyState(kindOfKey);
    setConnection("auth", `API ${kindOfKey === "rejected" ? "key rejected" : "key required"} · retrying in ${detail.retryIn} s`);
  } else {
    const why = detail.error instanceof ApiError && detail.error.kind === "http" ? ` (HTTP ${detail.error.status})` : "";
    setConnection("lost", `Connection lost${why} · retrying in ${detail.retryIn} s`);
  }
}

// ---- counters and chart -------------------------------------------------------------------

function renderStats(stats) {
  for (const node of document.querySelectorAll("[data-count]")) {
    const key = node.dataset.count;
    const value = key === "total" ? stats.total : stats.counts?.[key];
    node.textContent = value === undefined ? "–" : Number(value).toLocaleString();
  }
  const drawn = drawChart($("chart"), stats.throughput);
  $("chart-caption").textContent = `· last ${drawn.minutes} min, now ${drawn.last.toFixed(1)}/s`;
  $("chart-from").textContent = `${drawn.minutes} min ago`;
  $("chart-peak").textContent = `scale ${drawn.top}/s`;
}

// ---- jobs table ---------------------------------------------------------------------------

function copyButton(id) {
  const button = el("button", { type: "button", className: "copy", title: "Copy the full id", "aria-label": `Copy id ${id}` }, "copy");
  button.addEventListener("click", async (event) => {
    event.stopPropagation();
    try {
      await navigator.clipboard.writeText(id);
      button.textContent = "copied";
    } catch {
      window.getSelection()?.selectAllChildren(button.previousElementSibling);
      button.textContent = "selected";
    }
    setTimeout(() => (button.textContent = "copy"), 1500);
  });
  return button;
}

function jobRow(job, now) {
  const row = el("tr", { "data-id": job.id, "data-status": job.status, tabindex: "0", className: job.id === state.openId ? "open" : null });
  row.append(
    el("td", { className: "id" }, el("code", { title: job.id, "data-full-id": job.id, text: shortId(job.id) }), copyButton(job.id)),
    el("td", { className: "type", text: job.type }),
    el("td", { className: "recipient", title: job.recipient, text: job.recipient }),
    el("td", { className: "status" }, badge(job.status)),
    el("td", { className: "attempts", text: `${job.attempts} / ${job.maxAttempts}` }),
    el("td", { className: "created" }, el("time", { datetime: job.createdAt, title: exactTime(job.createdAt), text: relativeTime(job.createdAt, now) })),
  );
  row.addEventListener("click", () => openJob(job.id));
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      openJob(job.id);
    }
  });
  return row;
}

function renderJobs() {
  const status = $("filter-status").value;
  const type = $("filter-type").value;
  const shown = state.jobs.filter((j) => (!status || j.status === status) && (!type || j.type === type));
  const now = Date.now();
  $("jobs-body").replaceChildren(...shown.map((job) => jobRow(job, now)));
  $("jobs-empty").hidden = shown.length > 0;
  $("jobs-empty").textContent = state.jobs.length ? "No job matches these filters." : "No jobs yet. Send one with the form.";
  $("jobs-shown").textContent = `${shown.length} of the latest ${state.jobs.length}`;
}

/** Put a job at the top at once (the next poll brings the stored version). */
function upsertJob(job) {
  state.jobs = [job, ...state.jobs.filter((j) => j.id !== job.id)];
  renderJobs();
}

// ---- job panel ----------------------------------------------------------------------------

const FIELDS = [
  ["id", "ID"], ["type", "Type"], ["recipient", "Recipient"], ["message", "Message"], ["metadata", "Metadata"],
  ["status", "Status"], ["attempts", "Attempts"], ["maxAttempts", "Max attempts"], ["lastError", "Last error"],
  ["createdAt", "Created"], ["updatedAt", "Updated"],
];

function renderDetail(job, logs) {
  $("detail-title").textContent = `Job ${shortId(job.id)}`;
  const items = [];
  for (const [key, label] of FIELDS) {
    const value = key === "status" ? badge(job.status) : el(key === "metadata" || key === "message" ? "pre" : "span", { text: display(job[key]) });
    items.push(el("dt", { text: label }), el("dd", { "data-field": key, className: key === "lastError" && job.lastError ? "error-text" : null }, value));
  }
  $("detail-fields").replaceChildren(...items);
  if (!logs) return;
  $("detail-timeline").replaceChildren(
    ...logs.map((entry) =>
      el(
        "li",
        { "data-event": entry.event },
        el("span", { className: `event event-${entry.event}`, text: entry.event }),
        el("time", { datetime: entry.createdAt, title: exactTime(entry.createdAt), text: `${entry.createdAt} · ${relativeTime(entry.createdAt)}` }),
        Object.keys(entry.details || {}).length ? el("pre", { className: "details", text: display(entry.details) }) : null,
      ),
    ),
  );
}

async function refreshDetail() {
  const job = state.jobs.find((j) => j.id === state.openId);
  if (!job) return;
  try {
    const logs = await api.jobLogs(job.id);
    if (state.openId === job.id) {
      renderDetail(job, logs);
      $("detail-error").textContent = "";
    }
  } catch (error) {
    $("detail-error").textContent = `Timeline unavailable: ${error.message}`;
  }
}

function openJob(id) {
  state.openId = id;
  const job = state.jobs.find((j) => j.id === id);
  $("detail").hidden = false;
  $("detail-timeline").replaceChildren();
  if (job) renderDetail(job, null);
  renderJobs();
  refreshDetail();
  $("detail-close").focus();
}

function closeJob() {
  state.openId = null;
  $("detail").hidden = true;
  renderJobs();
}

// ---- send form ----------------------------------------------------------------------------

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

async function onSend(event) {
  event.preventDefault();
  clearFieldErrors();
  const form = event.currentTarget;
  const payload = { type: form.type.value, recipient: form.recipient.value, message: form.message.value };
  $("send").disabled = true;
  $("send-result").textContent = "Sending…";
  try {
    const created = await api.createJob(payload);
    upsertJob({ ...payload, metadata: {}, lastError: null, updatedAt: created.createdAt, ...created });
    $("send-result").textContent = `Accepted as ${shortId(created.id)} (${created.status})`;
    form.message.value = "";
    poller.now();
  } catch (error) {
    $("send-result").textContent = "";
    if (error instanceof ApiError && error.kind === "unauthorized") {
      setKeyState(api.key ? "rejected" : "required");
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

// ---- wiring -------------------------------------------------------------------------------

async function tick() {
  const [jobs, stats] = await Promise.all([api.listJobs(), api.stats()]);
  state.jobs = Array.isArray(jobs) ? jobs : [];
  renderJobs();
  renderStats(stats || {});
  if (state.openId) await refreshDetail();
}

const pollMs = Number.parseInt(meta("wavecom-poll-ms"), 10) || 2000;
const poller = new Poller(tick, pollMs, onPollState);

$("api-key").value = api.key;
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  api.setKey($("api-key").value);
  setKeyState(api.key ? "saved" : "none");
  $("key-state").textContent = api.key ? "key saved" : "";
  poller.now();
});
$("key-clear").addEventListener("click", () => {
  $("api-key").value = "";
  api.setKey("");
  setKeyState("none");
  poller.now();
});
$("retry-now").addEventListener("click", () => poller.now());
$("send-form").addEventListener("submit", onSend);
$("filter-status").addEventListener("change", renderJobs);
$("filter-type").addEventListener("change", renderJobs);
$("detail-close").addEventListener("click", closeJob);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.openId) closeJob();
});
poller.start();
