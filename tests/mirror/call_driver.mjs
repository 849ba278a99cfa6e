// Calls a module's exports for a mirror test: node call_driver.mjs MODULE_PATH < calls.
// Each stdin line is [name] (read the export) or [name, [args...]] (call it with those args);
// each stdout line is {"value": ...} or {"error": {"name": ..., "message": ...}}, in order.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const module = await import(pathToFileURL(resolve(process.argv[2])).href);

function run([name, args]) {
  if (!(name in module)) return { error: { name: 'LookupError', message: `no export named ${name}` } };
  if (args === undefined) return { value: module[name] ?? null };
  try {
    return { value: module[name](...args) ?? null };
  } catch (error) {
    return { error: { name: error.name, message: error.message } };
  }
}

const lines = readFileSync(0, 'utf8').split('\n').filter((line) => line.trim());
process.stdout.write(lines.map((line) => JSON.stringify(run(JSON.parse(line))) + '\n').join(''));
