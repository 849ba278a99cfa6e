// A stream's history replayed: the text (and language, and the writer's last cursor) after any
// number of its entries, from the canonical messages of shared/history.py. Pure: no Monaco, no DOM.
// The rules are shared/history.text_at's (tests/mirror holds the two against each other);
// in-memory checkpoints keep a seek anywhere in a long stream to one checkpoint plus a few entries.

export class ReplayError extends Error {}

const TEXT_TYPES = new Set(['delta', 'full']);
const KNOWN_TYPES = new Set(['delta', 'full', 'cursor', 'language', 'marker']);

// The whole text: a checkpoint every this many text entries, or this much changed text, or this
// much text moved (deltas times the text's length), as shared/history.CheckpointPolicy does.
// `pieceUnits`: the size of the pieces a text being edited is kept in (see Text).
export const CHECKPOINTS = Object.freeze({
  everyDeltas: 200,
  everyUnits: 64 * 1024,
  everyWork: 32 * 1024 * 1024,
  pieceUnits: 4096,
});

// A text as pieces, so an edit in a long text copies one piece, not the whole text (a JS string
// edited by slicing is copied whole at the next edit).
class Text {
  constructor(content = '', pieceUnits = CHECKPOINTS.pieceUnits) {
    this.size = pieceUnits;
    this.pieces = cut(content, pieceUnits);
    this.length = content.length;
  }

  toString() {
    return this.pieces.join('');
  }

  // One change event: offsets refer to the text before it, so apply from the end backwards.
  // Checked whole before any change is made, so a refused event changes nothing.
  applyEvent(changes) {
    if (!Array.isArray(changes)) throw new ReplayError('a change event without changes');
    const ordered = [...changes].sort((a, b) => b.rangeOffset - a.rangeOffset);
    let limit = this.length;
    for (const { rangeOffset: offset, rangeLength: count, text } of ordered) {
      if (!Number.isInteger(offset) || !Number.isInteger(count) || typeof text !== 'string') {
        throw new ReplayError('a change without rangeOffset, rangeLength and text');
      }
      if (offset < 0 || count < 0) throw new ReplayError(`change at ${offset}+${count} is before the start`);
      if (offset + count > limit) {
        throw new ReplayError(limit === this.length ? `change at ${offset}+${count} is past the end` : 'changes overlap');
      }
      limit = offset;
    }
    for (const { rangeOffset, rangeLength, text } of ordered) this.splice(rangeOffset, rangeLength, text);
  }

  splice(offset, count, text) {
    const pieces = this.pieces;
    let first = 0;
    let start = 0; // where pieces[first] starts
    while (first < pieces.length - 1 && start + pieces[first].length < offset) start += pieces[first++].length;
    let last = first;
    let lastStart = start;
    while (last < pieces.length - 1 && lastStart + pieces[last].length < offset + count) {
      lastStart += pieces[last++].length;
    }
    const before = (pieces[first] ?? '').slice(0, offset - start);
    let after = (pieces[last] ?? '').slice(offset + count - lastStart);
    if (before.length + text.length + after.length < this.size / 2 && last + 1 < pieces.length) {
      after += pieces[++last]; // a small piece joins the next one, so pieces do not crumble
    }
    pieces.splice(first, last - first + 1, ...cut(before + text + after, this.size));
    this.length += text.length - count;
  }
}

function cut(content, size) {
  const pieces = [];
  for (let i = 0; i < content.length; i += size) pieces.push(content.slice(i, i + size));
  return pieces;
}

// One change event applied to a string (the rules of shared/document.Document.apply).
export function applyEvent(content, changes) {
  const text = new Text(content);
  text.applyEvent(changes);
  return text.toString();
}

// Whether `entry` is a history entry this code can replay ({version, at, message}).
export function checkEntry(entry, lastVersion) {
  const { version, at, message } = entry ?? {};
  if (!Number.isInteger(version) || version < 0) throw new ReplayError(`bad version ${version}`);
  if (typeof at !== 'number' || !Number.isFinite(at)) throw new ReplayError(`bad time ${at}`);
  if (version < lastVersion) throw new ReplayError(`history only goes forward: ${version} after ${lastVersion}`);
  if (typeof message !== 'object' || message === null || !KNOWN_TYPES.has(message.type)) {
    throw new ReplayError(`not a stream message: ${JSON.stringify(message)?.slice(0, 80)}`);
  }
}

// Where replaying stands: after `index` entries. `text` is edited in place as it goes on.
class Place {
  constructor({ index = 0, version = 0, at = 0, content = '', language = null, cursor = null } = {}, pieceUnits) {
    Object.assign(this, { index, version, at, language, cursor, pieceUnits });
    this.text = new Text(content, pieceUnits);
  }

