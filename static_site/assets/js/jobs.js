// The jobs table: what the view asks for (filters, a recipient, or one job id), fetched from the
// API, never filtered from rows already loaded. The newest page is refreshed by the poller; "Load
// more" follows the `Link` cursor and the pages it brings keep the state they were read in.

import { ApiError } from "./api.js";
import { badge, el, openButton, relativeTime } from "./dom.js";
import { looksLikeJobId } from "./view.js";

const $ = (id) => document.getElementById(id);

/** Newest first: by creation time, then by id (ObjectIds of one millisecond). */
function newerFirst(a, b) {
  return b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);
}

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

export class JobsTable {
  /** `onOpen(id, job)` opens a job; `onRows()` hears every change of the rows. */
  constructor({ api, onOpen, onRows }) {
    Object.assign(this, { api, onOpen, onRows });
    this.view = { status: "", type: "", q: "", job: "" };
    this.rows = [];
    this.head = new Set(); // ids of the newest page, which every refresh reads again
    this.next = null; // the page after the last one loaded
    this.byId = false; // the search is a job id that exists
    this.notAnId = null; // a search of a job id's form that no job has
    this.openId = null;
    this.loaded = false;
    $("load-more").addEventListener("click", () => this.loadMore());
  }

  /** Show what `view` asks for, from the first page. */
  async show(view) {
    this.view = view;
    this.rows = [];
    this.head = new Set();
    this.next = null;
    this.loaded = false;
    this.render();
    await this.refresh();
  }

  /** The filters the API is asked for. */
  filters() {
    const { status, type, q } = this.view;
    return { status, type, recipient: q };
  }

  /** Read the newest page again (the poller's task), keeping older pages already loaded. */
  async refresh() {
    const view = this.view;
    if (view.q && looksLikeJobId(view.q) && this.notAnId !== view.q) {
      try {
        const job = await this.api.getJob(view.q);
        if (view !== this.view) return;
        this.byId = true;
        this.rows = [job];
        this.head = new Set([job.id]);
        this.next = null;
        this.loaded = true;
        this.render();
        return;
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
        this.byId = false; // no such job: perhaps a recipient (a device token) of this form
        this.notAnId = view.q; // later polls of this view ask for the recipient only
      }
    }
    const page = await this.api.listJobs(this.filters());
    if (view !== this.view) return;
    const head = page.jobs;
    const oldest = head[head.length - 1];
    const inHead = new Set(head.map((j) => j.id));
    const older = oldest ? this.rows.filter((j) => !inHead.has(j.id) && newerFirst(oldest, j) < 0) : [];
    if (!older.length) this.next = page.next;
    this.rows = [...head, ...older];
    this.head = inHead;
    this.loaded = true;
    this.render();
  }

  async loadMore() {
    if (!this.next) return;
    const view = this.view;
    $("load-more").disabled = true;
    try {
      const page = await this.api.listJobs({}, this.next);
      if (view !== this.view) return;
      const known = new Set(this.rows.map((j) => j.id));
      this.rows = [...this.rows, ...page.jobs.filter((j) => !known.has(j.id))];
      this.next = page.next;
      this.render();
      $("jobs-body").querySelectorAll("tr")[this.rows.length - page.jobs.length]?.querySelector("button.open")?.focus();
    } catch (error) {
      $("jobs-note").textContent = `More jobs could not be loaded: ${error.message}`;
      if (error instanceof ApiError && error.kind === "unauthorized") throw error;
    } finally {
      $("load-more").disabled = false;
    }
  }

  /** Whether the poller keeps this job fresh (it is on the newest page). */
  isLive(id) {
    return this.head.has(id);
  }

  job(id) {
    return this.rows.find((j) => j.id === id) || null;
  }

  /** Put a newer version of a job in its row (an action's answer, the drawer's read). */
  update(job) {
    const index = this.rows.findIndex((j) => j.id === job.id);
    if (index >= 0) {
      this.rows[index] = { ...this.rows[index], ...job };
      this.render();
    }
  }

  /** A job just accepted: at the top when the view would list it. */
  add(job) {
    const { status, type, q } = this.view;
    if ((status && job.status !== status) || (type && job.type !== type) || (q && q !== job.recipient)) return;
    this.rows = [job, ...this.rows.filter((j) => j.id !== job.id)];
    this.head.add(job.id);
    this.render();
  }

  clear() {
    this.rows = [];
    this.head = new Set();
    this.next = null;
    this.loaded = false;
    this.render();
  }

  row(job, now) {
    const open = openButton(job.id);
    open.addEventListener("click", (event) => {
      event.stopPropagation();
      this.onOpen(job.id, job);
    });
    const classes = [job.status === "failed" ? "failed" : null, job.id === this.openId ? "open" : null].filter(Boolean);
    const row = el("tr", { "data-job-id": job.id, "data-job-status": job.status, className: classes.join(" ") || null });
    row.append(
      el("td", { className: "id" }, open, copyButton(job.id)),
      el("td", { className: "type", text: job.type }),
      el("td", { className: "recipient", title: job.recipient, text: job.recipient }),
      el("td", { className: "status" }, badge(job.status)),
      el("td", { className: "attempts", text: `${job.attempts} / ${job.maxAttempts}` }),
      el("td", { className: "created" }, el("time", { datetime: job.createdAt, title: `${job.createdAt} (UTC)`, text: relativeTime(job.createdAt, now) })),
    );
    row.addEventListener("click", () => this.onOpen(job.id, job));
    return row;
  }

  render() {
    const now = Date.now();
    if (this.loaded) $("jobs-note").textContent = "";
    const focused = document.activeElement?.closest?.("tr")?.dataset.jobId;
    $("jobs-body").replaceChildren(...this.rows.map((job) => this.row(job, now)));
    if (focused) $("jobs-body").querySelector(`tr[data-job-id="${focused}"] button.open`)?.focus();
    const { status, type, q } = this.view;
    const filtered = Boolean(status || type || q);
    $("jobs-empty").hidden = !this.loaded || this.rows.length > 0;
    $("jobs-empty").textContent = q && looksLikeJobId(q) ? "No job has this id or this recipient."
      : filtered ? "No job matches these filters." : "No jobs yet. Send one with the form.";
    $("load-more").hidden = !this.next;
    const older = this.rows.length - this.head.size;
    $("jobs-shown").textContent = !this.loaded ? (this.api.key ? "Loading…" : "")
      : this.byId ? "The job with this id (filters do not apply to an id)"
      : `${this.rows.length.toLocaleString()} shown${this.next ? ", more older" : ""}${older > 0 ? ` · the newest ${this.head.size} update live` : ""}`;
    this.onRows();
  }
}
