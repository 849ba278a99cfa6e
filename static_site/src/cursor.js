// The writer's selections drawn in a model: a highlighted range and a caret at each head.

import { monaco } from './monaco.js';
import { toRanges } from './edits.js';

const NEVER_GROWS = monaco.editor.TrackedRangeStickiness.NeverGrowsWhenTypingAtEdges;

// Replaces the decorations `ids` of `model` with `selections` ([] or null: none); answers the
// new ids and the last head (where to scroll to follow the writer).
export function drawWriterCursor(model, ids, selections) {
  const decorations = [];
  const ranges = Array.isArray(selections) ? toRanges(model, selections) : [];
  for (const { anchor, head } of ranges) {
    const range = monaco.Range.fromPositions(anchor, head);
    if (!range.isEmpty()) decorations.push({ range, options: { className: 'writer-selection', stickiness: NEVER_GROWS } });
    decorations.push({
      range: monaco.Range.fromPositions(head, head),
      options: { beforeContentClassName: 'writer-cursor', stickiness: NEVER_GROWS, hoverMessage: { value: 'the writer' } },
    });
  }
  return { ids: model.deltaDecorations(ids, decorations), head: ranges.at(-1)?.head ?? null };
}
