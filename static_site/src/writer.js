// The writer: streams its Monaco model as numbered deltas (PROTOCOL.md), a full text when a
// delta cannot say it, its cursor, and its language.

import { monaco } from './monaco.js';
import { wireEvent, toWireSelections, replaceText } from './edits.js';
import { Link } from './link.js';
import { Pacer } from './pacer.js';
import { ui, languages } from './ui.js';
import { StreamControls } from './streamcontrols.js';
import {
  EVENTS,
  TYPES,
  cursorMessage,
  deltaMessage,
  fullMessage,
  isSyncRequest,
  languageMessage,
  markerMessage,
} from './protocol.js';

const SESSION_KEY = 'codestream.writer'; // {room_id, writer_key}: a reload resumes the room
const TEXT_KEY = 'codestream.text'; // {room_id, version, content, language}: survives a reload
const MAX_DELTA_UNITS = 256 * 1024; // past this a full costs about the same and is simpler
const MESSAGES_PER_FLUSH = 3; // a delta or full, a language, a cursor
const ERROR_FULL_COOLDOWN_MS = 1000;
const SAVE_EVERY_MS = 500;
const DEFAULT_LANGUAGE = 'javascript';

export function startWriter({ config, editor }) {
  const saved = readJson(SESSION_KEY);
  const text = readJson(TEXT_KEY);
  const restore = saved && text?.room_id === saved.room_id ? text : null;
  const model = monaco.editor.createModel(restore?.content ?? '', restore?.language ?? DEFAULT_LANGUAGE);
  model.setEOL(monaco.editor.EndOfLineSequence.LF); // one line ending for every writer's platform
  editor.setModel(model);
  const writer = new Writer(config, editor, model, restore?.version ?? 0);
  writer.link.start();
  return writer;
}

class Writer {
  constructor(config, editor, model, version) {
    Object.assign(this, { editor, model, version });
    this.pending = []; // Monaco change events not sent yet
    this.needFull = false;
    this.cursorDirty = true;
    this.languageDirty = false;
    this.viewers = 0; // as the last presence said
    this.firstJoin = true;
    this.adopting = false; // waiting for the server's text after a reload
    this.remote = false; // true while the page itself sets the text
    this.lastErrorFull = 0;
    this.pendingSince = null; // when the oldest unsent edit was made
    // Read by the browser tests; delayMs: how long the last edit sent waited for its send.
    this.stats = { deltas: 0, fulls: 0, cursors: 0, delayMs: 0, maxDelayMs: 0 };
    this.saveTimer = null;
    this.eol = model.getEOL();
    this.sendWindowMs = config.sendWindowMs;
    this.pacer = new Pacer(config.sendWindowMs, () => this.flush());
    this.ended = false; // the stream ended: the server takes nothing more from us
    this.controls = new StreamControls(this, config.apiBaseUrl);
    this.link = new Link({
      apiBase: config.apiBaseUrl,
      params: () => this.resumeParams(),
      onGrant: (grant) => this.granted(grant),
      onJoined: (ack) => this.joined(ack),
      onMessage: (message) => this.received(message),
      onStatus: (status) => ui.setStatus(this.ended && status === 'live' ? 'ended' : status),
      onTrouble: (text) => ui.notice(text),
      onRefused: (error) => this.refused(error),
    });
    this.setUpControls();
    model.onDidChangeContent((event) => this.changed(event));
    editor.onDidChangeCursorSelection(() => this.poke('cursor'));
    window.addEventListener('pagehide', () => this.save());
  }

  resumeParams() {
    const grant = this.link.grant ?? readJson(SESSION_KEY);
    return grant ? { room_id: grant.room_id, writer_key: grant.writer_key } : { lifetime: this.controls.lifetime };
  }

  granted(grant) {
    this.keepToRate(grant.limits?.messages_per_second);
    this.controls.granted(grant);
    if (grant.ended) this.streamEnded(grant.ended_at ?? null);
    sessionStorage.setItem(SESSION_KEY, JSON.stringify({ room_id: grant.room_id, writer_key: grant.writer_key }));
    const link = `${location.origin}${location.pathname}#${grant.room_id}`;
    ui.$('share-link').value = link;
    this.save();
  }

  // Never send faster than the server's rate limit allows, whatever the configured window.
  keepToRate(messagesPerSecond) {
    if (!(messagesPerSecond > 0)) return;
    const floor = Math.ceil((MESSAGES_PER_FLUSH * 1000) / messagesPerSecond);
    this.pacer.windowMs = Math.max(this.sendWindowMs, floor);
  }

  // The writer key no longer opens this room (the server's secret changed): start afresh.
  refused(error) {
    ui.notice(`This stream cannot be resumed (${error.message || error.code}); starting a new one.`);
    sessionStorage.removeItem(SESSION_KEY);
    sessionStorage.removeItem(TEXT_KEY);
    this.link.grant = null;
    setTimeout(() => this.link.renegotiate(), 1500);
  }

