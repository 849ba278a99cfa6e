// The viewer: a read-only Monaco model that follows the stream. Edits go in with the model's
// applyEdits, in version order (versions.js), so typing and undo cannot touch the text.

import { monaco } from './monaco.js';
import { applyDelta, replaceText, EditError } from './edits.js';
import { drawWriterCursor } from './cursor.js';
import { Link } from './link.js';
import { VersionTracker } from './versions.js';
import { TYPES, controlRoom, syncRequest } from './protocol.js';
import { ui, languageInfo } from './ui.js';
import { Timeline } from './timeline.js';
import { PastModel } from './pastmodel.js';
import { ApiError, download, exportFile, loadHistory } from './api.js';
import { ReplayError } from './replay.js';

const SYNC_EVERY_MS = 1000;
const UNNEGOTIATED_GAP_MS = 1000; // a server whose negotiate sends no limits (the tutorial's)
const CHECK_EVERY_MS = 250;
const REFRESH_EVERY_MS = 15_000; // while live, the timeline's end catches up with the stream
const JOIN_READ_SPREAD_MS = 1000;

export function startViewer({ config, editor, roomId }) {
  quietLanguageServices();
  const model = monaco.editor.createModel('', 'plaintext');
  editor.setModel(model);
  editor.updateOptions({
    readOnly: true,
    domReadOnly: true,
    readOnlyMessage: { value: 'You are watching: only the writer can type here.' },
  });
  const viewer = new Viewer(config, editor, model, roomId);
  viewer.link.start();
  return viewer;
}

// A read-only viewer of something that is no live stream (a recording): no language services.
export function readOnly(editor) {
  quietLanguageServices();
  editor.updateOptions({
    readOnly: true,
    domReadOnly: true,
    readOnlyMessage: { value: 'This is a recording: nobody types here.' },
  });
}

// A read-only copy needs no completions, hovers or squiggles: leaving the language services
// off spares every viewer (phones too) the language workers, TypeScript's alone being 7 MB.
function quietLanguageServices() {
  const off = {};
  for (const defaults of [
    monaco.typescript?.typescriptDefaults,
    monaco.typescript?.javascriptDefaults,
    monaco.css?.cssDefaults,
    monaco.css?.scssDefaults,
    monaco.css?.lessDefaults,
    monaco.html?.htmlDefaults,
    monaco.html?.handlebarDefaults,
    monaco.html?.razorDefaults,
  ]) {
    defaults?.setModeConfiguration(off);
  }
  monaco.json?.jsonDefaults?.setModeConfiguration({ tokens: true }); // JSON's colours come from its mode
}

class Viewer {
  constructor(config, editor, model, roomId) {
    Object.assign(this, { editor, model, roomId });
    this.tracker = new VersionTracker();
    this.cursor = null; // the writer's last cursor message
    this.cursorIds = [];
    this.apiBase = config.apiBaseUrl;
    this.past = new PastModel();
    this.views = new Map(); // model -> its scroll, kept while the other one is shown
    this.ended = null; // when the stream ended (seconds since the epoch), once it has
    this.expiresAt = null;
    this.loading = null; // the history request under way
    this.writerOnline = null;
    this.joinedAt = 0;
    this.lastSync = -Infinity;
    this.stats = { fulls: 0, deltas: 0, syncRequests: 0 }; // read by the browser tests
    this.apply = (delta) => {
      applyDelta(model, delta);
      this.stats.deltas += 1;
    };
    this.link = new Link({
      apiBase: config.apiBaseUrl,
      params: () => ({ room_id: roomId }),
      onGrant: (grant) => this.granted(grant),
      onJoined: (ack) => this.joined(ack),
      onMessage: (message) => this.received(message),
      onStatus: () => this.showStatus(),
      onTrouble: (text) => ui.notice(text),
      onRefused: (error) => ui.notice(`This link does not open a stream (${error.message || error.code}).`),
    });
    this.follow = ui.$('follow');
    this.follow.addEventListener('change', () => this.drawCursor());
    ui.$('download').addEventListener('click', () => this.download());
    this.abort = new AbortController();
    this.timeline = new Timeline(this, { live: true, signal: this.abort.signal });
    this.timers = [
      setInterval(() => this.checkGap(), CHECK_EVERY_MS),
      setInterval(() => this.catchUp(), REFRESH_EVERY_MS),
    ];
  }

