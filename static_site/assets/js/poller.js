// Polling that pauses while the tab is hidden and backs off while the API fails.

const MAX_BACKOFF_MS = 30000;

export class Poller {
  /** `tick` is an async function; `onState(state, detail)` hears "ok", "paused" and "failing". */
  constructor(tick, intervalMs, onState) {
    this.tick = tick;
    this.intervalMs = intervalMs;
    this.onState = onState;
    this.failures = 0;
    this.timer = null;
    this.countdown = null;
    this.running = false;
    document.addEventListener("visibilitychange", () => this.onVisibility());
  }

  start() {
    this.now();
  }

  /** Poll at once (a new key, a click on "Retry now", the tab shown again). */
  now() {
    this.clearTimers();
    if (document.hidden) {
      this.onState("paused");
      return;
    }
    this.run();
  }

  clearTimers() {
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    this.timer = null;
    this.countdown = null;
  }

  onVisibility() {
    if (document.hidden) {
      this.clearTimers();
      this.onState("paused");
    } else {
      this.now();
    }
  }

  async run() {
    if (this.running) return;
    this.running = true;
    let error = null;
    try {
      await this.tick();
      this.failures = 0;
    } catch (e) {
      error = e;
      this.failures += 1;
    } finally {
      this.running = false;
    }
    if (document.hidden) {
      this.onState("paused");
      return;
    }
    if (!error) {
      this.onState("ok");
      this.timer = setTimeout(() => this.run(), this.intervalMs);
      return;
    }
    const delay = Math.min(MAX_BACKOFF_MS, this.intervalMs * 2 ** Math.min(this.failures, 5));
    const due = Date.now() + delay;
    const report = () => this.onState("failing", { error, retryIn: Math.max(0, Math.ceil((due - Date.now()) / 1000)) });
    report();
    this.countdown = setInterval(report, 1000);
    this.timer = setTimeout(() => {
      clearInterval(this.countdown);
      this.run();
    }, delay);
  }
}
