// Runs message sequences (JSON on stdin) through the client's VersionTracker; prints what happened.
import { readFileSync } from 'node:fs';
import { VersionTracker } from '../../static_site/src/versions.js';

const REFUSED = 'd3'; // as in test_versions_mirror.py

const cases = JSON.parse(readFileSync(0, 'utf8'));
const results = cases.map(({ ops, refuse }) => {
  const tracker = new VersionTracker();
  const applied = [];
  const apply = (delta) => {
    if (refuse && delta === REFUSED) throw new Error(delta);
    applied.push(delta);
  };
  const outcomes = ops.map(([kind, number, now, hint]) => {
    try {
      return kind === 'full' ? tracker.onFull(number, apply, hint) : tracker.onDelta(number, `d${number}`, apply, now);
    } catch {
      tracker.reset();
      return 'refused';
    }
  });
  return {
    outcomes,
    applied,
    version: tracker.version,
    numbering: tracker.numbering,
    held: [...tracker.held.keys()].sort((a, b) => a - b),
    gap_since: tracker.gapSince,
  };
});
process.stdout.write(JSON.stringify(results));
