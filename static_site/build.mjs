// Builds the client into dist/: the page, its bundle, Monaco's web workers and the runtime config.
// Everything the page needs is served from dist/, so it works with no CDN and no network.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, rmSync } from 'node:fs';

const here = new URL('.', import.meta.url).pathname;
const out = `${here}dist`;
const monaco = 'monaco-editor'; // its package exports map monaco-editor/X to esm/vs/X.js

// Monaco asks MonacoEnvironment.getWorker for these by label (see src/monaco.js).
const workers = {
  'editor.worker': `${monaco}/editor/editor.worker`,
  'json.worker': `${monaco}/language/json/json.worker`,
  'css.worker': `${monaco}/language/css/css.worker`,
  'html.worker': `${monaco}/language/html/html.worker`,
  'ts.worker': `${monaco}/language/typescript/ts.worker`,
};

const common = {
  bundle: true,
  minify: true,
  sourcemap: false,
  target: 'es2022',
  logLevel: 'warning',
  legalComments: 'none',
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: { app: `${here}src/main.js` },
    outdir: `${out}/assets`,
    format: 'esm',
    splitting: true, // Monaco's language grammars load on demand as separate chunks
    chunkNames: 'chunks/[name]-[hash]',
    assetNames: '[name]-[hash]',
    loader: { '.ttf': 'file' },
  }),
  esbuild.build({
    ...common,
    entryPoints: workers,
    outdir: `${out}/assets/workers`,
    format: 'esm',
  }),
]);

// The page last: a build that failed leaves no dist/index.html, so make tries again.
cpSync(`${here}public`, out, { recursive: true });
cpSync(`${here}index.html`, `${out}/index.html`);
cpSync(`${here}staticwebapp.config.json`, `${out}/staticwebapp.config.json`);
