// Adaptive pacing: send at once when the line is idle, coalesce only while edits come faster
// than the window. The tutorial flushed on a fixed 200 ms timer, so every keystroke waited.

export class Pacer {
  constructor(windowMs, flush, now = () => performance.now()) {
    this.windowMs = windowMs;
    this.flush = flush;
    this.now = now;
    this.last = -Infinity;
    this.scheduled = false;
  }

  // Something changed: flush now if the window since the last send has passed, else at its end.
  poke() {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.last + this.windowMs - this.now();
    // Even "now" is a microtask: a keystroke's cursor event follows its content event.
    if (wait <= 0) queueMicrotask(() => this.run());
    else setTimeout(() => this.run(), wait);
  }

  run() {
    this.scheduled = false;
    this.last = this.now();
    this.flush();
  }
}
