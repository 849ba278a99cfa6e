// The writer's stream bar: how long the stream lives, markers for viewers, ending and deleting it.

import { LIFETIMES, MAX_MARKER_LABEL } from './protocol.js';
import { ApiError, deleteStream, endStream } from './api.js';
import { ui } from './ui.js';

const LIFETIME_KEY = 'codestream.lifetime'; // the writer's last choice, for the next stream
const DEFAULT_LIFETIME = 86400;
const LIFETIME_NAMES = { 3600: '1 hour', 86400: '1 day', 604800: '7 days', 2592000: '30 days' };

export class StreamControls {
  constructor(writer, apiBase) {
    this.writer = writer;
    this.apiBase = apiBase;
    this.expiresAt = null;
    this.$ = {
      lifetime: ui.$('lifetime'),
      expires: ui.$('expires'),
      add: ui.$('add-marker'),
      form: ui.$('marker-form'),
      label: ui.$('marker-label'),
      cancel: ui.$('marker-cancel'),
      end: ui.$('end-stream'),
      remove: ui.$('delete-stream'),
    };
    this.$.label.maxLength = MAX_MARKER_LABEL;
    this.offerLifetimes(LIFETIMES);
    this.bind();
  }

  // The lifetime a new stream asks for (negotiate's `lifetime`).
  get lifetime() {
    return Number(this.$.lifetime.value) || DEFAULT_LIFETIME;
  }

  offerLifetimes(allowed) {
    const select = this.$.lifetime;
    const saved = Number(localStorage.getItem(LIFETIME_KEY)) || DEFAULT_LIFETIME;
    const choices = allowed.length ? allowed : LIFETIMES;
    select.replaceChildren(...choices.map((s) => new Option(LIFETIME_NAMES[s] ?? `${s / 3600} hours`, String(s))));
    const fallback = choices.includes(DEFAULT_LIFETIME) ? DEFAULT_LIFETIME : choices.at(-1);
    select.value = String(choices.includes(saved) ? saved : fallback);
  }

  // From the negotiate answer and each ack.
  granted({ limits, expires_at: expiresAt }) {
    if (Array.isArray(limits?.lifetimes)) {
      const choice = this.$.lifetime.value;
      this.offerLifetimes(limits.lifetimes);
      if (limits.lifetimes.includes(Number(choice))) this.$.lifetime.value = choice;
    }
    if (expiresAt) this.expiresAt = expiresAt;
    this.showExpiry();
  }

  showExpiry(note = '') {
    const at = this.expiresAt ? new Date(this.expiresAt * 1000) : null;
    const when = at
      ? at.toLocaleString(undefined, { weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
      : '';
    this.$.expires.textContent = [when && `Expires ${when}`, note].filter(Boolean).join(' · ');
    this.$.expires.title = at ? at.toString() : '';
  }

  bind() {
    const { lifetime, add, form, label, cancel, end, remove } = this.$;
    lifetime.addEventListener('change', () => this.lifetimeChanged());
    add.addEventListener('click', () => this.openMarker());
    cancel.addEventListener('click', () => this.closeMarker());
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.addMarker(label.value);
    });
    label.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.closeMarker();
    });
    // Alt+Shift+M (Option+Shift+M on a Mac), in the editor too: caught before Monaco sees it.
    // Not Ctrl+Shift+M: Chrome (profiles) and Firefox (responsive design) keep that one.
    window.addEventListener(
      'keydown',
      (event) => {
        if (event.altKey && event.shiftKey && !event.ctrlKey && !event.metaKey && event.code === 'KeyM') {
          event.preventDefault();
          event.stopPropagation();
          this.openMarker();
        }
      },
      true,
    );
    end.addEventListener('click', () => this.end());
    remove.addEventListener('click', () => this.remove());
  }

  // A stream nobody has seen anything of yet starts again with the new lifetime; otherwise the
  // choice is for the next stream (a stream's lifetime is fixed when it starts).
  lifetimeChanged() {
    localStorage.setItem(LIFETIME_KEY, String(this.lifetime));
    if (this.writer.isFresh()) {
      this.writer.restart();
      return;
    }
    this.showExpiry(`new streams: ${this.$.lifetime.selectedOptions[0].textContent}`);
  }

  openMarker() {
    if (this.writer.ended) return;
    this.$.form.hidden = false;
    this.$.add.hidden = true;
    this.$.label.focus();
  }

  closeMarker() {
    this.$.form.hidden = true;
    this.$.add.hidden = false;
    this.$.label.value = '';
    this.writer.editor.focus();
  }

  addMarker(raw) {
    const label = cleanLabel(raw);
    if (!label) {
      this.$.label.setCustomValidity('A marker needs a label');
      this.$.label.reportValidity();
      return;
    }
    this.$.label.setCustomValidity('');
    if (!this.writer.mark(label)) {
      ui.notice('Not connected: the marker was not added. Try again once the stream is live.');
      return;
    }
    this.closeMarker();
    this.$.add.textContent = 'Marker added';
    setTimeout(() => (this.$.add.textContent = 'Add marker'), 1500);
  }

  async end() {
    const grant = this.writer.link.grant;
    if (!grant || !confirm('End this stream? Viewers keep the replay, but nobody can write to it again.')) return;
    try {
      const answer = await endStream(this.apiBase, grant.room_id, grant.writer_key);
      this.writer.streamEnded(answer.ended_at);
    } catch (error) {
      ui.notice(`The stream did not end: ${describe(error)}`);
    }
  }

  async remove() {
    const grant = this.writer.link.grant;
    if (!grant) return;
    if (!confirm('Delete this stream? Its text and its whole history are deleted for everyone, now.')) return;
    try {
      await deleteStream(this.apiBase, grant.room_id, grant.writer_key);
      this.writer.deleted();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.writer.deleted(); // already gone
      else ui.notice(`The stream was not deleted: ${describe(error)}`);
    }
  }

  // The stream ended (or is gone): nothing more to mark or end.
  disable({ deleted }) {
    this.closeMarker();
    this.$.add.disabled = true;
    this.$.end.disabled = true;
    this.$.lifetime.disabled = true;
    this.$.remove.disabled = deleted;
    this.$.end.textContent = 'Ended';
    if (deleted) {
      this.expiresAt = null;
      this.showExpiry('Deleted');
    }
  }

  enable() {
    for (const name of ['add', 'end', 'lifetime', 'remove']) this.$[name].disabled = false;
    this.$.end.textContent = 'End stream';
  }
}

// Trimmed, control characters out, at most MAX_MARKER_LABEL characters (code points, as the server counts).
export function cleanLabel(raw) {
  const spaced = String(raw).replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return Array.from(spaced).slice(0, MAX_MARKER_LABEL).join('').trim();
}

function describe(error) {
  if (error instanceof ApiError) return error.message || error.code;
  return String(error);
}