  granted(grant) {
    if (grant.expires_at) this.expiresAt = grant.expires_at;
    if (grant.ended) this.streamEnded(grant.ended_at ?? null);
  }

  // Every join starts again from the server's snapshot, which follows the ack at once: after a
  // server restart the writer's numbering may have started over.
  joined(ack) {
    this.tracker = new VersionTracker();
    this.joinedAt = performance.now();
    if (ack?.expires_at) this.expiresAt = ack.expires_at;
    if (ack?.ended_at) this.streamEnded(ack.ended_at);
    this.showStatus();
    // Spread the reads of viewers who joined together (a server restart brings them all back).
    setTimeout(() => this.refresh(), Math.random() * JOIN_READ_SPREAD_MS);
  }

  received(message) {
    if (message.type === TYPES.EDITOR_MESSAGE) this.stream(message.data ?? {});
    else if (message.type === TYPES.PRESENCE) this.presence(message);
    else if (message.type === TYPES.ENDED) this.streamEnded(message.at ?? Date.now() / 1000);
    else if (message.type === TYPES.DELETED) this.deleted();
    else if (message.type === TYPES.ERROR) console.warn('codestream: refused:', message.code, message.message);
  }

  // --- the timeline's host ---

  liveVersion() {
    return this.tracker.version;
  }

  showPast(state) {
    this.switchTo(this.past.model);
    const head = this.past.show(state);
    if (this.follow.checked && head) this.editor.revealPositionInCenterIfOutsideViewport(head);
  }

  showLive() {
    this.switchTo(this.model);
    ui.$('language-name').textContent = languageInfo(this.model.getLanguageId()).name;
    this.drawCursor();
  }

  // One editor, two models: the live one and the past one; each keeps its own scroll.
  switchTo(model) {
    const current = this.editor.getModel();
    if (current === model) return;
    this.views.set(current, this.editor.saveViewState());
    this.editor.setModel(model);
    const view = this.views.get(model);
    if (view) this.editor.restoreViewState(view);
  }

  // Load the history entries the timeline does not have yet. Entries of the last version it has
  // may have grown (cursors, markers), so ask from the version before and skip the ones it holds.
  refresh() {
    if (this.loading) return this.loading;
    this.loading = this.load().finally(() => (this.loading = null));
    return this.loading;
  }

