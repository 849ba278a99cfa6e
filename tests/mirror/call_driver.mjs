// Calls functions of one browser module for a Python test: `node call_driver.mjs MODULE` reads
// [[name, [args...]], ...] as JSON on stdin and prints the results as a JSON array.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const module = await import(pathToFileURL(resolve(process.argv[2])).href);
const calls = JSON.parse(readFileSync(0, 'utf8'));
const results = calls.map(([name, args]) => {
  if (typeof module[name] !== 'function') throw new Error(`${process.argv[2]} exports no function ${name}`);
  const value = module[name](...args);
  return value === undefined ? null : value;
});
process.stdout.write(JSON.stringify(results));
