// The timeline under the viewer's editor: a slider over the stream's time with the writer's
// markers, playback at 1x to 8x, and the way back to live. It holds the history (replay.js)
// and says what to show; the page (viewer.js, recording.js) shows it: `host.showPast(state)`,
// `host.showLive()`, `host.liveVersion()`.

import { Replay } from './replay.js';
import { ui } from './ui.js';

export const IDLE_LIMIT = 3; // seconds: a longer pause plays (and spans the slider) as this long
export const SPEEDS = Object.freeze([1, 2, 4, 8]);
const MAX_SAME_STEPS = 64; // identical texts stepped over at most, so a key press stays quick
const LEAD_IN = 0.5; // seconds before the first entry: the start of the slider shows the empty text
const PAGE_STEP = 10; // seconds, PageUp / PageDown

export class Timeline {
  // live: the stream may still grow (a live room); false for an ended stream or a file.
  // signal: aborted when the page drops this timeline (another recording opened).
  constructor(host, { live, signal }) {
    this.signal = signal;
    this.host = host;
    this.replay = new Replay();
    this.times = []; // per entry: seconds from the start, idle gaps shortened to IDLE_LIMIT
    this.markers = []; // {index, label}
    this.live = live;
    this.atLive = live; // showing the live text, not the past
    this.position = 0; // seconds from the start (shortened time) while in the past
    this.shown = null; // the state shown while in the past
    this.playing = false;
    this.speed = 1;
    this.frame = null;
    this.$ = {
      root: ui.$('timeline'),
      slider: ui.$('scrubber'),
      fill: ui.$('scrubber-fill'),
      thumb: ui.$('scrubber-thumb'),
      markers: ui.$('markers'),
      play: ui.$('play'),
      speed: ui.$('speed'),
      clock: ui.$('clock'),
      badge: ui.$('live-badge'),
      behind: ui.$('behind'),
      behindCount: ui.$('behind-count'),
      jump: ui.$('jump-live'),
      tip: Object.assign(document.createElement('span'), { className: 'marker-tip', hidden: true }),
    };
    this.$.tip.setAttribute('aria-hidden', 'true'); // the marker's own name says it
    this.$.root.hidden = false;
    this.bind();
    this.render();
  }

  get duration() {
    return this.times.length ? this.times[this.times.length - 1] : 0;
  }

  // --- the history ---

  // Entries at the end of the history, as the history API or a file gives them.
  append(entries) {
    if (!entries.length) return;
    const first = this.replay.length;
    this.replay.append(entries);
    let previous = first ? this.replay.entries[first - 1].at : entries[0].at;
    let time = first ? this.times[first - 1] : LEAD_IN;
    entries.forEach((entry, i) => {
      time += Math.min(Math.max(0, entry.at - previous), IDLE_LIMIT);
      previous = entry.at;
      this.times.push(time);
      if (entry.message.type === 'marker') this.markers.push({ index: first + i, label: entry.message.label });
    });
    this.drawMarkers();
    this.render();
  }

  // Forget the history read so far (it is read again from the start).
  reset() {
    this.goLive();
    this.replay = new Replay();
    this.times = [];
    this.markers = [];
    this.drawMarkers();
    this.render();
  }

  // The stream ended (or is a file): no more live; the end of the history is its end.
  end() {
    this.live = false;
    if (this.atLive || !this.shown) this.seek(this.duration);
    this.render();
  }

  // --- moving ---

  seek(position) {
    position = Math.max(0, Math.min(this.duration, position));
    if (this.live && position >= this.duration && !this.playing) {
      this.goLive();
      return;
    }
    this.position = position;
    this.showIndex(this.countAt(position));
  }

  // Show the text after the first `count` entries.
  showIndex(count) {
    this.atLive = false;
    this.shown = this.replay.stateAt(count);
    this.host.showPast(this.shown);
    this.render();
  }

  goLive() {
    this.pause();
    if (!this.live) return;
    this.atLive = true;
    this.shown = null;
    this.host.showLive();
    this.render();
  }