  // A new marker: read the history until it holds it. The relayed marker may arrive before its
  // store keeps it (on Azure the room's entity records it just after the relay).
  async showMarker(marker) {
    const label = String(marker.label).trim();
    const count = () => this.timeline.markers.filter((m) => m.label === label).length;
    const before = count();
    for (let attempt = 0; attempt < 10 && count() === before; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 300));
      await this.refresh();
    }
  }

  async load() {
    try {
      await this.loadNew();
    } catch (error) {
      if (!(error instanceof ReplayError)) throw error;
      // Not the history this page holds the start of (a server that forgot it and began again):
      // read it all afresh.
      console.warn('codestream: the history changed under the timeline; reading it again:', error.message);
      this.timeline.reset();
      await this.loadNew();
    }
  }

  async loadNew() {
    const replay = this.timeline.replay;
    const last = replay.lastVersion;
    const after = replay.length && last > 0 ? last - 1 : null;
    let skip = replay.entries.filter((e) => after === null || e.version > after).length;
    try {
      await loadHistory(this.apiBase, this.roomId, after, (page) => {
        const fresh = page.entries.slice(skip);
        skip = Math.max(0, skip - page.entries.length);
        this.timeline.append(fresh);
        if (page.ended && !this.ended) this.streamEnded(page.ended_at ?? null);
        if (page.expires_at) this.expiresAt = page.expires_at;
      });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      console.warn('codestream: the history did not load:', error.status, error.message);
    }
  }

  // While the viewer is away from live and the stream moved on, or every so often.
  catchUp() {
    if (this.ended === null && (this.tracker.version ?? 0) > this.timeline.replay.lastVersion) this.refresh();
  }

  // The stream ended: what the link opens from now on is the replay, at its end.
  async streamEnded(at) {
    if (this.ended !== null) return;
    this.ended = at ?? Date.now() / 1000;
    this.showStatus();
    await this.refresh();
    this.timeline.end();
  }

  // Another recording opened in this page.
  stop() {
    this.abort.abort();
    for (const timer of this.timers) clearInterval(timer);
    this.timeline.pause();
    this.link.stop('replay');
  }

  deleted() {
    for (const timer of this.timers) clearInterval(timer);
    this.timeline.pause();
    ui.$('timeline').hidden = true;
    this.switchTo(this.model);
    this.model.setValue('');
    this.past.model.setValue('');
    ui.setStatus('deleted');
    ui.notice('This stream was deleted by its writer: its text and its history are gone.');
  }

  async export() {
    await this.refresh();
    const file = exportFile({
      roomId: this.roomId,
      endedAt: this.ended,
      expiresAt: this.expiresAt,
      entries: this.timeline.replay.entries,
    });
    download(`codestream-${this.roomId}.json`, new Blob([JSON.stringify(file)], { type: 'application/json' }));
  }

  presence(message) {
    ui.setViewers(message.viewers);
    this.writerOnline = message.writer === 'online';
    this.showStatus();
  }

  showStatus() {
    const status = this.link.status;
    if (status === 'deleted') return;
    if (this.ended !== null && status === 'live') ui.setStatus('ended');
    else ui.setStatus(status === 'live' && this.writerOnline === false ? 'writer offline' : status);
  }

  stream(data) {
    if (data.type === TYPES.FULL) this.full(data);
    else if (data.type === TYPES.DELTA) this.delta(data);
    else if (data.type === TYPES.CURSOR) this.cursor = data;
    else if (data.type === TYPES.LANGUAGE) this.setLanguage(data.language);
    else if (data.type === TYPES.MARKER) this.showMarker(data);
    this.drawCursor();
    if (!this.timeline.atLive) this.timeline.render(); // "N edits behind" counts on
  }

  full(data) {
    if (typeof data.content !== 'string' || !Number.isInteger(data.version)) return;
    if (!this.tracker.acceptsFull(data.version)) return;
    replaceText(this.model, data.content);
    this.stats.fulls += 1;
    if (data.language) this.setLanguage(data.language);
    this.guard(() => this.tracker.onFull(data.version, this.apply, data.numbering ?? null));
  }

  delta(data) {
    if (!Number.isInteger(data.version)) return;
    const now = performance.now();
    this.guard(() => this.tracker.onDelta(data.version, data, this.apply, now));
  }

  // A delta that does not fit our text means we missed something: drop the base, ask for all.
  guard(step) {
    try {
      step();
    } catch (error) {
      if (!(error instanceof EditError)) throw error;
      console.warn('codestream: a delta did not fit; asking for the whole text', error);
      this.tracker.version = null;
      this.tracker.reset();
      this.askSync();
    }
  }

  checkGap() {
    if (!this.link.joined) return;
    const now = performance.now();
    const gap_timeout = this.link.limits.gap_timeout_seconds;
    const gapMs = gap_timeout === undefined ? UNNEGOTIATED_GAP_MS : 1000 * gap_timeout;
    const gap = this.tracker.gapAge(now) > gapMs;
    const noBase = !this.tracker.hasBase() && now - this.joinedAt > gapMs;
    if ((gap || noBase) && now - this.lastSync > SYNC_EVERY_MS) this.askSync();
  }

  askSync() {
    if (!this.link.send(syncRequest(), controlRoom(this.roomId))) return;
    this.lastSync = performance.now();
    this.stats.syncRequests += 1;
  }

  setLanguage(language) {
    if (typeof language !== 'string' || !language) return;
    monaco.editor.setModelLanguage(this.model, language);
    ui.$('language-name').textContent = languageInfo(language).name;
  }

  // The writer's selections as decorations: a highlighted range and a caret at the head.
  drawCursor() {
    const cursor = this.cursor;
    const version = this.tracker.version;
    if (!cursor || !Array.isArray(cursor.selections) || version === null || cursor.version > version) return;
    const { ids, head } = drawWriterCursor(this.model, this.cursorIds, cursor.selections);
    this.cursorIds = ids;
    if (this.follow.checked && head && this.editor.getModel() === this.model) {
      this.editor.revealPositionInCenterIfOutsideViewport(head);
    }
  }

  // The text on screen (live or past) as a file.
  download() {
    const model = this.editor.getModel();
    const { extension } = languageInfo(model.getLanguageId());
    download(`codestream${extension}`, new Blob([model.getValue()], { type: 'text/plain;charset=utf-8' }));
  }
}
