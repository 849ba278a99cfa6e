// One page, three roles: no hash means writer; #<room_id> means viewer (the tutorial's link);
// a recording (an export file opened with the picker or dropped on the page) replays on its own.

import './style.css';
import { monaco } from './monaco.js';
import { loadConfig } from './config.js';
import { ui } from './ui.js';
import { startWriter } from './writer.js';
import { startViewer } from './viewer.js';
import { startRecording } from './recording.js';
import { parseExport } from './api.js';
import { Replay } from './replay.js';

async function main() {
  const config = await loadConfig();
  const roomId = decodeURIComponent(location.hash.slice(1));
  const role = roomId ? 'viewer' : 'writer';
  ui.setRole(role);
  const narrow = matchMedia('(max-width: 640px)').matches;
  const editor = monaco.editor.create(document.getElementById('editor'), {
    model: null,
    automaticLayout: true,
    minimap: { enabled: !narrow },
    fontSize: narrow ? 13 : 14,
    wordWrap: narrow ? 'on' : 'off', // a phone shows whole lines rather than a sideways scroll
    lineNumbersMinChars: narrow ? 3 : 5,
    folding: !narrow,
    scrollBeyondLastLine: false,
    ariaLabel: role === 'writer' ? 'Code you are streaming' : 'Code streamed by the writer (read-only)',
  });
  ui.initTheme();
  // A handle for tests and for the curious, e.g. codestream.model.getValue() in the console.
  window.codestream = {
    role,
    config,
    editor,
    get model() {
      return editor.getModel();
    },
    session: role === 'writer' ? startWriter({ config, editor }) : startViewer({ config, editor, roomId }),
    monaco,
  };
  ui.$('export').addEventListener('click', () => window.codestream.session.export());
  acceptRecordings(editor);
  // The role follows the hash: opening another link in this tab starts afresh.
  window.addEventListener('hashchange', () => location.reload());
  document.body.dataset.ready = 'true';
}

// The file picker and drag and drop: either opens an export file as a recording in this page.
function acceptRecordings(editor) {
  const picker = ui.$('recording-file');
  for (const button of document.querySelectorAll('.open-recording')) button.addEventListener('click', () => picker.click());
  picker.addEventListener('change', () => {
    if (picker.files[0]) openRecording(editor, picker.files[0]);
    picker.value = '';
  });
  const zone = ui.$('drop-zone');
  const carriesFiles = (event) => event.dataTransfer?.types?.includes('Files');
  window.addEventListener('dragover', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault(); // Monaco would take the drop as text otherwise
    event.stopPropagation();
    zone.hidden = false;
  }, true);
  window.addEventListener('dragleave', (event) => {
    if (event.relatedTarget === null) zone.hidden = true;
  });
  window.addEventListener('drop', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.stopPropagation();
    zone.hidden = true;
    const file = event.dataTransfer.files[0];
    if (file) openRecording(editor, file);
  }, true);
}

async function openRecording(editor, file) {
  let recording;
  try {
    recording = parseExport(await file.text());
    new Replay().append(recording.entries); // every entry replays, before this page lets go of its stream
  } catch (error) {
    ui.notice(`${file.name} cannot be replayed: ${error.message}.`);
    return;
  }
  const codestream = window.codestream;
  codestream.session.stop();
  codestream.role = 'replay';
  ui.setRole('replay');
  codestream.session = startRecording({ editor, file: recording, name: file.name });
}

main();