  // Step to the previous or next text change (arrow keys), with what came with it (its cursor).
  // A change that leaves the text as it was (a full the writer sent again) is stepped over.
  stepEdit(direction) {
    if (this.atLive && direction > 0) return;
    const entries = this.replay.entries;
    let count = this.atLive ? entries.length : this.countAt(this.position);
    const shown = this.replay.stateAt(count).content;
    for (let tries = 0; tries < MAX_SAME_STEPS; tries += 1) {
      let current = count - 1;
      while (current >= 0 && !isText(entries[current])) current -= 1; // the last text change shown
      let next = current + direction;
      while (next >= 0 && next < entries.length && !isText(entries[next])) next += direction;
      if (next < 0) return this.seek(0);
      if (next >= entries.length) return this.seek(this.duration);
      count = next + 1;
      while (count < entries.length && !isText(entries[count])) count += 1;
      if (direction > 0 && this.live && count >= entries.length) return this.goLive();
      if (this.replay.stateAt(count).content !== shown) break;
    }
    this.position = this.times[count - 1];
    this.showIndex(count);
  }

  // How many entries are at or before `position`.
  countAt(position) {
    let low = 0;
    let high = this.times.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.times[middle] <= position) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  // --- playing ---

  play() {
    if (this.atLive) return;
    if (this.position >= this.duration) this.seek(0); // at the end: from the start again
    this.playing = true;
    let last = performance.now();
    const tick = (now) => {
      if (!this.playing) return;
      const position = this.position + ((now - last) / 1000) * this.speed;
      last = now;
      if (position >= this.duration) return this.reachedEnd();
      this.position = position;
      const count = this.countAt(position);
      if (count !== this.shown?.index) this.showIndex(count);
      else this.render();
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
    this.render();
  }

  // The end of what was loaded: go on with what came since, or go live, or stop at the end.
  async reachedEnd() {
    this.position = this.duration;
    this.showIndex(this.replay.length);
    const before = this.replay.length;
    if (this.live) await this.host.refresh?.();
    if (!this.playing) return;
    if (this.replay.length > before) {
      this.play();
    } else if (this.live) {
      this.goLive();
    } else {
      this.pause();
    }
  }

  pause() {
    this.playing = false;
    cancelAnimationFrame(this.frame);
    this.render();
  }

  // --- the page ---

  bind() {
    const { slider, play, speed, jump } = this.$;
    const on = { signal: this.signal };
    speed.replaceChildren(...SPEEDS.map((s) => new Option(`${s}×`, String(s))));
    speed.addEventListener('change', () => (this.speed = Number(speed.value)), on);
    play.addEventListener('click', () => (this.playing ? this.pause() : this.play()), on);
    jump.addEventListener('click', () => this.goLive(), on);
    slider.addEventListener('keydown', (event) => this.key(event), on);
    slider.addEventListener('focus', () => this.host.refresh?.(), on);
    slider.addEventListener('pointerdown', (event) => this.press(event), on);
  }

  // A press on the slider, then dragging it: the text follows the pointer until it is let go.
  async press(event) {
    const slider = this.$.slider;
    slider.setPointerCapture(event.pointerId);
    slider.focus();
    this.pause();
    let last = event;
    let ready = false;
    const move = (e) => {
      last = e;
      if (ready) this.drag(e);
    };
    const up = () => {
      slider.removeEventListener('pointermove', move);
      slider.removeEventListener('pointerup', up);
      slider.removeEventListener('pointercancel', up);
    };
    slider.addEventListener('pointermove', move);
    slider.addEventListener('pointerup', up);
    slider.addEventListener('pointercancel', up);
    await this.fresh();
    ready = true;
    this.drag(last);
  }

  drag(event) {
    const box = this.$.slider.getBoundingClientRect();
    const fraction = Math.max(0, Math.min(1, (event.clientX - box.left) / box.width));
    this.seek(fraction * this.duration);
  }

  // Leaving live: first load what the stream did since the history was last read, so the
  // past starts from the present.
  async fresh() {
    if (this.live && this.atLive && (this.host.liveVersion() ?? 0) > this.replay.lastVersion) {
      await this.host.refresh?.();
    }
  }

  async key(event) {
    if (event.key === ' ' && !this.atLive) {
      event.preventDefault(); // Space plays and pauses, as in a video player
      this.playing ? this.pause() : this.play();
      return;
    }
    const moves = {
      ArrowLeft: () => this.stepEdit(-1),
      ArrowDown: () => this.stepEdit(-1),
      ArrowRight: () => this.stepEdit(1),
      ArrowUp: () => this.stepEdit(1),
      PageDown: () => this.seek(this.here() - PAGE_STEP),
      PageUp: () => this.seek(this.here() + PAGE_STEP),
      Home: () => this.seek(0),
      End: () => this.seek(this.duration),
    };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    this.pause();
    await this.fresh();
    move();
  }

  here() {
    return this.atLive ? this.duration : this.position;
  }

  drawMarkers() {
    const list = this.$.markers;
    list.replaceChildren();
    for (const { index, label } of this.markers) {
      const time = this.times[index];
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'marker';
      button.style.left = `${this.duration ? (100 * time) / this.duration : 0}%`;
      button.dataset.label = label;
      button.title = `${label} (${clock(time)})`;
      button.setAttribute('aria-label', `Marker: ${label}, at ${clock(time)}`);
      button.addEventListener('click', () => {
        this.pause();
        this.position = time;
        this.showIndex(index + 1);
      });
      const tip = () => this.showTip(button);
      for (const name of ['pointerenter', 'focus']) button.addEventListener(name, tip);
      for (const name of ['pointerleave', 'blur']) button.addEventListener(name, () => (this.$.tip.hidden = true));
      list.append(button);
    }
    list.append(this.$.tip);
  }

  // A marker's label above it while pointed at or focused.
  showTip(button) {
    const tip = this.$.tip;
    tip.textContent = button.dataset.label;
    tip.style.left = button.style.left;
    tip.hidden = false;
  }

  render() {
    const { slider, fill, thumb, play, clock: clockText, badge, behind, behindCount, root } = this.$;
    const duration = this.duration;
    const here = this.here();
    const percent = duration ? (100 * here) / duration : 100;
    fill.style.width = `${percent}%`;
    thumb.style.left = `${percent}%`;
    slider.setAttribute('aria-valuemin', '0');
    slider.setAttribute('aria-valuemax', String(Math.floor(duration)));
    slider.setAttribute('aria-valuenow', String(Math.floor(here)));
    slider.setAttribute('aria-valuetext', this.valueText(here));
    clockText.textContent = `${clock(here)} / ${clock(duration)}`;
    play.textContent = this.playing ? 'Pause' : 'Play';
    play.setAttribute('aria-label', this.playing ? 'Pause the replay' : 'Play from here');
    play.disabled = this.atLive || !this.replay.length;
    root.dataset.mode = this.atLive ? 'live' : 'past';
    badge.hidden = !(this.live && this.atLive);
    const ended = !this.live;
    behind.hidden = !this.live || this.atLive;
    if (this.live && !this.atLive) {
      const edits = Math.max(0, (this.host.liveVersion() ?? 0) - (this.shown?.version ?? 0));
      behindCount.textContent = `${edits} ${edits === 1 ? 'edit' : 'edits'} behind`;
    }
    root.dataset.ended = String(ended);
  }

  valueText(here) {
    if (this.atLive) return `live, ${clock(this.duration)} streamed`;
    const entry = this.replay.entries[Math.max(0, (this.shown?.index ?? 0) - 1)];
    const when = entry ? `, ${new Date(entry.at * 1000).toLocaleTimeString()}` : '';
    return `${clock(here)} of ${clock(this.duration)}${when}, version ${this.shown?.version ?? 0}`;
  }
}

const isText = (entry) => entry.message.type === 'delta' || entry.message.type === 'full';

// 75 -> "1:15", 3725 -> "1:02:05"
export function clock(seconds) {
  const s = Math.floor(seconds);
  const parts = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const [h, m, sec] = parts;
  const pad = (n) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}
