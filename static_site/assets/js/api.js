// The API client: one place that adds the key, decodes problems and names each failure.

const KEY_STORAGE = "wavecom.apiKey";

/** A request that did not succeed; `kind` is "unauthorized", "network" or "http". */
export class ApiError extends Error {
  constructor(kind, status, problem) {
    super(problem?.detail || (kind === "network" ? "The API could not be reached." : `HTTP ${status}`));
    this.kind = kind;
    this.status = status;
    this.problem = problem || null;
  }
}

export function loadKey() {
  try {
    return window.localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return ""; // storage disabled: the key lives for this page only
  }
}

export function saveKey(key) {
  try {
    if (key) window.localStorage.setItem(KEY_STORAGE, key);
    else window.localStorage.removeItem(KEY_STORAGE);
  } catch {
    /* storage disabled */
  }
}

/** The target of a `Link` header's rel="next" (RFC 8288), or null. */
export function nextLink(header) {
  const match = /<([^>]*)>\s*;\s*rel="?next"?/.exec(header || "");
  return match ? match[1] : null;
}

export class Api {
  /** `pageSize`: the jobs a list request asks for. */
  constructor(base, pageSize) {
    this.base = base;
    this.pageSize = pageSize;
    this.key = loadKey();
    this.lastRequestAt = 0; // when the page last asked the API anything (the poller spaces after it)
  }

  setKey(key) {
    this.key = key.trim();
    saveKey(this.key);
  }

  /** `{data, headers}` of a successful answer; ApiError otherwise. */
  async call(path, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json, application/problem+json" };
    if (this.key) headers.Authorization = `Bearer ${this.key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    this.lastRequestAt = Date.now();
    let response;
    try {
      response = await fetch(/^https?:/.test(path) ? path : this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError("network", 0, null);
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null; // a gateway's HTML error page, say
    }
    if (response.ok) return { data, headers: response.headers };
    if (response.status === 401 || response.status === 403) throw new ApiError("unauthorized", response.status, data);
    throw new ApiError("http", response.status, data);
  }

  async request(path, options) {
    return (await this.call(path, options)).data;
  }

  /** A page of jobs, newest first: `filters` {status, type, recipient}, or the `next` path of an
   * earlier page. Resolves to `{jobs, next}`. */
  async listJobs(filters = {}, next = null) {
    let path = next;
    if (!path) {
      const query = new URLSearchParams({ limit: String(this.pageSize) });
      for (const name of ["status", "type", "recipient"]) if (filters[name]) query.set(name, filters[name]);
      path = `/api/notifications?${query}`;
    }
    const { data, headers } = await this.call(path);
    return { jobs: Array.isArray(data) ? data : [], next: nextLink(headers.get("Link")) };
  }

  getJob(id) {
    return this.request(`/api/notifications/${encodeURIComponent(id)}`);
  }

  jobLogs(id) {
    return this.request(`/api/notifications/${encodeURIComponent(id)}/logs`);
  }

  jobDeliveries(id) {
    return this.request(`/api/notifications/${encodeURIComponent(id)}/deliveries`);
  }

  stats() {
    return this.request("/api/stats");
  }

  createJob(payload) {
    return this.request("/api/notifications", { method: "POST", body: payload });
  }

  retryJob(id) {
    return this.request(`/api/notifications/${encodeURIComponent(id)}/retry`, { method: "POST" });
  }

  cancelJob(id) {
    return this.request(`/api/notifications/${encodeURIComponent(id)}/cancel`, { method: "POST" });
  }

  /** POST /api/notifications/retry: `{matched, retried}` for the failed jobs `filter` selects. */
  retryFailed(filter, dryRun = false) {
    return this.request("/api/notifications/retry", { method: "POST", body: { status: "failed", ...filter, dryRun } });
  }
}