  // --- local edits ---

  changed(event) {
    if (this.remote) return;
    if (this.adopting) {
      this.adopting = false; // typed before the server's text came: ours wins
      this.needFull = true;
    }
    this.pending.push(event);
    this.pendingSince ??= performance.now();
    if (event.isFlush || event.eol !== this.eol) this.needFull = true;
    this.eol = event.eol;
    this.poke('content');
  }

  poke(what) {
    if (what === 'cursor') this.cursorDirty = true;
    if (what === 'content') this.scheduleSave();
    this.pacer.poke();
  }

  // --- sending ---

  flush() {
    if (!this.link.joined || this.adopting || this.ended) return; // kept; a (re)join sends the full text
    this.measureDelay();
    if (this.needFull || this.pending.some((e) => e.isFlush) || this.tooBig()) {
      this.sendFull();
    } else if (this.pending.length) {
      this.version += 1;
      this.link.send(deltaMessage(this.version, this.pending.map(wireEvent)));
      this.stats.deltas += 1;
      this.pending = [];
    }
    if (this.languageDirty) {
      this.languageDirty = false;
      this.link.send(languageMessage(this.model.getLanguageId()));
    }
    if (this.cursorDirty) {
      this.cursorDirty = false;
      const limit = this.link.limits.max_selections ?? Infinity;
      const selections = toWireSelections(this.model, (this.editor.getSelections() ?? []).slice(0, limit));
      this.link.send(cursorMessage(this.version, selections));
      this.stats.cursors += 1;
    }
  }

  measureDelay() {
    if (this.pendingSince === null) return;
    this.stats.delayMs = performance.now() - this.pendingSince;
    this.stats.maxDelayMs = Math.max(this.stats.maxDelayMs, this.stats.delayMs);
    this.pendingSince = null;
  }

  sendFull(atLeast = 0) {
    if (this.pending.length) this.version += 1;
    this.version = Math.max(this.version, atLeast);
    this.pending = [];
    this.needFull = false;
    this.languageDirty = false;
    this.stats.fulls += 1;
    // numbering: spares every viewer the guess (docs/PROTOCOL.md)
    this.link.send(fullMessage(this.version, this.model.getValue(), this.model.getLanguageId(), 'native'));
  }

  // A delta the server would refuse, or one that costs more than the full text: send the full.
  tooBig() {
    const { max_events_per_delta: maxEvents = Infinity, max_changes_per_event: maxChanges = Infinity } =
      this.link.limits;
    if (this.pending.length > maxEvents) return true;
    let units = 0;
    for (const event of this.pending) {
      if (event.changes.length > maxChanges) return true;
      for (const change of event.changes) units += change.text.length + 64;
    }
    return units > MAX_DELTA_UNITS;
  }

  // --- from the server ---

  // After each (re)join: agree with the server on the text. A reloaded page takes the
  // server's newer text; otherwise the page is the truth and pushes its text if they differ.
  joined(ack) {
    this.controls.granted(ack);
    if (ack.ended_at) this.streamEnded(ack.ended_at);
    const server = ack.version;
    if (this.firstJoin && server !== null && server > this.version && !this.pending.length) {
      this.adopting = true; // the server's full follows the ack
      setTimeout(() => this.stopAdopting(), 3000);
    } else if (this.pending.length || this.needFull || server === null || server !== this.version) {
      this.sendFull(server ?? 0);
    }
    this.firstJoin = false;
    this.cursorDirty = true;
    this.pacer.poke();
  }

  stopAdopting() {
    if (!this.adopting) return;
    this.adopting = false;
    this.needFull = true;
    this.pacer.poke();
  }

  received(message) {
    if (message.type === TYPES.PRESENCE) {
      ui.setViewers(message.viewers);
      this.viewerJoined(message.viewers);
    } else if (message.type === TYPES.EDITOR_MESSAGE) {
      this.editorMessage(message.data ?? {});
    } else if (message.type === TYPES.ERROR) {
      this.refusedMessage(message);
    } else if (message.type === TYPES.ENDED) {
      this.streamEnded(message.at);
    } else if (message.type === TYPES.DELETED) {
      this.deleted();
    }
  }

  // --- the stream's life ---

  // A marker at the text as it is now: what is typed but not sent yet goes first.
  mark(label) {
    if (!this.link.joined || this.ended) return false;
    this.flush();
    return this.link.send(markerMessage(this.version, label));
  }

  // Nothing typed, nothing streamed, nobody watching: starting again costs no one anything.
  isFresh() {
    return this.version === 0 && !this.pending.length && this.viewers === 0 && this.model.getValueLength() === 0;
  }

