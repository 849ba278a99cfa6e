// Stream messages <-> Monaco models. Offsets are UTF-16 code units, as in JavaScript strings.

import { monaco } from './monaco.js';

export class EditError extends Error {}

// The part of a Monaco change event that goes on the wire: the offsets any client can apply,
// and `range` for viewers written against the tutorial.
export function wireEvent(event) {
  return {
    changes: event.changes.map((c) => ({
      range: c.range,
      rangeOffset: c.rangeOffset,
      rangeLength: c.rangeLength,
      text: c.text,
    })),
    eol: event.eol,
  };
}

// Applies a delta's events in order; each event's changes are one applyEdits batch, which
// Monaco treats as simultaneous edits on the text as it was before that event.
// applyEdits leaves the undo stack alone, so nothing the viewer does can undo the stream.
export function applyDelta(model, delta) {
  if (!Array.isArray(delta.changes)) throw new EditError('delta without changes');
  for (const event of delta.changes) applyEvent(model, event);
}

function applyEvent(model, event) {
  if (!event || !Array.isArray(event.changes)) throw new EditError('change event without changes');
  setEol(model, event.eol);
  const length = model.getValueLength();
  const edits = event.changes.map((change) => {
    const { rangeOffset: offset, rangeLength: count, text } = change;
    if (!Number.isInteger(offset) || !Number.isInteger(count) || typeof text !== 'string') {
      throw new EditError('change without rangeOffset, rangeLength and text');
    }
    if (offset < 0 || count < 0 || offset + count > length) throw new EditError('change outside the text');
    const start = model.getPositionAt(offset);
    const end = model.getPositionAt(offset + count);
    return { range: monaco.Range.fromPositions(start, end), text };
  });
  model.applyEdits(edits);
}

// A change event says which line ending the writer's model uses; inserted text is normalised
// to the model's, so both models must agree for the offsets to mean the same.
export function setEol(model, eol) {
  if (eol !== '\n' && eol !== '\r\n') return;
  if (model.getEOL() === eol) return;
  model.setEOL(eol === '\r\n' ? monaco.editor.EndOfLineSequence.CRLF : monaco.editor.EndOfLineSequence.LF);
}

// Replaces the whole text without touching undo or the scroll position more than needed.
export function replaceText(model, content) {
  if (model.getValue() === content) return;
  if (content.includes('\r\n')) setEol(model, '\r\n');
  else if (content.includes('\n')) setEol(model, '\n');
  model.applyEdits([{ range: model.getFullModelRange(), text: content }]);
}

// Wire selections ({anchor, head} offsets) <-> Monaco selections.
export function toWireSelections(model, selections) {
  return selections.map((s) => ({
    anchor: model.getOffsetAt(s.getSelectionStart()), // where the selection began
    head: model.getOffsetAt(s.getPosition()),
  }));
}

export function toRanges(model, selections) {
  const length = model.getValueLength();
  const clamp = (n) => Math.max(0, Math.min(length, Number.isInteger(n) ? n : 0));
  return selections.map(({ anchor, head }) => ({
    anchor: model.getPositionAt(clamp(anchor)),
    head: model.getPositionAt(clamp(head)),
  }));
}
