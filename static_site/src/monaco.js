// Monaco with every built-in language, its web workers served from this site (no CDN, no blob:).
import * as monaco from 'monaco-editor/editor/editor.main';

const WORKERS = {
  json: 'json',
  css: 'css',
  scss: 'css',
  less: 'css',
  html: 'html',
  handlebars: 'html',
  razor: 'html',
  typescript: 'ts',
  javascript: 'ts',
};

self.MonacoEnvironment = {
  getWorker(_moduleId, label) {
    const name = WORKERS[label] ?? 'editor';
    return new Worker(`/assets/workers/${name}.worker.js`, { type: 'module', name: label });
  },
};

export { monaco };
