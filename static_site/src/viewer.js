// The viewer: a read-only Monaco model that follows the stream. Edits go in with the model's
// applyEdits, in version order (versions.js), so typing and undo cannot touch the text.

import { monaco } from './monaco.js';
import { applyDelta, replaceText, toRanges, EditError } from './edits.js';
import { Link } from './link.js';
import { VersionTracker } from './versions.js';
import { TYPES, controlRoom, syncRequest } from './protocol.js';
import { ui, languageInfo } from './ui.js';

const SYNC_EVERY_MS = 1000;
const UNNEGOTIATED_GAP_MS = 1000; // a server whose negotiate sends no limits (the tutorial's)
const CHECK_EVERY_MS = 250;
const NEVER_GROWS = monaco.editor.TrackedRangeStickiness.NeverGrowsWhenTypingAtEdges;

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
    this.decorations = editor.createDecorationsCollection();
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
      onJoined: () => this.joined(),
      onMessage: (message) => this.received(message),
      onStatus: () => this.showStatus(),
      onTrouble: (text) => ui.notice(text),
      onRefused: (error) => ui.notice(`This link does not open a stream (${error.message || error.code}).`),
    });
    this.follow = ui.$('follow');
    this.follow.addEventListener('change', () => this.drawCursor());
    ui.$('download').addEventListener('click', () => this.download());
    setInterval(() => this.checkGap(), CHECK_EVERY_MS);
  }

  // Every join starts again from the server's snapshot, which follows the ack at once: after a
  // server restart the writer's numbering may have started over.
  joined() {
    this.tracker = new VersionTracker();
    this.joinedAt = performance.now();
    this.showStatus();
  }

  received(message) {
    if (message.type === TYPES.EDITOR_MESSAGE) this.stream(message.data ?? {});
    else if (message.type === TYPES.PRESENCE) this.presence(message);
    else if (message.type === TYPES.ERROR) console.warn('codestream: refused:', message.code, message.message);
  }

  presence(message) {
    ui.setViewers(message.viewers);
    this.writerOnline = message.writer === 'online';
    this.showStatus();
  }

  showStatus() {
    const status = this.link.status;
    ui.setStatus(status === 'live' && this.writerOnline === false ? 'writer offline' : status);
  }

  stream(data) {
    if (data.type === TYPES.FULL) this.full(data);
    else if (data.type === TYPES.DELTA) this.delta(data);
    else if (data.type === TYPES.CURSOR) this.cursor = data;
    else if (data.type === TYPES.LANGUAGE) this.setLanguage(data.language);
    this.drawCursor();
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
    const decorations = [];
    for (const { anchor, head } of toRanges(this.model, cursor.selections)) {
      const range = monaco.Range.fromPositions(anchor, head);
      if (!range.isEmpty()) {
        decorations.push({ range, options: { className: 'writer-selection', stickiness: NEVER_GROWS } });
      }
      decorations.push({
        range: monaco.Range.fromPositions(head, head),
        options: { beforeContentClassName: 'writer-cursor', stickiness: NEVER_GROWS, hoverMessage: { value: 'the writer' } },
      });
    }
    this.decorations.set(decorations);
    const head = toRanges(this.model, cursor.selections.slice(-1))[0]?.head;
    if (this.follow.checked && head) this.editor.revealPositionInCenterIfOutsideViewport(head);
  }

  download() {
    const { extension } = languageInfo(this.model.getLanguageId());
    const blob = new Blob([this.model.getValue()], { type: 'text/plain;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `codestream${extension}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}
