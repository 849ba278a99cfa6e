// One page, two roles: no hash means writer; #<room_id> means viewer (the tutorial's link).

import './style.css';
import { monaco } from './monaco.js';
import { loadConfig } from './config.js';
import { ui } from './ui.js';
import { startWriter } from './writer.js';
import { startViewer } from './viewer.js';

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
  const session = role === 'writer' ? startWriter({ config, editor }) : startViewer({ config, editor, roomId });
  // The role follows the hash: opening another link in this tab starts afresh.
  window.addEventListener('hashchange', () => location.reload());
  // A handle for tests and for the curious, e.g. codestream.model.getValue() in the console.
  window.codestream = {
    role,
    config,
    editor,
    get model() {
      return editor.getModel();
    },
    session,
    monaco,
  };
  document.body.dataset.ready = 'true';
}

main();
