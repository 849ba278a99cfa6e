// The editor's second model: the text as it was at a point of the history (a timeline state),
// with its language and the writer's cursor. The live model keeps following the stream meanwhile.

import { monaco } from './monaco.js';
import { replaceText } from './edits.js';
import { drawWriterCursor } from './cursor.js';
import { ui, languageInfo } from './ui.js';

export class PastModel {
  constructor() {
    this.model = monaco.editor.createModel('', 'plaintext');
    this.cursorIds = [];
    this.language = 'plaintext';
  }

  // Shows `state` ({content, language, cursor, version}); answers where the writer's caret is.
  show(state) {
    setText(this.model, state.content);
    const language = state.language || 'plaintext';
    if (language !== this.language) {
      this.language = language;
      monaco.editor.setModelLanguage(this.model, language);
    }
    ui.$('language-name').textContent = languageInfo(language).name;
    const cursor = state.cursor && state.cursor.version <= state.version ? state.cursor.selections : null;
    const { ids, head } = drawWriterCursor(this.model, this.cursorIds, cursor);
    this.cursorIds = ids;
    return head;
  }
}

// One edit over what changed (common start and end kept), so playing keeps the scroll and the
// colouring of the rest. Monaco turns inserted line ends into the model's, so text with CR in it
// (or a model that ended lines with CRLF) takes the whole-text path, which sets the model's EOL.
function setText(model, content) {
  const current = model.getValue();
  if (current === content) return;
  if (content.includes('\r') || model.getEOL() !== '\n') {
    replaceText(model, content);
    return;
  }
  let start = 0;
  const shortest = Math.min(current.length, content.length);
  while (start < shortest && current.charCodeAt(start) === content.charCodeAt(start)) start += 1;
  let end = 0;
  while (
    end < shortest - start &&
    current.charCodeAt(current.length - 1 - end) === content.charCodeAt(content.length - 1 - end)
  ) {
    end += 1;
  }
  const range = monaco.Range.fromPositions(model.getPositionAt(start), model.getPositionAt(current.length - end));
  model.applyEdits([{ range, text: content.slice(start, content.length - end) }]);
}
