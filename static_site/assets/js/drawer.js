// The job drawer: every field (the message masked until asked for), the actions the job's status
// allows, each confirmed and answered, and its timeline, kept fresh by the poller.

import { ApiError } from "./api.js";
import { badge, display, duration, el, labelled, shortId, timeNode } from "./dom.js";
import { storyItems } from "./story.js";

const $ = (id) => document.getElementById(id);

export class Drawer {
  /** `states` says which statuses allow which action; `isLive(id)` whether the jobs list keeps
   * that job fresh; `onJob(job)` hears every newer version of the open job. */
  constructor({ api, poller, states, isLive, onJob, onClose, onAuthError }) {
    Object.assign(this, { api, poller, states, isLive, onJob, onClose, onAuthError });
    this.id = null;
    this.job = null;
    this.signature = "";
    this.revealed = false;
    this.opener = null;
    $("detail-close").addEventListener("click", () => this.close());
    $("action-retry").addEventListener("click", () => this.act("retry"));
    $("action-cancel").addEventListener("click", () => this.act("cancel"));
  }

  get openId() {
    return this.id;
  }

  /** Open job `id` (`job`: its fields, when the list has them). */
  open(id, job = null) {
    const again = id === this.id;
    this.id = id;
    if (!again) {
      this.revealed = false;
      this.signature = "";
      this.opener = document.activeElement;
      $("detail-timeline").replaceChildren();
      $("detail-webhooks").replaceChildren();
      $("detail-result").textContent = "";
      $("detail-error").textContent = "";
    }
    $("detail").hidden = false;
    if (job) this.show(job);
    else if (!again) this.clearFields(id);
    this.poller.set("logs", () => this.loadLogs());
    this.loadLogs().catch((e) => this.failed(e));
    if (!job || !this.isLive(id)) this.loadJob().catch((e) => this.failed(e)); // else the list keeps it fresh
    if (!again) $("detail-close").focus();
  }

  close() {
    const id = this.id;
    if (id === null) return;
    this.id = null;
    this.job = null;
    $("detail").hidden = true;
    this.poller.drop("logs");
    this.poller.drop("job");
    this.poller.drop("deliveries");
    // Back where the person was: the job's row (redrawn by a poll meanwhile, perhaps) or what they used.
    const row = document.querySelector(`#jobs-body tr[data-job-id="${CSS.escape(id)}"] button.open`);
    (row || (this.opener?.isConnected ? this.opener : null))?.focus();
    this.onClose();
  }

  /** A newer version of a job from elsewhere (the list). */
  update(job) {
    if (job.id === this.id) this.show(job);
  }

  failed(error) {
    if (error instanceof ApiError && error.kind === "unauthorized") return this.onAuthError(error);
    if (error instanceof ApiError && error.status === 404) {
      $("detail-error").textContent = "No job has this id (or it belongs to another tenant).";
      return;
    }
    $("detail-error").textContent = `Job unavailable: ${error.message}`;
  }

  async loadJob() {
    const id = this.id;
    const job = await this.api.getJob(id);
    this.poller.drop("job");
    if (id === this.id) {
      this.show(job);
      this.onJob(job);
    }
  }

  async loadLogs() {
    const id = this.id;
    if (id === null) return;
    const logs = await this.api.jobLogs(id);
    if (id !== this.id) return;
    $("detail-error").textContent = "";
    const last = logs[logs.length - 1];
    const signature = `${logs.length}:${last?.id}:${last?.details?.count ?? ""}`;
    if (signature === this.signature) return;
    const changed = this.signature !== "";
    this.signature = signature;
    $("detail-timeline").replaceChildren(...storyItems(logs));
    // Webhooks follow the events: read again, once, whenever the timeline changes.
    this.poller.set("deliveries", () => this.loadDeliveries());
    this.poller.soon("deliveries");
    // A new event means new fields; the list brings them when it holds the job, else ask.
    if (changed && !this.isLive(id)) {
      this.poller.set("job", () => this.loadJob());
      this.poller.soon("job");
    }
  }

  /** The open job's webhook deliveries: every try at every endpoint, newest first. */
  async loadDeliveries() {
    const id = this.id;
    if (id === null) return;
    const tries = await this.api.jobDeliveries(id);
    this.poller.drop("deliveries");
    if (id !== this.id) return;
    const items = tries.map((t) => el(
      "li",
      { "data-delivery": t.eventId, className: t.statusCode >= 200 && t.statusCode < 300 ? null : "bad" },
      el("span", { className: "event", text: t.type }),
      el("span", { className: "when" }, timeNode(t.at)),
      labelled([
        ["Endpoint", el("code", { text: t.webhookId })],
        ["Try", String(t.attempt)],
        ["Answer", t.statusCode === null ? "none" : `HTTP ${t.statusCode}`],
        ["Took", duration(t.durationMs ?? 0)],
        ...(t.error ? [["Error", t.error]] : []),
      ], "pairs details"),
    ));
    $("detail-webhooks").replaceChildren(...(items.length ? items
      : [el("li", { className: "muted", text: "No webhook deliveries for this job." })]));
  }

