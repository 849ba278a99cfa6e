// A stream's history replayed: the text (and language, and the writer's last cursor) after any
// number of its entries, from the canonical messages of shared/history.py. Pure: no Monaco, no DOM.
// The rules are shared/history.text_at's (tests/mirror holds the two against each other);
// in-memory checkpoints keep a seek anywhere in a long stream to one checkpoint plus a few entries.

export class ReplayError extends Error {}

const TEXT_TYPES = new Set(['delta', 'full']);
const KNOWN_TYPES = new Set(['delta', 'full', 'cursor', 'language', 'marker']);

// The whole text: a checkpoint every this many text entries, or this much changed text, or this
// much text moved (deltas times the text's length), as shared/history.CheckpointPolicy does.
export const CHECKPOINTS = Object.freeze({ everyDeltas: 200, everyUnits: 64 * 1024, everyWork: 32 * 1024 * 1024 });

const START = Object.freeze({ index: 0, version: 0, at: 0, content: '', language: null, cursor: null });

// One change event: offsets refer to the text before the event, so apply from the end backwards.
export function applyEvent(text, changes) {
  if (!Array.isArray(changes)) throw new ReplayError('a change event without changes');
  const ordered = [...changes].sort((a, b) => b.rangeOffset - a.rangeOffset);
  let limit = text.length;
  for (const { rangeOffset: offset, rangeLength: count, text: inserted } of ordered) {
    if (!Number.isInteger(offset) || !Number.isInteger(count) || typeof inserted !== 'string') {
      throw new ReplayError('a change without rangeOffset, rangeLength and text');
    }
    if (offset < 0 || count < 0) throw new ReplayError(`change at ${offset}+${count} is before the start`);
    if (offset + count > limit) {
      throw new ReplayError(limit === text.length ? `change at ${offset}+${count} is past the end` : 'changes overlap');
    }
    text = text.slice(0, offset) + inserted + text.slice(offset + count);
    limit = offset;
  }
  return text;
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

export class Replay {
  constructor(policy = {}) {
    this.policy = { ...CHECKPOINTS, ...policy };
    this.entries = [];
    this.checkpoints = [START]; // each the state before entries[index]
    this.head = { ...START }; // the state after every entry
    this.since = { deltas: 0, units: 0 }; // since the last checkpoint
    this.last = START; // the last state asked for: playing forward continues from it
  }

  get length() {
    return this.entries.length;
  }

  get lastVersion() {
    return this.entries.length ? this.entries[this.entries.length - 1].version : 0;
  }

  // Add entries at the end (in order); ReplayError, and nothing added, when one does not replay.
  append(entries) {
    let head = this.head;
    const since = { ...this.since };
    const checkpoints = [];
    let lastVersion = this.lastVersion;
    entries.forEach((entry, i) => {
      checkEntry(entry, lastVersion);
      lastVersion = entry.version;
      head = step(head, entry);
      head.index = this.entries.length + i + 1;
      if (!TEXT_TYPES.has(entry.message.type)) return;
      since.deltas += entry.message.type === 'delta' ? 1 : 0;
      since.units += changeUnits(entry.message);
      const { everyDeltas, everyUnits, everyWork } = this.policy;
      if (since.deltas >= everyDeltas || since.units >= everyUnits || since.deltas * head.content.length >= everyWork) {
        head.content = flat(head.content);
        checkpoints.push({ ...head });
        since.deltas = since.units = 0;
      }
    });
    this.entries.push(...entries);
    this.checkpoints.push(...checkpoints);
    this.head = head;
    this.since = since;
  }

  // The state after the first `index` entries: {index, version, at, content, language, cursor}.
  // `version` and `at` are those of the last text entry; `cursor` the last cursor message.
  stateAt(index) {
    index = Math.max(0, Math.min(this.entries.length, index));
    if (index === this.entries.length) return this.remember(this.head);
    const checkpoint = this.checkpoints[lastAtOrBefore(this.checkpoints, index, (c) => c.index)];
    let state = this.last.index <= index && this.last.index >= checkpoint.index ? this.last : checkpoint;
    if (state.index === index) return state;
    state = { ...state };
    for (let i = state.index; i < index; i += 1) state = step(state, this.entries[i]);
    state.index = index;
    return this.remember(state);
  }

  // shared/history.text_at: the text at `version` (null: the latest), {version, at, content, language}.
  textAt(version = null) {
    const state = version === null ? this.head : this.stateAt(this.countUpTo(version));
    return { version: state.version, at: state.at, content: state.content, language: state.language };
  }

  // How many entries have a version at most `version` (versions never decrease).
  countUpTo(version) {
    return lastAtOrBefore(this.entries, version, (e) => e.version) + (this.entries[0]?.version <= version ? 1 : 0);
  }

  remember(state) {
    this.last = state;
    return state;
  }
}

// The state after one more entry (a new object; `state` is left as it was).
function step(state, entry) {
  const { message } = entry;
  const next = { ...state };
  if (message.type === 'delta') {
    if (!Array.isArray(message.changes)) throw new ReplayError('a delta without changes');
    let text = state.content;
    try {
      for (const event of message.changes) text = applyEvent(text, event?.changes);
    } catch (error) {
      throw new ReplayError(`history entry at version ${entry.version} does not apply: ${error.message}`);
    }
    next.content = text;
  } else if (message.type === 'full') {
    if (typeof message.content !== 'string') throw new ReplayError('a full without content');
    next.content = message.content;
    if (message.language !== undefined) next.language = message.language;
  } else if (message.type === 'language') {
    next.language = message.language;
  } else if (message.type === 'cursor') {
    next.cursor = message;
  }
  if (TEXT_TYPES.has(message.type)) {
    next.version = entry.version;
    next.at = entry.at;
  }
  return next;
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

// V8 keeps a string built by slicing and concatenation as a tree; a checkpoint is read many
// times, so make it one flat string once.
function flat(text) {
  if (text.length) Number(text.charCodeAt(0)); // reading a character flattens the string
  return text;
}