  // A new stream in place of this one (a new link), e.g. with another lifetime.
  restart() {
    sessionStorage.removeItem(SESSION_KEY);
    sessionStorage.removeItem(TEXT_KEY);
    this.link.grant = null;
    this.firstJoin = true;
    this.link.renegotiate();
  }

  // A recording opened in this page: stop streaming (a reload resumes the stream).
  stop() {
    this.save();
    this.link.stop('replay');
    this.ended = true;
  }

  export() {}

  streamEnded() {
    if (this.ended) return;
    this.ended = true;
    this.editor.updateOptions({ readOnly: true, readOnlyMessage: { value: 'This stream has ended.' } });
    this.controls.disable({ deleted: false });
    ui.setStatus('ended');
    ui.notice('');
  }

  deleted() {
    this.link.stop('deleted');
    this.streamEnded();
    this.controls.disable({ deleted: true });
    sessionStorage.removeItem(SESSION_KEY);
    sessionStorage.removeItem(TEXT_KEY);
    ui.$('share-link').value = '';
    ui.setStatus('deleted');
    ui.notice('Stream deleted: its text and history are gone. New stream starts another.');
  }

  // A viewer who joined may have got the room's text from before our last language change (on
  // Azure the room it read can lag what we sent): say the language again, one small message.
  viewerJoined(viewers) {
    if (viewers > this.viewers) {
      this.languageDirty = true;
      this.pacer.poke();
    }
    this.viewers = viewers;
  }

  editorMessage(data) {
    if (isSyncRequest(data)) {
      this.needFull = true; // a viewer (or the server) needs the whole text
      this.pacer.poke();
    } else if (data.type === TYPES.FULL && this.adopting) {
      this.adopt(data);
    }
  }

  adopt(full) {
    this.remote = true;
    try {
      replaceText(this.model, full.content);
      if (full.language) this.setLanguage(full.language, false);
    } finally {
      this.remote = false;
    }
    this.eol = this.model.getEOL();
    this.version = full.version;
    this.adopting = false;
    this.cursorDirty = true;
    this.scheduleSave();
    this.pacer.poke();
  }

  // A refused message means the server's text may now differ from ours: send all of it,
  // at most once a second so a refusal cannot turn into a loop.
  refusedMessage(message) {
    console.warn('codestream: the server refused a message:', message.code, message.message);
    if (message.event !== EVENTS.sendToRoom || this.ended) return;
    if (message.code === 'too_large') ui.notice(`Not streamed: ${message.message}`);
    const wait = Math.max(0, this.lastErrorFull + ERROR_FULL_COOLDOWN_MS - performance.now());
    setTimeout(() => {
      this.lastErrorFull = performance.now();
      this.needFull = true;
      this.pacer.poke();
    }, message.code === 'rate_limited' ? Math.max(wait, 1000) : wait);
  }

  // --- controls ---

  setUpControls() {
    const picker = ui.$('language');
    for (const { id, name } of languages()) picker.add(new Option(name, id));
    picker.value = this.model.getLanguageId();
    picker.addEventListener('change', () => this.setLanguage(picker.value, true));
    ui.$('copy-link').addEventListener('click', () => copyLink());
    ui.$('new-stream').addEventListener('click', () => {
      sessionStorage.removeItem(SESSION_KEY);
      sessionStorage.removeItem(TEXT_KEY);
      location.reload();
    });
  }

  setLanguage(language, announce) {
    monaco.editor.setModelLanguage(this.model, language);
    ui.$('language').value = language;
    this.scheduleSave();
    if (announce) {
      this.languageDirty = true;
      this.pacer.poke();
    }
  }

  scheduleSave() {
    if (this.saveTimer !== null) return;
    this.saveTimer = setTimeout(() => this.save(), SAVE_EVERY_MS);
  }

  // Kept in the tab's session storage so a reload during a server restart loses nothing.
  save() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    const room = this.link.grant?.room_id;
    if (!room) return;
    const version = this.version + (this.pending.length ? 1 : 0);
    const text = { room_id: room, version, content: this.model.getValue(), language: this.model.getLanguageId() };
    try {
      sessionStorage.setItem(TEXT_KEY, JSON.stringify(text));
    } catch {
      sessionStorage.removeItem(TEXT_KEY); // too big for storage: a reload takes the server's text
    }
  }
}

async function copyLink() {
  const input = ui.$('share-link');
  const button = ui.$('copy-link');
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select(); // no clipboard access: leave it selected for Ctrl+C
    button.textContent = 'Press Ctrl+C';
    return;
  }
  button.textContent = 'Copied';
  setTimeout(() => (button.textContent = 'Copy link'), 2000);
}

function readJson(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? 'null');
  } catch {
    return null;
  }
}