  clearFields(id) {
    $("detail-title").textContent = `Job ${shortId(id)}`;
    $("detail-fields").replaceChildren();
    $("action-retry").hidden = $("action-cancel").hidden = true;
  }

  show(job) {
    this.job = job;
    $("detail-title").textContent = `Job ${shortId(job.id)}`;
    $("action-retry").hidden = !this.states.retryable.includes(job.status) || Boolean(job.redacted);
    $("action-cancel").hidden = !this.states.cancellable.includes(job.status);
    const field = (key, label, value, className = null) => [
      el("dt", { text: label }),
      el("dd", { "data-field": key, className }, value),
    ];
    $("detail-fields").replaceChildren(
      ...field("id", "ID", el("code", { text: job.id })),
      ...field("type", "Type", job.type),
      ...field("recipient", "Recipient", display(job.recipient)),
      ...field("message", "Message", this.message(job)),
      ...field("metadata", "Metadata", Object.keys(job.metadata || {}).length
        ? labelled(Object.entries(job.metadata).map(([k, v]) => [k, display(v)]), "pairs") : "—"),
      ...field("status", "Status", badge(job.status)),
      ...field("priority", "Priority", job.priority ?? "normal"),
      ...(job.sendAt ? field("sendAt", "Send at", timeNode(job.sendAt)) : []),
      ...(job.expiresAt ? field("expiresAt", "Expires at", timeNode(job.expiresAt)) : []),
      ...(job.ttlSeconds ? field("ttlSeconds", "Time to live", duration(job.ttlSeconds * 1000)) : []),
      ...field("attempts", "Attempts", `${job.attempts} of ${job.maxAttempts}`),
      ...field("lastError", "Last error", display(job.lastError), job.lastError ? "error-text" : null),
      ...field("createdAt", "Created", timeNode(job.createdAt)),
      ...field("updatedAt", "Updated", timeNode(job.updatedAt)),
    );
  }

  /** The message, masked until the person asks to see it (one-time codes on a support screen). */
  message(job) {
    if (job.redacted) return el("span", { className: "muted", text: "Erased: this job is redacted" });
    const text = job.message ?? "";
    const toggle = el("button", { type: "button", className: "link", "aria-expanded": String(this.revealed),
      id: "reveal-message" }, this.revealed ? "Hide message" : "Reveal message");
    toggle.addEventListener("click", () => {
      this.revealed = !this.revealed;
      this.show(this.job);
      $("reveal-message").focus();
    });
    const body = this.revealed
      ? el("pre", { className: "message", text })
      : el("span", { className: "masked", text: `${"•".repeat(Math.min(12, Math.max(4, text.length)))} hidden, ${text.length} characters` });
    return el("div", { className: "message-box" }, body, toggle);
  }

  /** Retry or cancel the open job: confirmed first, then the API's answer shown. */
  async act(action) {
    const job = this.job;
    if (!job) return;
    const question = action === "retry"
      ? `Retry job ${shortId(job.id)} to ${job.recipient}? It is queued again with a fresh attempt budget.`
      : `Cancel job ${shortId(job.id)} to ${job.recipient}? It will not be sent.`;
    if (!window.confirm(question)) return;
    const result = $("detail-result");
    result.dataset.outcome = "";
    result.textContent = action === "retry" ? "Retrying…" : "Cancelling…";
    try {
      const after = await (action === "retry" ? this.api.retryJob(job.id) : this.api.cancelJob(job.id));
      result.dataset.outcome = "ok";
      result.textContent = action === "retry"
        ? `Retry accepted: the job is ${after.status}, attempt budget ${after.maxAttempts}.`
        : `Cancelled: the job is ${after.status} and will not be sent.`;
      if (after.id === this.id) this.show(after);
      this.onJob(after);
      this.poller.soon("logs");
    } catch (error) {
      if (error instanceof ApiError && error.kind === "unauthorized") return this.onAuthError(error);
      result.dataset.outcome = "refused";
      const why = error instanceof ApiError ? error.message : "The API could not be reached.";
      result.textContent = `${action === "retry" ? "Not retried" : "Not cancelled"}: ${why}`;
    }
  }
}
