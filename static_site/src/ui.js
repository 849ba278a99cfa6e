// The page around the editor: status, viewer count, theme, notices.

import { monaco } from './monaco.js';

const $ = (id) => document.getElementById(id);

const STATUS_TEXT = {
  connecting: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
  offline: 'offline',
  waiting: 'waiting for the writer',
  refused: 'refused',
  superseded: 'opened elsewhere',
  'writer offline': 'writer offline',
  ended: 'ended',
  deleted: 'deleted',
  replay: 'replay',
};

export const ui = {
  $,

  setRole(role) {
    document.body.dataset.role = role;
    $('role').textContent = { writer: 'Writer', viewer: 'Viewer', replay: 'Recording' }[role] ?? role;
  },

  setStatus(status) {
    const element = $('status');
    element.dataset.state = status;
    element.textContent = STATUS_TEXT[status] ?? status;
  },

  setViewers(count) {
    $('viewers').textContent = `${count} ${count === 1 ? 'viewer' : 'viewers'}`;
  },

  notice(text) {
    const element = $('notice');
    element.textContent = text;
    element.hidden = !text;
  },

  // Light or dark, remembered across visits; the first visit follows the system's preference.
  initTheme() {
    const saved = localStorage.getItem('codestream.theme');
    const dark = saved ? saved === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
    applyTheme(dark);
    $('theme').addEventListener('click', () => {
      const next = document.body.dataset.theme !== 'dark';
      localStorage.setItem('codestream.theme', next ? 'dark' : 'light');
      applyTheme(next);
    });
  },
};

function applyTheme(dark) {
  document.body.dataset.theme = dark ? 'dark' : 'light';
  monaco.editor.setTheme(dark ? 'vs-dark' : 'vs');
  const button = $('theme');
  button.setAttribute('aria-pressed', String(dark));
  button.textContent = dark ? 'Light theme' : 'Dark theme';
}

// Monaco's languages, by display name, for the picker and for file names.
export function languages() {
  return monaco.languages
    .getLanguages()
    .map((l) => ({ id: l.id, name: l.aliases?.[0] ?? l.id, extension: l.extensions?.[0] ?? '.txt' }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function languageInfo(id) {
  return languages().find((l) => l.id === id) ?? { id, name: id, extension: '.txt' };
}
