// Polling that makes at most one request a second, whatever the page shows: the things to keep
// fresh (the jobs, the totals, an open job's story) are tasks, and each turn runs the one that
// ran longest ago, a second after the page's last request. It pauses while the tab is hidden and
// backs off while the API fails.

const MAX_BACKOFF_MS = 30000;

export class Poller {
  /** `api.lastRequestAt` spaces the turns; `onState(state, detail)` hears "ok", "paused",
   * "failing" and "stopped". */
  constructor(api, spacingMs, onState) {
    this.api = api;
    this.spacingMs = spacingMs;
    this.onState = onState;
    this.tasks = new Map(); // name -> async function
    this.lastRun = new Map(); // name -> when it last ran
    this.failures = 0;
    this.timer = null;
    this.countdown = null;
    this.running = false;
    this.stopped = true;
    document.addEventListener("visibilitychange", () => this.onVisibility());
  }

  /** Keep `name` fresh with `run` (replacing what it did before). */
  set(name, run) {
    if (!this.tasks.has(name)) this.lastRun.set(name, 0);
    this.tasks.set(name, run);
  }

  drop(name) {
    this.tasks.delete(name);
    this.lastRun.delete(name);
  }

  /** Run `name` at the next turn (its data is known to be stale). */
  soon(name) {
    if (this.tasks.has(name)) this.lastRun.set(name, 0);
  }

  /** Mark `name` as just refreshed (the page fetched it itself). */
  fresh(name) {
    if (this.tasks.has(name)) this.lastRun.set(name, Date.now());
  }

  /** How long one round of every task takes, in seconds. */
  get cycleSeconds() {
    return Math.max(1, this.tasks.size) * Math.round(this.spacingMs / 1000);
  }

  /** Start (or restart after a stop or a failure): the next turn as soon as spacing allows. */
  start() {
    this.stopped = false;
    this.failures = 0;
    this.schedule();
  }

  /** No more turns until `start()` (no key, or a rejected one: asking again cannot help). */
  stop() {
    this.stopped = true;
    this.clearTimers();
    this.onState("stopped");
  }

  clearTimers() {
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    this.timer = null;
    this.countdown = null;
  }

  schedule(delay = null) {
    this.clearTimers();
    if (this.stopped) return;
    if (document.hidden) {
      this.onState("paused");
      return;
    }
    const wait = delay ?? Math.max(0, this.api.lastRequestAt + this.spacingMs - Date.now());
    this.timer = setTimeout(() => this.turn(), wait);
  }

  onVisibility() {
    if (this.stopped) return;
    if (document.hidden) {
      this.clearTimers();
      this.onState("paused");
    } else {
      this.schedule();
    }
  }

  /** The task that ran longest ago. */
  next() {
    let best = null;
    for (const name of this.tasks.keys()) {
      if (best === null || this.lastRun.get(name) < this.lastRun.get(best)) best = name;
    }
    return best;
  }

  async turn() {
    if (this.running || this.stopped) return;
    const spacing = this.api.lastRequestAt + this.spacingMs - Date.now();
    if (spacing > 0) {
      this.schedule(spacing); // the page asked something itself meanwhile
      return;
    }
    const name = this.next();
    if (name === null) {
      this.schedule(this.spacingMs);
      return;
    }
    this.running = true;
    this.lastRun.set(name, Date.now());
    let error = null;
    try {
      await this.tasks.get(name)();
      this.failures = 0;
    } catch (e) {
      error = e;
      this.failures += 1;
      this.lastRun.set(name, 0); // tried first when the API answers again
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (document.hidden) {
      this.onState("paused");
      return;
    }
    if (!error) {
      this.onState("ok");
      this.schedule();
      return;
    }
    const delay = Math.min(MAX_BACKOFF_MS, this.spacingMs * 2 ** Math.min(this.failures, 5));
    const due = Date.now() + delay;
    const report = () => this.onState("failing", { error, retryIn: Math.max(0, Math.ceil((due - Date.now()) / 1000)) });
    report();
    if (this.stopped) return; // the listener stopped the poller: a key problem, which waiting cannot mend
    this.countdown = setInterval(report, 1000);
    this.timer = setTimeout(() => {
      clearInterval(this.countdown);
      this.turn();
    }, delay);
  }
}
