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

export class Api {
  constructor(base) {
    this.base = base;
    this.key = loadKey();
  }

  setKey(key) {
    this.key = key.trim();
    saveKey(this.key);
  }

  async request(path, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json, application/problem+json" };
    if (this.key) headers.Authorization = `Bearer ${this.key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(this.base + path, {
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
    if (response.ok) return data;
    if (response.status === 401 || response.status === 403) throw new ApiError("unauthorized", response.status, data);
    throw new ApiError("http", response.status, data);
  }

  listJobs() {
    return this.request("/api/notifications");
  }

  stats() {
    return this.request("/api/stats");
  }

  jobLogs(id) {
    return this.request(`/api/notifications/${encodeURIComponent(id)}/logs`);
  }

  createJob(payload) {
    return this.request("/api/notifications", { method: "POST", body: payload });
  }
}
