// Replays histories (JSON cases on stdin) with the client's Replay; prints the text at each asked version.
import { readFileSync } from 'node:fs';
import { Replay } from '../../static_site/src/replay.js';

const cases = JSON.parse(readFileSync(0, 'utf8'));
const results = cases.map(({ entries, chunks, policy, versions }) => {
  const replay = new Replay(policy);
  let start = 0;
  for (const size of chunks) {
    replay.append(entries.slice(start, start + size));
    start += size;
  }
  return {
    texts: versions.map((version) => replay.textAt(version)),
    cursors: versions.map((version) => replay.stateAt(replay.countUpTo(version ?? Infinity)).cursor),
    checkpoints: replay.checkpoints.length,
  };
});
process.stdout.write(JSON.stringify(results));