  // The state after one more entry.
  step(entry) {
    const { message } = entry;
    if (message.type === 'delta') {
      if (!Array.isArray(message.changes)) throw new ReplayError('a delta without changes');
      try {
        for (const event of message.changes) this.text.applyEvent(event?.changes);
      } catch (error) {
        throw new ReplayError(`history entry at version ${entry.version} does not apply: ${error.message}`);
      }
      this.cursor = typingCursor(entry.version, message.changes.at(-1).changes);
    } else if (message.type === 'full') {
      if (typeof message.content !== 'string') throw new ReplayError('a full without content');
      this.text = new Text(message.content, this.pieceUnits);
      if (message.language !== undefined) this.language = message.language;
    } else if (message.type === 'language') {
      this.language = message.language;
    } else if (message.type === 'cursor') {
      this.cursor = message;
    }
    if (TEXT_TYPES.has(message.type)) {
      this.version = entry.version;
      this.at = entry.at;
    }
    this.index += 1;
  }

  // What callers get: {index, version, at, content, language, cursor}, a plain object.
  state() {
    const { index, version, at, language, cursor } = this;
    return { index, version, at, content: this.text.toString(), language, cursor };
  }
}

export class Replay {
  constructor(policy = {}) {
    this.policy = { ...CHECKPOINTS, ...policy };
    this.entries = [];
    this.checkpoints = [new Place().state()]; // each the state before entries[index]
    this.head = this.newPlace(); // after every entry
    this.headState = null; // head.state(), until the next append
    this.since = { deltas: 0, units: 0 }; // since the last checkpoint
    this.last = null; // a Place other than the head: seeking forward continues from it
  }

  get length() {
    return this.entries.length;
  }

  get lastVersion() {
    return this.entries.length ? this.entries[this.entries.length - 1].version : 0;
  }

  // Add entries at the end (in order); ReplayError, and nothing added, when one does not replay.
  append(entries) {
    const before = { length: this.entries.length, checkpoints: this.checkpoints.length, since: { ...this.since } };
    let lastVersion = this.lastVersion;
    this.headState = null;
    try {
      for (const entry of entries) {
        checkEntry(entry, lastVersion);
        lastVersion = entry.version;
        this.head.step(entry);
        this.entries.push(entry);
        if (TEXT_TYPES.has(entry.message.type)) this.count(entry.message);
      }
    } catch (error) {
      this.entries.length = before.length;
      this.checkpoints.length = before.checkpoints;
      this.since = before.since;
      this.head = this.place(before.length);
      throw error;
    }
  }

  count(message) {
    const since = this.since;
    since.deltas += message.type === 'delta' ? 1 : 0;
    since.units += changeUnits(message);
    const { everyDeltas, everyUnits, everyWork } = this.policy;
    if (since.deltas >= everyDeltas || since.units >= everyUnits || since.deltas * this.head.text.length >= everyWork) {
      this.checkpoints.push(this.head.state());
      since.deltas = since.units = 0;
    }
  }

  // The state after the first `index` entries: {index, version, at, content, language, cursor}.
  // `version` and `at` are those of the last text entry; `cursor` the last cursor message, or
  // where the last delta left the carets when it came later (typingCursor).
  stateAt(index) {
    index = Math.max(0, Math.min(this.entries.length, index));
    if (index === this.entries.length) return (this.headState ??= this.head.state());
    this.last = this.place(index);
    return this.last.state();
  }

  // A Place after `index` entries: from the nearest checkpoint, or from the last one asked for.
  place(index) {
    const checkpoint = this.checkpoints[lastAtOrBefore(this.checkpoints, index, (c) => c.index)];
    const last = this.last;
    const place = last && last.index <= index && last.index >= checkpoint.index ? last : this.newPlace(checkpoint);
    while (place.index < index) place.step(this.entries[place.index]);
    return place;
  }

  newPlace(state = {}) {
    return new Place(state, this.policy.pieceUnits);
  }

  // shared/history.text_at: the text at `version` (null: the latest), {version, at, content, language}.
  textAt(version = null) {
    const state = this.stateAt(version === null ? this.entries.length : this.countUpTo(version));
    return { version: state.version, at: state.at, content: state.content, language: state.language };
  }

  // How many entries have a version at most `version` (versions never decrease).
  countUpTo(version) {
    return lastAtOrBefore(this.entries, version, (e) => e.version) + (this.entries[0]?.version <= version ? 1 : 0);
  }
}

// Where the writer's carets are after typing a change event: after each change's new text. The
// history keeps few cursors while the writer types (shared/history.Sampler), as the cursor
// follows the text; this puts it there, until the next cursor entry says otherwise.
export function typingCursor(version, changes) {
  let shift = 0; // what the changes before this one (lower offsets) added
  const selections = [...changes]
    .sort((a, b) => a.rangeOffset - b.rangeOffset)
    .map((change) => {
      const head = change.rangeOffset + shift + change.text.length;
      shift += change.text.length - change.rangeLength;
      return { anchor: head, head };
    });
  return { type: 'cursor', version, selections };
}

function changeUnits(message) {
  if (message.type === 'full') return message.content.length;
  let units = 0;
  for (const event of message.changes) for (const c of event.changes) units += c.rangeLength + c.text.length;
  return units;
}

// The index of the last item whose key is at most `value` (0 when none is: callers check).
function lastAtOrBefore(items, value, key) {
  let low = 0;
  let high = items.length - 1;
  let found = 0;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (key(items[middle]) <= value) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}
