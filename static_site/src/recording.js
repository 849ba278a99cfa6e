// A stream replayed from an export file, with no server: the timeline over the file's entries.

import { PastModel } from './pastmodel.js';
import { Timeline } from './timeline.js';
import { readOnly } from './viewer.js';
import { download } from './api.js';
import { ui } from './ui.js';

export function startRecording({ editor, file, name }) {
  readOnly(editor);
  return new Recording(editor, file, name);
}

class Recording {
  constructor(editor, file, name) {
    Object.assign(this, { editor, file, name });
    this.past = new PastModel();
    editor.setModel(this.past.model);
    this.follow = ui.$('follow');
    this.abort = new AbortController();
    this.timeline = new Timeline(this, { live: false, signal: this.abort.signal });
    this.timeline.append(file.entries);
    this.timeline.end();
    ui.setStatus('replay');
    ui.setViewers(0);
    ui.notice('');
  }

  liveVersion() {
    return null;
  }

  showPast(state) {
    const head = this.past.show(state);
    if (this.follow.checked && head) this.editor.revealPositionInCenterIfOutsideViewport(head);
  }

  showLive() {}

  export() {
    download(this.name, new Blob([JSON.stringify(this.file)], { type: 'application/json' }));
  }

  stop() {
    this.abort.abort();
    this.timeline.pause();
  }
}
